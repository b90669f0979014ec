<?php
/**
 * Turns what an observer saw into an outbox event: the one place that knows which Magento
 * change becomes which kfsync topic (DESIGN §6.3). No Magento classes: observers pass scalars.
 */
declare(strict_types=1);

namespace Kfsync\Connector\Core;

final class EventFactory
{
    /** @var callable():int */
    private $clock;

    public function __construct(?callable $clock = null)
    {
        $this->clock = $clock ?? static fn (): int => time();
    }

    public function order(int $entityId, ?string $incrementId, int $storeId, ?string $updatedAt,
        bool $isNew): OutboxEvent
    {
        return $this->make($isNew ? 'order.created' : 'order.updated', 'order', (string) $entityId,
            $incrementId, $storeId, $updatedAt);
    }

    /** An invoice re-syncs its order: kfsync invoices orders, so the key is the order's. */
    public function invoice(int $orderId, ?string $orderIncrementId, int $storeId,
        ?string $updatedAt): OutboxEvent
    {
        return $this->make('invoice.created', 'order', (string) $orderId, $orderIncrementId,
            $storeId, $updatedAt);
    }

    public function creditmemo(int $entityId, ?string $incrementId, int $storeId,
        ?string $updatedAt): OutboxEvent
    {
        return $this->make('creditmemo.created', 'creditmemo', (string) $entityId, $incrementId,
            $storeId, $updatedAt);
    }

    public function customer(int $entityId, int $storeId, ?string $updatedAt, bool $isNew): OutboxEvent
    {
        return $this->make($isNew ? 'customer.created' : 'customer.updated', 'customer',
            (string) $entityId, null, $storeId, $updatedAt);
    }

    public function stock(string $sku, int $storeId): OutboxEvent
    {
        return $this->make('stock.updated', 'product', $sku, null, $storeId, null);
    }

    private function make(string $topic, string $type, string $key, ?string $incrementId,
        int $storeId, ?string $updatedAt): OutboxEvent
    {
        if ($key === '' || ($type !== 'product' && !ctype_digit($key))) {
            throw new \InvalidArgumentException("kfsync: no usable key for $topic");
        }
        return OutboxEvent::create($topic, $type, $key, $incrementId, $storeId, $updatedAt,
            ($this->clock)());
    }
}
