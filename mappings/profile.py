"""A mapping profile as a document: ``Rules`` <-> plain data, its hash, diffs and YAML.

A profile version stores the *whole* rules document (every key, defaults spelled out), so a
version means the same thing whatever the defaults of a later kfsync release, and a diff
between two versions shows every change. ``dump_rules`` is the inverse of
``mappings.rules.parse_rules``: ``parse_rules(dump_rules(r)) == r`` for every valid ``r``.

Money and percentages are kept as strings in the document (YAML and JSON have no decimals):
``"20"``, ``"0.5"``. The mapping file's ``stock:`` section is not part of the profile (it has
its own schema and stays in the file, ``docs/inventory.md``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, fields, is_dataclass
from decimal import Decimal
from typing import Any

import yaml

from mappings.errors import MappingError
from mappings.routes import routes_document
from mappings.rules import Rules, SummaryRule, parse_rules

PROFILE_KEYS = tuple(f.name for f in fields(Rules) if f.metadata.get("profile", True))


def _plain(value: Any) -> Any:
    """A rules value as YAML/JSON data: decimals as ints when whole, else exact strings."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else format(value, "f")
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, frozenset | set):
        return sorted(_plain(v) for v in value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    raise TypeError(f"cannot store {type(value).__name__} in a profile")


def dump_rules(rules: Rules) -> dict[str, Any]:
    """Every key of ``rules`` as plain data (the profile document), keys sorted.

    ``routes`` is left out while there are none, and ``summary`` while it is the default (off),
    so such a profile keeps the document, and the hash, it had before they existed.
    """
    doc = {name: _plain(getattr(rules, name)) for name in PROFILE_KEYS
           if name not in ("routes", "summary")}
    if rules.routes:
        doc["routes"] = routes_document(rules.routes)
    if rules.summary != SummaryRule():
        doc["summary"] = _plain(rules.summary)
    return dict(sorted(doc.items()))


def parse_document(doc: Any, source: str = "profile") -> Rules:
    """``Rules`` from a profile document (or any mapping-file data: missing keys default).

    Decimal-valued fields may be strings (``"0.5"``): they are read as exact decimals.

    Raises:
        MappingError: ``"<source>: <key path>: <problem>"``.
    """
    if not isinstance(doc, Mapping):
        raise MappingError(f"{source}: the top level must be a mapping of keys")
    data = {k: v for k, v in doc.items() if k != "stock"}
    if isinstance(data.get("vat_levels"), Mapping):
        data["vat_levels"] = {k: _decimal(v) for k, v in data["vat_levels"].items()}
    if isinstance(data.get("checks"), Mapping):
        data["checks"] = {k: ({**v, "threshold": _decimal(v.get("threshold"))}
                              if isinstance(v, Mapping) and "threshold" in v else v)
                          for k, v in data["checks"].items()}
    return parse_rules(data, source)


def _decimal(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return Decimal(value)
        except ArithmeticError:
            return value  # the schema reports it
    if isinstance(value, float):
        return Decimal(str(value))
    return value


def normalise(doc: Any, source: str = "profile") -> dict[str, Any]:
    """The full, canonical document for ``doc`` (validated; defaults filled in)."""
    return dump_rules(parse_document(doc, source))


def document_hash(doc: Mapping[str, Any]) -> str:
    """A stable sha256 of a canonical document (same rules, same hash)."""
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Change:
    """One difference between two documents: ``path`` like ``skus.TSHIRT.nominal_code``."""

    path: str
    before: Any
    after: Any
    kind: str = "changed"  # added, removed, changed

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "before": self.before,
                "after": self.after}

    def __str__(self) -> str:
        if self.kind == "added":
            return f"+ {self.path}: {_show(self.after)}"
        if self.kind == "removed":
            return f"- {self.path}: {_show(self.before)}"
        return f"~ {self.path}: {_show(self.before)} -> {_show(self.after)}"


def _show(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def diff_documents(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> list[Change]:
    """The leaf changes from ``before`` to ``after``, in path order.

    Tables (``skus``, ``payment_methods``...) are compared entry by entry, and an entry's
    fields one by one, so a new SKU shows as one ``added`` change holding its rule.
    """
    out: list[Change] = []
    _diff("", before or {}, after, out)
    return sorted(out, key=lambda c: c.path)


def _diff(prefix: str, a: Any, b: Any, out: list[Change]) -> None:
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        for key in sorted(set(a) | set(b), key=str):
            path = f"{prefix}.{key}" if prefix else str(key)
            if key not in a:
                out.append(Change(path, None, b[key], "added"))
            elif key not in b:
                out.append(Change(path, a[key], None, "removed"))
            else:
                _diff(path, a[key], b[key], out)
        return
    if a != b:
        out.append(Change(prefix, a, b))


YAML_HEADER = (
    "# kfsync mapping profile (docs/mapping.md). Import it with `kfsync mapping import FILE`\n"
    "# or the studio's Import page: the import becomes a draft and shows its diff first.\n"
)


def to_yaml(doc: Mapping[str, Any], *, version: int | None = None,
            comment: str | None = None) -> str:
    """The document as YAML, with a header naming the version it came from."""
    header = YAML_HEADER
    if version is not None:
        header += f"# exported from profile version {version}"
        header += f": {' '.join(comment.split())}\n" if comment else "\n"
    body = yaml.safe_dump(dict(doc), sort_keys=True, allow_unicode=True, default_flow_style=False)
    return header + body


def from_yaml(text: str, source: str = "import") -> dict[str, Any]:
    """A canonical document from YAML text (a profile export or a mapping file).

    Raises:
        MappingError: invalid YAML or rules, as one line naming ``source``.
    """
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise MappingError(f"{source}: invalid YAML: {' '.join(str(exc).split())}") from exc
    if data is None:
        data = {}
    return normalise(data, source)
