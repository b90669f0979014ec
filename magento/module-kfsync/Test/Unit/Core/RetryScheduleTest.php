<?php
declare(strict_types=1);

namespace Kfsync\Connector\Test\Unit\Core;

use Kfsync\Connector\Core\RetrySchedule;
use PHPUnit\Framework\TestCase;

final class RetryScheduleTest extends TestCase
{
    public function testDelaysDoubleFromThirtySecondsUpToHalfAnHour(): void
    {
        $schedule = new RetrySchedule();
        $delays = array_map(static fn (int $n): int => $schedule->delay($n), range(1, 10));
        self::assertSame([30, 60, 120, 240, 480, 960, 1800, 1800, 1800, 1800], $delays);
    }

    public function testRetryAfterIsHonouredUpToAnHour(): void
    {
        $schedule = new RetrySchedule();
        self::assertSame(600, $schedule->delay(1, 600));
        self::assertSame(3600, $schedule->delay(1, 86400));
        self::assertSame(240, $schedule->delay(4, 5)); // never shorter than the backoff
    }

    public function testARowIsGivenUpOnlyAfterMoreThanADay(): void
    {
        $schedule = new RetrySchedule();
        self::assertFalse($schedule->exhausted(0, 24 * 3600));
        self::assertTrue($schedule->exhausted(0, 26 * 3600 + 1));
        self::assertTrue($schedule->exhausted(0, 25 * 3600, 2 * 3600));
    }
}
