<?php
/**
 * `bin/magento kfsync:ping`: send one signed test event to kfsync now, and say what it answered.
 *
 * kfsync answers a signed ping with 200 "ignored" (a topic it does not sync), so 200 proves the
 * URL, TLS and secret are right; 401 means the secret is not one of KFSYNC_WEBHOOK_SECRETS.
 */
declare(strict_types=1);

namespace Kfsync\Connector\Console\Command;

use Kfsync\Connector\Core\OutboxEvent;
use Kfsync\Connector\Core\Sender;
use Kfsync\Connector\Core\StreamTransport;
use Kfsync\Connector\Model\Config;
use Symfony\Component\Console\Command\Command;
use Symfony\Component\Console\Input\InputInterface;
use Symfony\Component\Console\Output\OutputInterface;

class PingCommand extends Command
{
    public function __construct(private readonly Config $config)
    {
        parent::__construct();
    }

    protected function configure(): void
    {
        $this->setName('kfsync:ping')
            ->setDescription('Send a signed test event to kfsync and show its answer');
    }

    protected function execute(InputInterface $input, OutputInterface $output): int
    {
        $settings = $this->config->settings();
        if (!$settings->isComplete()) {
            $output->writeln('<error>kfsync URL or secret not set (Stores > Configuration > '
                . 'Services > kfsync, or env.php)</error>');
            return Command::FAILURE;
        }
        $ping = OutboxEvent::create('kfsync.ping', 'order', '1', null, 0, null, time());
        $delivery = (new Sender(new StreamTransport()))->send($settings, $ping, time());
        $output->writeln(sprintf('%s answered HTTP %d: %s', $settings->webhookUrl(),
            $delivery->status, $delivery->detail));
        if ($delivery->status >= 200 && $delivery->status < 300) {
            $output->writeln('<info>OK: kfsync accepts this shop\'s signature.</info>');
            $enabled = $this->config->isEnabled() ? 'on' : 'OFF (turn it on in the admin)';
            $output->writeln('Sending events: ' . $enabled);
            return Command::SUCCESS;
        }
        $hint = match (true) {
            $delivery->status === 0 => 'no answer: check the URL, DNS, firewall and TLS',
            $delivery->status === 401 => 'the secret is not one of kfsync\'s KFSYNC_WEBHOOK_SECRETS'
                . ' (or this server\'s clock is more than 5 minutes off)',
            default => 'see the answer above',
        };
        $output->writeln('<error>Not OK: ' . $hint . '</error>');
        return Command::FAILURE;
    }
}
