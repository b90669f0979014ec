<?php
declare(strict_types=1);

namespace Kfsync\Connector\Core;

/** What kfsync answered; status 0 means no answer (refused, timeout, DNS, TLS). */
final class HttpResponse
{
    public function __construct(
        public readonly int $status,
        public readonly string $body = '',
        public readonly ?int $retryAfter = null,
        public readonly string $error = ''
    ) {
    }
}
