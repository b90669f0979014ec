<?php
/**
 * An outbox in memory: for the PHPUnit tests and the cross-language driver (Test/Integration).
 */
declare(strict_types=1);

namespace Kfsync\Connector\Core;

final class MemoryOutbox implements OutboxStore
{
    /** @var array<int, array{event: OutboxEvent, status: string, attempts: int, next: int, error: string}> */
    public array $rows = [];

    public function add(OutboxEvent $event): void
    {
        $this->rows[count($this->rows) + 1] = ['event' => $event, 'status' => 'pending',
            'attempts' => 0, 'next' => $event->occurredAt, 'error' => ''];
    }

    public function due(int $now, int $limit): array
    {
        $due = [];
        foreach ($this->rows as $id => $row) {
            if ($row['status'] === 'pending' && $row['next'] <= $now && count($due) < $limit) {
                $due[] = new OutboxRow($id, $row['event'], $row['attempts'], $row['next']);
            }
        }
        return $due;
    }

    public function claim(OutboxRow $row, int $leaseUntil): bool
    {
        if ($this->rows[$row->id]['next'] !== $row->nextAttemptAt) {
            return false;
        }
        $this->rows[$row->id]['next'] = $leaseUntil;
        return true;
    }

    public function delivered(int $id, int $now, int $status): void
    {
        $this->rows[$id]['status'] = 'delivered';
        $this->rows[$id]['attempts']++;
    }

    public function retry(int $id, int $attempts, int $nextAttemptAt, string $error): void
    {
        $this->rows[$id] = ['status' => 'pending', 'attempts' => $attempts,
            'next' => $nextAttemptAt, 'error' => $error] + $this->rows[$id];
    }

    public function dead(int $id, int $attempts, string $error): void
    {
        $this->rows[$id] = ['status' => 'dead', 'attempts' => $attempts, 'error' => $error]
            + $this->rows[$id];
    }
}
