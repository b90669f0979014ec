<?php
declare(strict_types=1);

namespace Kfsync\Connector\Core;

/** The outcome of one attempt: delivered, try again later, or give up (a dead row). */
final class Delivery
{
    public const DELIVERED = 'delivered';
    public const RETRY = 'retry';
    public const DEAD = 'dead';

    public function __construct(
        public readonly string $outcome,
        public readonly int $status,
        public readonly string $detail,
        public readonly ?int $retryAfter = null
    ) {
    }
}
