<?php
declare(strict_types=1);

namespace Kfsync\Connector\Observer;

use Kfsync\Connector\Core\EventFactory;
use Kfsync\Connector\Core\OutboxEvent;
use Magento\Sales\Model\Order;

/** sales_order_save_commit_after: order.created for a new order, order.updated otherwise. */
class RecordOrder extends AbstractRecorder
{
    protected function record(mixed $entity, EventFactory $factory): ?OutboxEvent
    {
        if (!$entity instanceof Order || !$entity->getId()) {
            return null;
        }
        return $factory->order((int) $entity->getId(), (string) $entity->getIncrementId(),
            (int) $entity->getStoreId(), $entity->getUpdatedAt(),
            empty($entity->getOrigData('entity_id')));
    }
}
