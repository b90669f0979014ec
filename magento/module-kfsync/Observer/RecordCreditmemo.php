<?php
declare(strict_types=1);

namespace Kfsync\Connector\Observer;

use Kfsync\Connector\Core\EventFactory;
use Kfsync\Connector\Core\OutboxEvent;
use Magento\Sales\Model\Order\Creditmemo;

/** sales_order_creditmemo_save_commit_after: creditmemo.created (the credit memo is saved). */
class RecordCreditmemo extends AbstractRecorder
{
    protected function record(mixed $entity, EventFactory $factory): ?OutboxEvent
    {
        if (!$entity instanceof Creditmemo || !$entity->getId()) {
            return null;
        }
        return $factory->creditmemo((int) $entity->getId(), (string) $entity->getIncrementId(),
            (int) $entity->getStoreId(), $entity->getUpdatedAt());
    }
}
