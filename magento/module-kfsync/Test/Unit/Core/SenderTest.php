<?php
declare(strict_types=1);

namespace Kfsync\Connector\Test\Unit\Core;

use Kfsync\Connector\Core\Delivery;
use Kfsync\Connector\Core\HttpResponse;
use Kfsync\Connector\Core\Sender;
use Kfsync\Connector\Core\Settings;
use Kfsync\Connector\Core\StreamTransport;
use PHPUnit\Framework\TestCase;

final class SenderTest extends TestCase
{
    public function testAnswersAreClassifiedOnce(): void
    {
        $expected = [200 => 'delivered', 202 => 'delivered', 0 => 'retry', 401 => 'retry',
            408 => 'retry', 429 => 'retry', 500 => 'retry', 503 => 'retry', 400 => 'dead',
            404 => 'dead', 413 => 'dead'];
        foreach ($expected as $status => $outcome) {
            self::assertSame($outcome, Sender::classify(new HttpResponse($status))->outcome,
                "HTTP $status");
        }
    }

    public function testTheLastStatusLineAndRetryAfterAreRead(): void
    {
        $answer = StreamTransport::parse(['HTTP/1.1 100 Continue', 'HTTP/1.1 429 Too Many',
            'Retry-After: 120', 'Content-Type: text/plain'], 'slow down');
        self::assertSame(429, $answer->status);
        self::assertSame(120, $answer->retryAfter);
    }

    public function testNoListenerIsNoAnswerNotAnException(): void
    {
        $answer = (new StreamTransport())->post('http://127.0.0.1:9/webhooks/magento', [], '{}', 2.0);
        self::assertSame(0, $answer->status);
        self::assertNotSame('', $answer->error);
        self::assertSame(Delivery::RETRY, Sender::classify($answer)->outcome);
    }

    public function testTheWebhookPathIsAddedOnce(): void
    {
        self::assertSame('https://k.example/webhooks/magento',
            (new Settings('https://k.example', 's'))->webhookUrl());
        self::assertSame('https://k.example/webhooks/magento',
            (new Settings('https://k.example/webhooks/magento/', 's'))->webhookUrl());
    }
}
