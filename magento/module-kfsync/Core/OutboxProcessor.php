<?php
/**
 * The consumer: sends every due outbox row once, and records what happened to it.
 */
declare(strict_types=1);

namespace Kfsync\Connector\Core;

final class OutboxProcessor
{
    public const LEASE_S = 120; // longer than one attempt's timeout; a crashed run's rows return

    /** @var callable():int */
    private $clock;

    public function __construct(
        private readonly OutboxStore $store,
        private readonly Sender $sender,
        private readonly RetrySchedule $schedule,
        ?callable $clock = null
    ) {
        $this->clock = $clock ?? static fn (): int => time();
    }

    /** @return array{delivered: int, retry: int, dead: int} what this run did */
    public function run(Settings $settings, int $limit = 100): array
    {
        $counts = [Delivery::DELIVERED => 0, Delivery::RETRY => 0, Delivery::DEAD => 0];
        if (!$settings->isComplete()) {
            return $counts; // not configured yet: rows wait, nothing is lost
        }
        foreach ($this->store->due(($this->clock)(), $limit) as $row) {
            $now = ($this->clock)();
            if (!$this->store->claim($row, $now + self::LEASE_S)) {
                continue;
            }
            $counts[$this->attempt($settings, $row, $now)]++;
        }
        return $counts;
    }

    private function attempt(Settings $settings, OutboxRow $row, int $now): string
    {
        $delivery = $this->sender->send($settings, $row->event, $now);
        $attempts = $row->attempts + 1;
        $error = sprintf('HTTP %d %s', $delivery->status, $delivery->detail);
        if ($delivery->outcome === Delivery::DELIVERED) {
            $this->store->delivered($row->id, $now, $delivery->status);
            return Delivery::DELIVERED;
        }
        if ($delivery->outcome === Delivery::RETRY) {
            $delay = $this->schedule->delay($attempts, $delivery->retryAfter);
            if (!$this->schedule->exhausted($row->event->occurredAt, $now, $delay)) {
                $this->store->retry($row->id, $attempts, $now + $delay, $error);
                return Delivery::RETRY;
            }
            $error = 'gave up after ' . $attempts . ' attempts; last: ' . $error;
        }
        $this->store->dead($row->id, $attempts, $error);
        return Delivery::DEAD;
    }
}
