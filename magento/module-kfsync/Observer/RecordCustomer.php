<?php
declare(strict_types=1);

namespace Kfsync\Connector\Observer;

use Kfsync\Connector\Core\EventFactory;
use Kfsync\Connector\Core\OutboxEvent;
use Magento\Customer\Model\Customer;

/** customer_save_commit_after: customer.created when just created, else customer.updated. */
class RecordCustomer extends AbstractRecorder
{
    protected function record(mixed $entity, EventFactory $factory): ?OutboxEvent
    {
        if (!$entity instanceof Customer || !$entity->getId()) {
            return null;
        }
        $isNew = empty($entity->getOrigData('entity_id'))
            || $entity->getCreatedAt() === $entity->getUpdatedAt();
        return $factory->customer((int) $entity->getId(), (int) $entity->getStoreId(),
            $entity->getUpdatedAt(), $isNew);
    }
}
