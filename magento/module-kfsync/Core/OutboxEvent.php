<?php
/**
 * One event waiting in the outbox: what changed, never the record itself (kfsync re-reads it).
 */
declare(strict_types=1);

namespace Kfsync\Connector\Core;

final class OutboxEvent
{
    public const TOPICS = [
        'order.created', 'order.updated', 'invoice.created', 'creditmemo.created',
        'customer.created', 'customer.updated', 'stock.updated',
    ];

    /**
     * @param string $resourceType order, creditmemo, customer or product
     * @param string $key the Magento entity id, or the SKU for a product
     */
    public function __construct(
        public readonly string $eventId,
        public readonly string $topic,
        public readonly string $resourceType,
        public readonly string $key,
        public readonly ?string $incrementId,
        public readonly int $storeId,
        public readonly ?string $updatedAt,
        public readonly int $occurredAt
    ) {
    }

    /** A new event with a fresh random id (UUID v4): kfsync dedupes on it across retries. */
    public static function create(
        string $topic,
        string $resourceType,
        string $key,
        ?string $incrementId,
        int $storeId,
        ?string $updatedAt,
        int $now
    ): self {
        return new self(self::newId(), $topic, $resourceType, $key, $incrementId, $storeId,
            $updatedAt, $now);
    }

    public static function newId(): string
    {
        $bytes = random_bytes(16);
        $bytes[6] = chr((ord($bytes[6]) & 0x0f) | 0x40);
        $bytes[8] = chr((ord($bytes[8]) & 0x3f) | 0x80);
        return vsprintf('%s%s-%s-%s-%s-%s%s%s', str_split(bin2hex($bytes), 4));
    }
}
