<?php
/**
 * Cron: the consumer of last resort (every minute), and the purge of old delivered rows.
 */
declare(strict_types=1);

namespace Kfsync\Connector\Cron;

use Kfsync\Connector\Core\OutboxProcessor;
use Kfsync\Connector\Core\RetrySchedule;
use Kfsync\Connector\Core\Sender;
use Kfsync\Connector\Core\StreamTransport;
use Kfsync\Connector\Model\Config;
use Kfsync\Connector\Model\Outbox;

class SendOutbox
{
    private const KEEP_DELIVERED_S = 7 * 86400;
    private const PER_RUN = 1000;

    public function __construct(private readonly Config $config, private readonly Outbox $outbox)
    {
    }

    public function execute(): void
    {
        if ($this->config->isEnabled()) {
            (new OutboxProcessor($this->outbox, new Sender(new StreamTransport()), new RetrySchedule()))
                ->run($this->config->settings(), self::PER_RUN);
        }
    }

    public function purge(): void
    {
        $this->outbox->purgeDelivered(time() - self::KEEP_DELIVERED_S);
    }
}
