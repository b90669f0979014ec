"""The ``stock:`` section of the mapping file: which system owns each SKU's stock level.

```yaml
stock:
  mode: kashflow          # kashflow | magento | both (default kashflow)
  interval_s: 300         # beat interval of the full sync (read when beat starts)
  source_code: null       # MSI source code; null: the legacy stockItems API
  skus:                   # per-SKU override of the mode, or off (never synced)
    MUG: both
    GIFT-CARD: off
```

Which SKUs exist and where they live in KashFlow is not repeated here: the SKU map of the
invoices (``skus:`` in the same file, ``Rules.skus``) is the one source. Strict like the rest
of the file: an unknown key or value is a ``MappingError`` naming the file and the key.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from mappings.errors import MappingError, flatten_messages
from mappings.yamlfile import read_yaml

StockMode = Literal["kashflow", "magento", "both"]
SkuMode = Literal["kashflow", "magento", "both", "off"]
MODES = ("kashflow", "magento", "both")
DEFAULT_INTERVAL_S = 300  # DESIGN §5: every five minutes
MIN_INTERVAL_S = 30  # a full pass reads every product: not more often than this


@dataclass(frozen=True)
class StockConfig:
    """Stock sync settings; the defaults are DESIGN §5's (KashFlow is the master)."""

    mode: StockMode = "kashflow"
    interval_s: int = DEFAULT_INTERVAL_S
    source_code: str | None = None  # None: legacy stockItems; else MSI source-items
    skus: Mapping[str, SkuMode] = field(default_factory=lambda: MappingProxyType({}))

    def mode_of(self, sku: str) -> SkuMode:
        """The mode of one SKU: its override, else the section's mode."""
        return self.skus.get(sku, self.mode)

    @property
    def uses_msi(self) -> bool:
        return self.source_code is not None


class _StockSchema(Schema):
    class Meta:
        unknown = RAISE

    mode = fields.String(validate=validate.OneOf(MODES))
    interval_s = fields.Integer(strict=True, validate=validate.Range(min=MIN_INTERVAL_S))
    source_code = fields.String(allow_none=True, validate=validate.Length(min=1))
    skus = fields.Dict(keys=fields.String(validate=validate.Length(min=1)),
                       values=fields.String(validate=validate.OneOf((*MODES, "off"))))


_SCHEMA = _StockSchema()


def parse_stock(data: Any, source: str = "mapping") -> StockConfig:
    """``StockConfig`` from a whole decoded mapping file (only its ``stock`` key is read).

    Raises:
        MappingError: ``"<source>: stock.<key>: <problem>"`` for each bad key, on one line.
    """
    if data is None:
        return StockConfig()
    if not isinstance(data, Mapping):
        raise MappingError(f"{source}: the top level must be a mapping of keys")
    section = data.get("stock")
    if section is None:
        return StockConfig()
    if not isinstance(section, Mapping):
        raise MappingError(f"{source}: stock: must be a mapping of keys")
    try:
        loaded: dict[str, Any] = _SCHEMA.load(section)
    except ValidationError as exc:
        lines = flatten_messages(exc.messages, "stock")
        raise MappingError("; ".join(f"{source}: {line}" for line in lines)) from exc
    if "skus" in loaded:
        loaded["skus"] = MappingProxyType(dict(loaded["skus"]))
    return StockConfig(**loaded)


def load_stock_config(path: str | None) -> StockConfig:
    """The ``stock:`` section of the YAML file at ``path`` (``None``: the defaults).

    Raises:
        MappingError: unreadable file, invalid YAML or a bad key, as one line.
    """
    if path is None:
        return StockConfig()
    data = read_yaml(path)
    return parse_stock(data, source=path)


def beat_interval_s(path: str | None = None) -> float:
    """The beat interval of the full sync, for ``celeryconfig`` (read once when beat starts).

    ``path`` defaults to ``KFSYNC_MAPPING_FILE``. Never raises: a bad or missing file gives
    the default, and ``kfsync beat``/``worker`` report the bad file themselves.
    """
    path = path if path is not None else os.environ.get("KFSYNC_MAPPING_FILE")
    try:
        return float(load_stock_config(path).interval_s)
    except MappingError:
        return float(DEFAULT_INTERVAL_S)
