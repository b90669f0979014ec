<?php
/**
 * When to try a failed delivery again, and when to stop.
 *
 * Doubling from 30 s up to 30 min, so a kfsync restart costs seconds and an outage costs
 * one attempt per half hour; a Retry-After is honoured (up to an hour). A row is given up
 * (dead, visible to the admin) only when it is older than GIVE_UP_AFTER_S: more than a day,
 * so a weekend-night outage noticed next morning loses nothing.
 */
declare(strict_types=1);

namespace Kfsync\Connector\Core;

final class RetrySchedule
{
    public const FIRST_DELAY_S = 30;
    public const MAX_DELAY_S = 1800;
    public const MAX_RETRY_AFTER_S = 3600;
    public const GIVE_UP_AFTER_S = 26 * 3600; // at least 24 h of retries, plus slack

    public function __construct(private readonly int $giveUpAfterS = self::GIVE_UP_AFTER_S)
    {
    }

    /** Seconds to wait after the $attempts-th failed attempt (1 = the first). */
    public function delay(int $attempts, ?int $retryAfter = null): int
    {
        $exp = min(max($attempts, 1) - 1, 16);
        $delay = min(self::FIRST_DELAY_S * (2 ** $exp), self::MAX_DELAY_S);
        if ($retryAfter !== null && $retryAfter > 0) {
            $delay = max($delay, min($retryAfter, self::MAX_RETRY_AFTER_S));
        }
        return $delay;
    }

    /** True when an event created at $createdAt should not be tried again at $now + $delay. */
    public function exhausted(int $createdAt, int $now, int $delay = 0): bool
    {
        return $now + $delay - $createdAt > $this->giveUpAfterS;
    }
}
