<?php
/**
 * `bin/magento kfsync:outbox:status`: rows per status and the dead rows with their last error.
 */
declare(strict_types=1);

namespace Kfsync\Connector\Console\Command;

use Kfsync\Connector\Model\Outbox;
use Symfony\Component\Console\Command\Command;
use Symfony\Component\Console\Helper\Table;
use Symfony\Component\Console\Input\InputInterface;
use Symfony\Component\Console\Input\InputOption;
use Symfony\Component\Console\Output\OutputInterface;

class StatusCommand extends Command
{
    public function __construct(private readonly Outbox $outbox)
    {
        parent::__construct();
    }

    protected function configure(): void
    {
        $this->setName('kfsync:outbox:status')
            ->setDescription('Outbox rows per status, and the dead ones')
            ->addOption('limit', null, InputOption::VALUE_REQUIRED, 'dead rows to show', '20');
    }

    protected function execute(InputInterface $input, OutputInterface $output): int
    {
        foreach ($this->outbox->counts() as $status => $n) {
            $output->writeln(sprintf('%-10s %d', $status, $n));
        }
        $dead = $this->outbox->rows('dead', max(1, (int) $input->getOption('limit')));
        if ($dead !== []) {
            $table = new Table($output);
            $table->setHeaders(['id', 'topic', 'key', 'increment', 'attempts', 'last error']);
            foreach ($dead as $row) {
                $table->addRow([$row['id'], $row['topic'], $row['entity_key'],
                    $row['increment_id'], $row['attempts'], mb_substr((string) $row['last_error'], 0, 80)]);
            }
            $table->render();
            $output->writeln('Send them again: bin/magento kfsync:outbox:retry --all-dead');
        }
        return Command::SUCCESS;
    }
}
