<?php
declare(strict_types=1);

namespace Kfsync\Connector\Test\Unit\Core;

use Kfsync\Connector\Core\HttpResponse;
use Kfsync\Connector\Core\Transport;

/** Answers with the scripted responses in order and keeps every request, as kfsync would see it. */
final class ScriptedTransport implements Transport
{
    /** @var list<array{url: string, headers: array<string, string>, body: string}> */
    public array $requests = [];

    /** @param list<HttpResponse> $answers */
    public function __construct(private array $answers)
    {
    }

    public function post(string $url, array $headers, string $body, float $timeoutS): HttpResponse
    {
        $this->requests[] = ['url' => $url, 'headers' => $headers, 'body' => $body];
        return array_shift($this->answers) ?? new HttpResponse(0, '', null, 'connection refused');
    }
}
