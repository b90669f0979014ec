<?php
/**
 * The module's settings, from Stores > Configuration > Services > kfsync or env.php.
 */
declare(strict_types=1);

namespace Kfsync\Connector\Model;

use Kfsync\Connector\Core\Settings;
use Magento\Framework\App\Config\ScopeConfigInterface;
use Magento\Framework\Encryption\EncryptorInterface;

class Config
{
    public const XML_ENABLED = 'kfsync/connection/enabled';
    public const XML_URL = 'kfsync/connection/url';
    public const XML_SECRET = 'kfsync/connection/secret';
    public const XML_TIMEOUT = 'kfsync/connection/timeout';

    public function __construct(
        private readonly ScopeConfigInterface $scopeConfig,
        private readonly EncryptorInterface $encryptor
    ) {
    }

    public function isEnabled(): bool
    {
        return $this->scopeConfig->isSetFlag(self::XML_ENABLED);
    }

    public function settings(): Settings
    {
        $timeout = (float) $this->scopeConfig->getValue(self::XML_TIMEOUT);
        return new Settings(
            trim((string) $this->scopeConfig->getValue(self::XML_URL)),
            $this->secret(),
            $timeout > 0 ? $timeout : 10.0
        );
    }

    /**
     * The secret as saved in the admin or by `config:set --lock-env` (encrypted, "0:3:..."),
     * or given as plain text through an environment variable
     * (CONFIG__DEFAULT__KFSYNC__CONNECTION__SECRET).
     */
    private function secret(): string
    {
        $raw = trim((string) $this->scopeConfig->getValue(self::XML_SECRET));
        if (preg_match('/^\d+:\d+:/', $raw) === 1) {
            return (string) $this->encryptor->decrypt($raw);
        }
        return $raw;
    }
}
