<?php
/**
 * The outbox table (kfsync_outbox, db_schema.xml) behind the plain OutboxStore interface.
 */
declare(strict_types=1);

namespace Kfsync\Connector\Model;

use Kfsync\Connector\Core\OutboxEvent;
use Kfsync\Connector\Core\OutboxRow;
use Kfsync\Connector\Core\OutboxStore;
use Magento\Framework\App\ResourceConnection;
use Magento\Framework\DB\Adapter\AdapterInterface;
use Magento\Framework\DB\Sql\Expression;

class Outbox implements OutboxStore
{
    public const TABLE = 'kfsync_outbox';
    public const STATUSES = ['pending', 'delivered', 'dead'];

    public function __construct(private readonly ResourceConnection $resource)
    {
    }

    public function add(OutboxEvent $event): void
    {
        $this->db()->insert($this->table(), [
            'event_id' => $event->eventId,
            'topic' => $event->topic,
            'resource_type' => $event->resourceType,
            'entity_key' => $event->key,
            'increment_id' => $event->incrementId,
            'store_id' => $event->storeId,
            'updated_at' => $event->updatedAt,
            'created_at' => $event->occurredAt,
            'status' => 'pending',
            'attempts' => 0,
            'next_attempt_at' => $event->occurredAt,
        ]);
    }

    public function due(int $now, int $limit): array
    {
        $select = $this->db()->select()->from($this->table())
            ->where('status = ?', 'pending')->where('next_attempt_at <= ?', $now)
            ->order('id ASC')->limit($limit);
        $rows = [];
        foreach ($this->db()->fetchAll($select) as $r) {
            $event = new OutboxEvent((string) $r['event_id'], (string) $r['topic'],
                (string) $r['resource_type'], (string) $r['entity_key'],
                $r['increment_id'] !== null ? (string) $r['increment_id'] : null,
                (int) $r['store_id'], $r['updated_at'] !== null ? (string) $r['updated_at'] : null,
                (int) $r['created_at']);
            $rows[] = new OutboxRow((int) $r['id'], $event, (int) $r['attempts'],
                (int) $r['next_attempt_at']);
        }
        return $rows;
    }

    public function claim(OutboxRow $row, int $leaseUntil): bool
    {
        return $this->db()->update($this->table(), ['next_attempt_at' => $leaseUntil], [
            'id = ?' => $row->id, 'status = ?' => 'pending',
            'next_attempt_at = ?' => $row->nextAttemptAt,
        ]) === 1;
    }

    public function delivered(int $id, int $now, int $status): void
    {
        $this->db()->update($this->table(), ['status' => 'delivered', 'delivered_at' => $now,
            'attempts' => new Expression('attempts + 1'), 'last_error' => null], ['id = ?' => $id]);
    }

    public function retry(int $id, int $attempts, int $nextAttemptAt, string $error): void
    {
        $this->db()->update($this->table(), ['attempts' => $attempts,
            'next_attempt_at' => $nextAttemptAt, 'last_error' => $error], ['id = ?' => $id]);
    }

    public function dead(int $id, int $attempts, string $error): void
    {
        $this->db()->update($this->table(), ['status' => 'dead', 'attempts' => $attempts,
            'last_error' => $error], ['id = ?' => $id]);
    }

    /** @return array<string, int> rows per status */
    public function counts(): array
    {
        $select = $this->db()->select()->from($this->table(), ['status', 'n' => 'COUNT(*)'])
            ->group('status');
        $counts = array_fill_keys(self::STATUSES, 0);
        foreach ($this->db()->fetchPairs($select) as $status => $n) {
            $counts[(string) $status] = (int) $n;
        }
        return $counts;
    }

    /** @return list<array<string, mixed>> the newest rows in $status */
    public function rows(string $status, int $limit = 50): array
    {
        $select = $this->db()->select()->from($this->table())->where('status = ?', $status)
            ->order('id DESC')->limit($limit);
        return $this->db()->fetchAll($select);
    }

    /**
     * Send dead rows again (all, or those in $ids), with a fresh retry window from now.
     *
     * @param list<int> $ids
     */
    public function retryDead(array $ids = []): int
    {
        $where = ['status = ?' => 'dead'];
        if ($ids !== []) {
            $where['id IN (?)'] = $ids;
        }
        $now = time();
        return $this->db()->update($this->table(), ['status' => 'pending', 'attempts' => 0,
            'created_at' => $now, 'next_attempt_at' => $now], $where);
    }

    /** Forget delivered rows older than $before (unix time); dead rows stay until retried. */
    public function purgeDelivered(int $before): int
    {
        return $this->db()->delete($this->table(),
            ['status = ?' => 'delivered', 'delivered_at < ?' => $before]);
    }

    private function db(): AdapterInterface
    {
        return $this->resource->getConnection();
    }

    private function table(): string
    {
        return $this->resource->getTableName(self::TABLE);
    }
}
