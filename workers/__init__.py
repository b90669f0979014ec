"""Celery app and one task module per entity (events, customers, orders, payments)."""
