<?php
/**
 * The shared shell of the observers: one outbox INSERT, never an exception.
 *
 * A *_save_commit_after observer runs after the shop's transaction has committed, so a
 * failure here cannot undo the order; it is logged, and kfsync's catch-up poll finds the
 * change anyway. No HTTP call is made here: the consumer sends.
 */
declare(strict_types=1);

namespace Kfsync\Connector\Observer;

use Kfsync\Connector\Core\EventFactory;
use Kfsync\Connector\Core\OutboxEvent;
use Kfsync\Connector\Model\Config;
use Kfsync\Connector\Model\Outbox;
use Magento\Framework\Event\Observer;
use Magento\Framework\Event\ObserverInterface;
use Psr\Log\LoggerInterface;

abstract class AbstractRecorder implements ObserverInterface
{
    private EventFactory $factory;

    public function __construct(
        private readonly Outbox $outbox,
        private readonly Config $config,
        private readonly LoggerInterface $logger
    ) {
        $this->factory = new EventFactory();
    }

    public function execute(Observer $observer): void
    {
        if (!$this->config->isEnabled()) {
            return;
        }
        try {
            $event = $this->record($observer->getEvent()->getData('data_object'), $this->factory);
            if ($event !== null) {
                $this->outbox->add($event);
            }
        } catch (\Throwable $e) {
            $this->logger->warning('kfsync: change not recorded (the catch-up poll will find it): '
                . $e->getMessage());
        }
    }

    /** The outbox event for this saved entity, or null when it is not one kfsync syncs. */
    abstract protected function record(mixed $entity, EventFactory $factory): ?OutboxEvent;
}
