<?php
/**
 * `bin/magento kfsync:outbox:retry ID... | --all-dead`: send dead rows again.
 */
declare(strict_types=1);

namespace Kfsync\Connector\Console\Command;

use Kfsync\Connector\Model\Outbox;
use Symfony\Component\Console\Command\Command;
use Symfony\Component\Console\Input\InputArgument;
use Symfony\Component\Console\Input\InputInterface;
use Symfony\Component\Console\Input\InputOption;
use Symfony\Component\Console\Output\OutputInterface;

class RetryCommand extends Command
{
    public function __construct(private readonly Outbox $outbox)
    {
        parent::__construct();
    }

    protected function configure(): void
    {
        $this->setName('kfsync:outbox:retry')
            ->setDescription('Send dead outbox rows again')
            ->addArgument('ids', InputArgument::IS_ARRAY, 'outbox row ids')
            ->addOption('all-dead', null, InputOption::VALUE_NONE, 'every dead row');
    }

    protected function execute(InputInterface $input, OutputInterface $output): int
    {
        $ids = array_map('intval', (array) $input->getArgument('ids'));
        if ($ids === [] && !$input->getOption('all-dead')) {
            $output->writeln('<error>Give row ids or --all-dead</error>');
            return Command::INVALID;
        }
        $n = $this->outbox->retryDead($ids);
        $output->writeln(sprintf('%d dead row(s) queued again', $n));
        return Command::SUCCESS;
    }
}
