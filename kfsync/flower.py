"""Flower as kfsync runs it: every kfsync queue on the broker page, ``dead_letter`` included.

Flower lists the queues that online workers consume and falls back to the app's
``task_queues`` only when no worker is known. No worker consumes ``dead_letter`` (its messages
are parked markers), so without this it would vanish from the broker page and
``/api/queues/length`` as soon as a worker starts. The union keeps both.
"""

from __future__ import annotations

from typing import Any


def show_every_queue() -> None:
    """Make Flower list the app's configured queues next to the workers' active ones."""
    from flower.views import BaseHandler

    if getattr(BaseHandler, "_kfsync_every_queue", False):
        return
    active = BaseHandler.get_active_queue_names

    def every_queue(self: Any) -> list[str]:
        configured = {q.name for q in self.capp.conf.task_queues or [] if q.name}
        return sorted(set(active(self)) | configured)

    BaseHandler.get_active_queue_names = every_queue
    BaseHandler._kfsync_every_queue = True
