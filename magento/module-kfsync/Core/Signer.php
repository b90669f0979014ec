<?php
/**
 * The three headers of DESIGN §6.3: X-Kfsync-Event-Id, X-Kfsync-Timestamp and
 * X-Kfsync-Signature = "v1=" + hex HMAC-SHA256(secret, timestamp + "." + raw body).
 */
declare(strict_types=1);

namespace Kfsync\Connector\Core;

final class Signer
{
    public static function signature(string $secret, int $timestamp, string $body): string
    {
        return 'v1=' . hash_hmac('sha256', $timestamp . '.' . $body, $secret);
    }

    /** @return array<string, string> */
    public static function headers(string $secret, string $eventId, string $body, int $timestamp): array
    {
        return [
            'Content-Type' => 'application/json',
            'X-Kfsync-Event-Id' => $eventId,
            'X-Kfsync-Timestamp' => (string) $timestamp,
            'X-Kfsync-Signature' => self::signature($secret, $timestamp, $body),
        ];
    }
}
