<?php
/**
 * The JSON body kfsync's POST /webhooks/magento takes (DESIGN §6.3, binding).
 */
declare(strict_types=1);

namespace Kfsync\Connector\Core;

final class Envelope
{
    public static function json(OutboxEvent $event): string
    {
        $resource = ['type' => $event->resourceType];
        if ($event->resourceType === 'product') {
            $resource['sku'] = $event->key;
        } else {
            $resource['entity_id'] = (int) $event->key;
        }
        if ($event->incrementId !== null && $event->incrementId !== '') {
            $resource['increment_id'] = $event->incrementId;
        }
        if ($event->updatedAt !== null && $event->updatedAt !== '') {
            $resource['updated_at'] = $event->updatedAt;
        }
        return json_encode([
            'id' => $event->eventId,
            'topic' => $event->topic,
            'occurred_at' => gmdate('Y-m-d\TH:i:s\Z', $event->occurredAt),
            'store_id' => $event->storeId,
            'resource' => $resource,
            'data' => new \stdClass(),
        ], JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_THROW_ON_ERROR);
    }
}
