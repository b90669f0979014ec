"""The one error the mapping layer raises.

``MappingError`` means "this order cannot be turned into KashFlow documents as it stands": a
business or validation problem, never a transient one. Retrying will not help; the job goes to
review. Its message is what an operator reads, so it names the order field, SKU or config key
at fault and the numbers involved. It is a ``core.errors.FatalError``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from core.errors import FatalError


class MappingError(FatalError):
    """A business or validation problem in an order or in the mapping rules."""

    outcome = "rejected"


def flatten_messages(messages: Any, prefix: str = "") -> list[str]:
    """Turn marshmallow's nested error dict into ``"path.to.field: message"`` lines.

    ``{"items": {0: {"sku": ["Missing data for required field."]}}}`` becomes
    ``["items.0.sku: Missing data for required field."]``. Lines are sorted so messages are
    stable from run to run.
    """
    if isinstance(messages, Mapping):
        lines: list[str] = []
        for key, value in messages.items():
            # "_schema" holds marshmallow's whole-object errors: the path so far names the object
            path = prefix if key == "_schema" else f"{prefix}.{key}" if prefix else str(key)
            lines.extend(flatten_messages(value, path))
        return sorted(lines)
    if isinstance(messages, Sequence) and not isinstance(messages, str):
        lines = []
        for value in messages:
            lines.extend(flatten_messages(value, prefix))
        return lines
    return [f"{prefix}: {messages}" if prefix else str(messages)]
