"""The ops JSON API under ``/api/v1/`` (bearer auth; see ``ingest/api/openapi.py``)."""

from ingest.api import (
    deadletters,
    jobs,
    mapping,
    reconciliation,
    settlements,
    stats,
    summaries,
)
from ingest.api.base import bp

__all__ = ["bp", "deadletters", "jobs", "mapping", "reconciliation", "settlements", "stats",
           "summaries"]
