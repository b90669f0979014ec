<?php
/**
 * POST with PHP's own HTTP streams: no extension or library beyond a stock PHP, no redirects.
 */
declare(strict_types=1);

namespace Kfsync\Connector\Core;

final class StreamTransport implements Transport
{
    public function post(string $url, array $headers, string $body, float $timeoutS): HttpResponse
    {
        $lines = [];
        foreach ($headers as $name => $value) {
            $lines[] = $name . ': ' . $value;
        }
        $context = stream_context_create(['http' => [
            'method' => 'POST',
            'header' => implode("\r\n", $lines),
            'content' => $body,
            'timeout' => $timeoutS,
            'ignore_errors' => true, // read 4xx/5xx bodies instead of failing
            'follow_location' => 0,
            'protocol_version' => 1.1,
        ]]);
        $http_response_header = [];
        $error = '';
        set_error_handler(static function (int $no, string $message) use (&$error): bool {
            $error = $message;
            return true;
        });
        try {
            $answer = file_get_contents($url, false, $context);
        } finally {
            restore_error_handler();
        }
        if (function_exists('http_get_last_response_headers')) { // PHP 8.4 and later
            $http_response_header = http_get_last_response_headers() ?? [];
        }
        if ($answer === false || $http_response_header === []) {
            return new HttpResponse(0, '', null, $error !== '' ? $error : 'no answer');
        }
        return self::parse($http_response_header, $answer);
    }

    /** @param list<string> $raw the status line and headers, as PHP collected them */
    public static function parse(array $raw, string $body): HttpResponse
    {
        $status = 0;
        $retryAfter = null;
        foreach ($raw as $line) {
            if (preg_match('#^HTTP/\S+\s+(\d{3})#', $line, $m)) {
                $status = (int) $m[1]; // the last status line wins (after a 100 Continue)
                $retryAfter = null;
            } elseif (preg_match('/^retry-after:\s*(\d+)\s*$/i', $line, $m)) {
                $retryAfter = (int) $m[1];
            }
        }
        return new HttpResponse($status, $body, $retryAfter);
    }
}
