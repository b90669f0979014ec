<?php
/**
 * `bin/magento kfsync:outbox:send [--loop]`: the outbox consumer.
 *
 * Without --loop it sends what is due once (cron does the same every minute). With --loop it
 * looks every --interval seconds (default 1: an order reaches kfsync in about a second) and
 * exits after --max-runtime so supervisor/systemd restarts it with fresh memory and config.
 */
declare(strict_types=1);

namespace Kfsync\Connector\Console\Command;

use Kfsync\Connector\Core\OutboxProcessor;
use Kfsync\Connector\Core\RetrySchedule;
use Kfsync\Connector\Core\Sender;
use Kfsync\Connector\Core\StreamTransport;
use Kfsync\Connector\Model\Config;
use Kfsync\Connector\Model\Outbox;
use Symfony\Component\Console\Command\Command;
use Symfony\Component\Console\Input\InputInterface;
use Symfony\Component\Console\Input\InputOption;
use Symfony\Component\Console\Output\OutputInterface;

class SendCommand extends Command
{
    public function __construct(private readonly Config $config, private readonly Outbox $outbox)
    {
        parent::__construct();
    }

    protected function configure(): void
    {
        $this->setName('kfsync:outbox:send')
            ->setDescription('Send due outbox events to kfsync (once, or --loop)')
            ->addOption('loop', null, InputOption::VALUE_NONE, 'keep sending until --max-runtime')
            ->addOption('interval', null, InputOption::VALUE_REQUIRED, 'seconds between looks', '1')
            ->addOption('max-runtime', null, InputOption::VALUE_REQUIRED, 'seconds, then exit', '3600')
            ->addOption('limit', null, InputOption::VALUE_REQUIRED, 'events per look', '100');
    }

    protected function execute(InputInterface $input, OutputInterface $output): int
    {
        $processor = new OutboxProcessor($this->outbox, new Sender(new StreamTransport()),
            new RetrySchedule());
        $interval = max(0.2, (float) $input->getOption('interval'));
        $until = time() + max(1, (int) $input->getOption('max-runtime'));
        $limit = max(1, (int) $input->getOption('limit'));
        do {
            if (!$this->config->isEnabled()) {
                $output->writeln('kfsync: sending is turned off in the admin; nothing sent');
                return Command::SUCCESS;
            }
            $counts = $processor->run($this->config->settings(), $limit);
            if (array_sum($counts) > 0) {
                $output->writeln(sprintf('kfsync: %d delivered, %d to retry, %d dead',
                    $counts['delivered'], $counts['retry'], $counts['dead']));
            }
            if (!$input->getOption('loop')) {
                break;
            }
            usleep((int) ($interval * 1e6));
        } while (time() < $until);
        return Command::SUCCESS;
    }
}
