"""Event sources: each module turns one sender's webhook into kfsync's internal event.

A source module verifies its sender's signature, maps the sender's event to a ``Hint``
(topic, resource, event id: the one place that knows the sender's shape) and hands it to
``intake.accept``, which stores and enqueues it exactly like ``POST /webhooks/magento``. Every
event is only a hint: the worker re-reads the record over REST. Adding a source is one module
here plus its blueprint in ``BLUEPRINTS``.

- ``magento`` (``ingest/webhooks.py``): kfsync's own signed envelope, sent by the kfsync
  Magento module (``magento/module-kfsync``) or any sender following DESIGN §6.3.
- ``adobe-io`` (``adobe_io.py``): Adobe I/O Events for Adobe Commerce.
- ``mageos-async`` (``mageos_async.py``): Mage-OS Async Events.
"""

from __future__ import annotations

from flask import Blueprint

PUSH_SOURCES = ("magento", "adobe-io", "mageos-async")  # not "poll": that is the fallback


def blueprints() -> list[Blueprint]:
    from ingest.sources import adobe_io, mageos_async

    return [adobe_io.bp, mageos_async.bp]
