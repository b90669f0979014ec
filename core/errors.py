"""The one error root of kfsync: what a failure means for the work that met it.

::

    KfsyncError            base: ``outcome`` (the attempt log's class), ``status`` (HTTP, if any)
    ├── RetriableError     try again later, with backoff; ``retry_after`` is a requested wait
    │   └── AmbiguousError a write that may have landed: retry, but look the record up first
    └── FatalError         retrying will not help: the work stops for a human (review)

The leaf layers raise subclasses of these (``connectors.errors``: ``Transient`` is retriable,
``Ambiguous`` ambiguous, ``Rejected``/``NotFound``/``AuthFailed`` fatal;
``mappings.errors.MappingError`` is fatal), so the worker's failure path
(``workers.failures``) decides by class, never by guessing attributes. Anything else a step
raises is a bug or an unclassified failure: it is retried, then dead-lettered.

This module imports nothing from the app.
"""

from __future__ import annotations


class KfsyncError(Exception):
    """Base of every classified kfsync failure."""

    outcome = "error"  # its class in the attempt log
    status: int | None = None  # the HTTP status that carried it, if any


class RetriableError(KfsyncError):
    """Worth trying again later; ``retry_after`` is the wait a server asked for, in seconds."""

    outcome = "transient"
    retry_after: float | None = None


class AmbiguousError(RetriableError):
    """A write whose effect is unknown: look the record up before writing again."""

    outcome = "ambiguous"


class FatalError(KfsyncError):
    """Retrying will not help: the work needs a human (a business rule, a mapping gap)."""

    outcome = "rejected"
