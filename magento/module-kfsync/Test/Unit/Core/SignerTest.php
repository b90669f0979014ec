<?php
declare(strict_types=1);

namespace Kfsync\Connector\Test\Unit\Core;

use Kfsync\Connector\Core\Signer;
use PHPUnit\Framework\TestCase;

final class SignerTest extends TestCase
{
    public function testTheSignatureMatchesKfsyncsPythonVerifier(): void
    {
        // The same vector signed by kfsync's ingest/signing.py sign('s3cret', 1700000000, ...).
        self::assertSame(
            'v1=e584ea1bae10bbbc105c193bee45ee128f39b60803189b2673b3e878b94997c8',
            Signer::signature('s3cret', 1700000000, '{"id":"e1"}')
        );
    }

    public function testTheThreeHeadersOfTheContract(): void
    {
        $headers = Signer::headers('s3cret', 'e1', '{"id":"e1"}', 1700000000);
        self::assertSame('e1', $headers['X-Kfsync-Event-Id']);
        self::assertSame('1700000000', $headers['X-Kfsync-Timestamp']);
        self::assertSame(Signer::signature('s3cret', 1700000000, '{"id":"e1"}'),
            $headers['X-Kfsync-Signature']);
        self::assertSame('application/json', $headers['Content-Type']);
    }
}
