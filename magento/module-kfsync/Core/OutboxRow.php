<?php
declare(strict_types=1);

namespace Kfsync\Connector\Core;

/** A stored outbox row due for an attempt. */
final class OutboxRow
{
    public function __construct(
        public readonly int $id,
        public readonly OutboxEvent $event,
        public readonly int $attempts,
        public readonly int $nextAttemptAt
    ) {
    }
}
