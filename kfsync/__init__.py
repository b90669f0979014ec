"""kfsync: Magento 2 -> KashFlow order-to-cash sync on Celery."""

__version__ = "0.1.0"
