<?php
declare(strict_types=1);

namespace Kfsync\Connector\Test\Unit\Core;

use Kfsync\Connector\Core\EventFactory;
use Kfsync\Connector\Core\HttpResponse;
use Kfsync\Connector\Core\MemoryOutbox;
use Kfsync\Connector\Core\OutboxProcessor;
use Kfsync\Connector\Core\RetrySchedule;
use Kfsync\Connector\Core\Sender;
use Kfsync\Connector\Core\Settings;
use Kfsync\Connector\Core\Signer;
use PHPUnit\Framework\TestCase;

final class OutboxProcessorTest extends TestCase
{
    private int $now = 1764000000;
    private MemoryOutbox $outbox;
    private Settings $settings;

    protected function setUp(): void
    {
        $this->outbox = new MemoryOutbox();
        $this->settings = new Settings('https://kfsync.example/', 'shh');
        $factory = new EventFactory(fn (): int => $this->now);
        $this->outbox->add($factory->order(42, '000000042', 1, '2026-11-24 10:00:03', true));
    }

    private function processor(ScriptedTransport $transport): OutboxProcessor
    {
        return new OutboxProcessor($this->outbox, new Sender($transport), new RetrySchedule(),
            fn (): int => $this->now);
    }

    public function testADeliveredEventIsSignedAndMarkedDelivered(): void
    {
        $transport = new ScriptedTransport([new HttpResponse(202, '{"status":"accepted"}')]);
        $counts = $this->processor($transport)->run($this->settings);
        self::assertSame(['delivered' => 1, 'retry' => 0, 'dead' => 0], $counts);
        self::assertSame('delivered', $this->outbox->rows[1]['status']);
        [$request] = $transport->requests;
        self::assertSame('https://kfsync.example/webhooks/magento', $request['url']);
        $h = $request['headers'];
        self::assertSame(Signer::signature('shh', (int) $h['X-Kfsync-Timestamp'], $request['body']),
            $h['X-Kfsync-Signature']);
        self::assertSame($this->outbox->rows[1]['event']->eventId, $h['X-Kfsync-Event-Id']);
    }

    public function testNoAnswerAnd503AreRetriedWithTheSameEventIdUntilDelivered(): void
    {
        $transport = new ScriptedTransport([new HttpResponse(0, '', null, 'refused'),
            new HttpResponse(503, 'down'), new HttpResponse(429, '', 300),
            new HttpResponse(200, '{"status":"duplicate"}')]);
        $processor = $this->processor($transport);
        $waits = [];
        for ($i = 0; $i < 4; $i++) {
            $before = $this->now;
            $processor->run($this->settings);
            $this->now = max($this->now, $this->outbox->rows[1]['next']);
            $waits[] = $this->now - $before;
        }
        self::assertSame('delivered', $this->outbox->rows[1]['status']);
        self::assertSame([30, 60, 300], array_slice($waits, 0, 3)); // the 429's Retry-After
        $ids = array_unique(array_map(static fn (array $r): string =>
            $r['headers']['X-Kfsync-Event-Id'], $transport->requests));
        self::assertCount(1, $ids);
    }

    public function testAnUnreachableKfsyncIsRetriedForMoreThanADayThenLeftDead(): void
    {
        $transport = new ScriptedTransport([]);  // never answers
        $processor = $this->processor($transport);
        $start = $this->now;
        while ($this->outbox->rows[1]['status'] === 'pending') {
            $processor->run($this->settings);
            $this->now = $this->outbox->rows[1]['next'];
        }
        $row = $this->outbox->rows[1];
        self::assertSame('dead', $row['status']);
        self::assertStringContainsString('gave up after', $row['error']);
        self::assertGreaterThanOrEqual(24 * 3600, $this->now - $start);
        self::assertLessThan(80, count($transport->requests)); // backoff, not hammering
    }

    public function testARefusedEventIsDeadAtOnceWithTheReason(): void
    {
        $transport = new ScriptedTransport([new HttpResponse(400, '{"errors":{"id":["bad"]}}')]);
        $this->processor($transport)->run($this->settings);
        self::assertSame('dead', $this->outbox->rows[1]['status']);
        self::assertStringContainsString('HTTP 400', $this->outbox->rows[1]['error']);
    }

    public function testAWrongSecretIsRetriedNotDropped(): void
    {
        $transport = new ScriptedTransport([new HttpResponse(401, 'signature does not match')]);
        $this->processor($transport)->run($this->settings);
        self::assertSame('pending', $this->outbox->rows[1]['status']);
    }

    public function testWithoutConfigurationNothingIsSentAndNothingLost(): void
    {
        $transport = new ScriptedTransport([]);
        $this->processor($transport)->run(new Settings('', ''));
        self::assertSame([], $transport->requests);
        self::assertSame('pending', $this->outbox->rows[1]['status']);
    }

    public function testARowClaimedByAnotherConsumerIsNotSentTwice(): void
    {
        [$row] = $this->outbox->due($this->now, 10);
        self::assertTrue($this->outbox->claim($row, $this->now + 120));
        self::assertFalse($this->outbox->claim($row, $this->now + 120));
        $transport = new ScriptedTransport([]);
        $this->processor($transport)->run($this->settings);
        self::assertSame([], $transport->requests);
    }
}
