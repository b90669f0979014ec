<?php
declare(strict_types=1);

namespace Kfsync\Connector\Test\Unit\Core;

use Kfsync\Connector\Core\Envelope;
use Kfsync\Connector\Core\EventFactory;
use Kfsync\Connector\Core\OutboxEvent;
use PHPUnit\Framework\TestCase;

final class EnvelopeTest extends TestCase
{
    private function factory(): EventFactory
    {
        return new EventFactory(static fn (): int => 1764000003); // 2025-11-24T16:00:03Z
    }

    public function testAnOrderBecomesTheBindingEnvelope(): void
    {
        $event = $this->factory()->order(123, '000000123', 1, '2026-11-24 10:00:03', true);
        $body = json_decode(Envelope::json($event), true, 8, JSON_THROW_ON_ERROR);
        self::assertSame([
            'id' => $event->eventId,
            'topic' => 'order.created',
            'occurred_at' => '2025-11-24T16:00:03Z',
            'store_id' => 1,
            'resource' => ['type' => 'order', 'entity_id' => 123, 'increment_id' => '000000123',
                'updated_at' => '2026-11-24 10:00:03'],
            'data' => [],
        ], $body);
        self::assertStringContainsString('"data":{}', Envelope::json($event));
    }

    public function testEachMagentoChangeMapsToItsTopicAndResource(): void
    {
        $f = $this->factory();
        $cases = [
            [$f->order(5, '5', 1, null, false), 'order.updated', 'order', 'entity_id', 5],
            [$f->invoice(5, '5', 1, null), 'invoice.created', 'order', 'entity_id', 5],
            [$f->creditmemo(9, '9', 1, null), 'creditmemo.created', 'creditmemo', 'entity_id', 9],
            [$f->customer(7, 1, null, true), 'customer.created', 'customer', 'entity_id', 7],
            [$f->customer(7, 1, null, false), 'customer.updated', 'customer', 'entity_id', 7],
            [$f->stock('MUG 1/2', 0), 'stock.updated', 'product', 'sku', 'MUG 1/2'],
        ];
        foreach ($cases as [$event, $topic, $type, $field, $key]) {
            $body = json_decode(Envelope::json($event), true, 8, JSON_THROW_ON_ERROR);
            self::assertSame($topic, $body['topic']);
            self::assertContains($body['topic'], OutboxEvent::TOPICS);
            self::assertSame($type, $body['resource']['type']);
            self::assertSame($key, $body['resource'][$field]);
        }
    }

    public function testEventIdsAreUniqueUuids(): void
    {
        $ids = [];
        for ($i = 0; $i < 200; $i++) {
            $ids[] = OutboxEvent::newId();
        }
        self::assertCount(200, array_unique($ids));
        self::assertMatchesRegularExpression(
            '/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/', $ids[0]);
    }

    public function testAnEntityWithoutAnIdIsRefused(): void
    {
        $this->expectException(\InvalidArgumentException::class);
        $this->factory()->stock('', 0);
    }
}
