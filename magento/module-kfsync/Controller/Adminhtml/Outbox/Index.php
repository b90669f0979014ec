<?php
declare(strict_types=1);

namespace Kfsync\Connector\Controller\Adminhtml\Outbox;

use Magento\Backend\App\Action;
use Magento\Backend\App\Action\Context;
use Magento\Framework\App\Action\HttpGetActionInterface;
use Magento\Framework\View\Result\Page;
use Magento\Framework\View\Result\PageFactory;

/** System > Other Settings > kfsync outbox: counts, dead rows and their errors. */
class Index extends Action implements HttpGetActionInterface
{
    public const ADMIN_RESOURCE = 'Kfsync_Connector::outbox';

    public function __construct(Context $context, private readonly PageFactory $pageFactory)
    {
        parent::__construct($context);
    }

    public function execute(): Page
    {
        $page = $this->pageFactory->create();
        $page->setActiveMenu('Kfsync_Connector::outbox');
        $page->getConfig()->getTitle()->prepend(__('kfsync outbox'));
        return $page;
    }
}
