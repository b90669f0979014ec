"""The ``integration_pairs`` table: every pair but ``default`` (which is the environment).

``config`` holds what may be shown (URLs, user name, store ids, rules, limits); ``secrets``
holds the credentials and webhook secrets as one Fernet token (``services.pairs``: encrypted
with ``KFSYNC_PAIRS_KEY``, never shown back). ``version`` counts changes, so a process that
cached a pair notices an edit with one cheap read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from store.models import Base, utcnow


class IntegrationPair(Base):
    __tablename__ = "integration_pairs"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    config: Mapped[dict[str, Any]]
    secrets: Mapped[str] = mapped_column(Text)  # a Fernet token (services.pairs)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(default=None)
