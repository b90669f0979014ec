<?php
declare(strict_types=1);

namespace Kfsync\Connector\Block\Adminhtml;

use Kfsync\Connector\Model\Outbox as OutboxTable;
use Magento\Backend\Block\Template;
use Magento\Backend\Block\Template\Context;

class Outbox extends Template
{
    public function __construct(Context $context, private readonly OutboxTable $outbox, array $data = [])
    {
        parent::__construct($context, $data);
    }

    /** @return array<string, int> */
    public function getCounts(): array
    {
        return $this->outbox->counts();
    }

    /** @return list<array<string, mixed>> */
    public function getRows(string $status): array
    {
        return $this->outbox->rows($status, 50);
    }

    public function getRetryUrl(): string
    {
        return $this->getUrl('kfsync/outbox/retry');
    }
}
