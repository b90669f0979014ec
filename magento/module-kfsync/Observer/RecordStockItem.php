<?php
declare(strict_types=1);

namespace Kfsync\Connector\Observer;

use Kfsync\Connector\Core\EventFactory;
use Kfsync\Connector\Core\OutboxEvent;
use Kfsync\Connector\Model\Config;
use Kfsync\Connector\Model\Outbox;
use Magento\Catalog\Model\ResourceModel\Product as ProductResource;
use Magento\CatalogInventory\Model\Stock\Item;
use Psr\Log\LoggerInterface;

/** cataloginventory_stock_item_save_commit_after: stock.updated, keyed by the SKU. */
class RecordStockItem extends AbstractRecorder
{
    public function __construct(
        Outbox $outbox,
        Config $config,
        LoggerInterface $logger,
        private readonly ProductResource $products
    ) {
        parent::__construct($outbox, $config, $logger);
    }

    protected function record(mixed $entity, EventFactory $factory): ?OutboxEvent
    {
        if (!$entity instanceof Item || !$entity->getProductId()) {
            return null;
        }
        $found = $this->products->getProductsSku([(int) $entity->getProductId()]);
        $sku = (string) ($found[0]['sku'] ?? '');
        return $sku === '' ? null : $factory->stock($sku, 0);
    }
}
