<?php
declare(strict_types=1);

namespace Kfsync\Connector\Core;

/** The durable outbox (a table in Magento's database; an array in tests). */
interface OutboxStore
{
    public function add(OutboxEvent $event): void;

    /** @return list<OutboxRow> pending rows with next_attempt_at <= $now, oldest first */
    public function due(int $now, int $limit): array;

    /**
     * Take a row for one attempt: moves its next_attempt_at to $leaseUntil only if it is still
     * $row->nextAttemptAt, so two consumers never send the same row at once.
     */
    public function claim(OutboxRow $row, int $leaseUntil): bool;

    public function delivered(int $id, int $now, int $status): void;

    public function retry(int $id, int $attempts, int $nextAttemptAt, string $error): void;

    public function dead(int $id, int $attempts, string $error): void;
}
