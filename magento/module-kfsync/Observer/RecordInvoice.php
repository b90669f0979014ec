<?php
declare(strict_types=1);

namespace Kfsync\Connector\Observer;

use Kfsync\Connector\Core\EventFactory;
use Kfsync\Connector\Core\OutboxEvent;
use Magento\Sales\Model\Order\Invoice;

/** sales_order_invoice_save_commit_after: invoice.created, keyed by its order (re-synced). */
class RecordInvoice extends AbstractRecorder
{
    protected function record(mixed $entity, EventFactory $factory): ?OutboxEvent
    {
        if (!$entity instanceof Invoice || !$entity->getOrderId()) {
            return null;
        }
        $order = $entity->getOrder();
        return $factory->invoice((int) $entity->getOrderId(),
            $order ? (string) $order->getIncrementId() : null, (int) $entity->getStoreId(),
            $entity->getUpdatedAt());
    }
}
