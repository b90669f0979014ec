<?php
/**
 * Autoloader for the module's plain classes (Core/) and tests, without Composer or Magento.
 */
declare(strict_types=1);

spl_autoload_register(static function (string $class): void {
    $prefix = 'Kfsync\\Connector\\';
    if (strncmp($class, $prefix, strlen($prefix)) !== 0) {
        return;
    }
    $file = dirname(__DIR__) . '/' . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
    if (is_file($file)) {
        require $file;
    }
});
