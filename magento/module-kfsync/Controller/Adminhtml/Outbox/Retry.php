<?php
declare(strict_types=1);

namespace Kfsync\Connector\Controller\Adminhtml\Outbox;

use Kfsync\Connector\Model\Outbox;
use Magento\Backend\App\Action;
use Magento\Backend\App\Action\Context;
use Magento\Framework\App\Action\HttpPostActionInterface;
use Magento\Framework\Controller\Result\Redirect;

/** POST (form key checked by the admin router): send one dead row, or all, again. */
class Retry extends Action implements HttpPostActionInterface
{
    public const ADMIN_RESOURCE = 'Kfsync_Connector::outbox';

    public function __construct(Context $context, private readonly Outbox $outbox)
    {
        parent::__construct($context);
    }

    public function execute(): Redirect
    {
        $id = (int) $this->getRequest()->getParam('id');
        $n = $this->outbox->retryDead($id > 0 ? [$id] : []);
        $this->messageManager->addSuccessMessage(__('%1 dead row(s) queued again.', $n));
        return $this->resultRedirectFactory->create()->setPath('kfsync/outbox/index');
    }
}
