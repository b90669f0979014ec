<?php
declare(strict_types=1);

namespace Kfsync\Connector\Core;

/** Sends one POST; never throws for network failures (they are status 0). */
interface Transport
{
    /** @param array<string, string> $headers */
    public function post(string $url, array $headers, string $body, float $timeoutS): HttpResponse;
}
