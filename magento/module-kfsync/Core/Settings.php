<?php
declare(strict_types=1);

namespace Kfsync\Connector\Core;

/** Where kfsync listens and the shared secret; read by the Magento glue from config/env.php. */
final class Settings
{
    public const WEBHOOK_PATH = '/webhooks/magento';

    public function __construct(
        public readonly string $baseUrl,
        public readonly string $secret,
        public readonly float $timeoutS = 10.0
    ) {
    }

    public function isComplete(): bool
    {
        return $this->baseUrl !== '' && $this->secret !== '';
    }

    /** The webhook URL: the base URL as configured, with /webhooks/magento unless given. */
    public function webhookUrl(): string
    {
        $url = rtrim($this->baseUrl, '/');
        return str_ends_with($url, self::WEBHOOK_PATH) ? $url : $url . self::WEBHOOK_PATH;
    }
}
