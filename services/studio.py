"""The mapping studio's operations on the draft: validation, publishing, coverage, the CSV.

The dashboard (``ingest/dashboard/studio.py``), the ops API (``/api/v1/mapping``) and the CLI
(``kfsync mapping``) all call these; the versions themselves are ``services.profiles``. What
the draft would post is ``services.studio_preview``; the suggestion inbox is
``services.studio_suggestions``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from typing import Any

from mappings.errors import MappingError
from mappings.profile import parse_document
from mappings.rules import with_products
from mappings.skus import MATCHED, SkuMapping, map_sku
from mappings.studio import Problem, coverage, validate
from services import catalogue, product_cache, profiles

# --- validation and publishing ------------------------------------------------------------

def problems(url: str, document: dict[str, Any] | None = None) -> list[Problem]:
    """Problems of ``document`` (default: the working document) against the cached catalogue
    and the values recent orders used."""
    doc = document if document is not None else profiles.working_document(url)
    return validate(doc, catalogue.load(url), catalogue.seen(url))


def blocking_errors(url: str) -> Any:
    """A ``check`` for ``profiles.publish``: the errors that refuse a publish."""
    def check(document: dict[str, Any]) -> list[str]:
        return [str(p) for p in validate(document, catalogue.load(url)) if p.severity == "error"]
    return check


def publish(url: str, actor: str, comment: str | None) -> profiles.VersionView:
    """Publish the draft unless validation finds errors (``profiles.ProfileError``)."""
    return profiles.publish(url, actor, comment, check=blocking_errors(url))


def coverage_of(url: str, document: dict[str, Any] | None = None) -> tuple[int, int]:
    doc = document if document is not None else profiles.working_document(url)
    return coverage(with_products(parse_document(doc), product_cache.product_index(url)),
                    catalogue.seen(url))


def seen_skus(url: str) -> tuple[list[tuple[Any, SkuMapping]], list[tuple[Any, SkuMapping]]]:
    """SKUs of the last 90 days that no row maps: (matched by code, still unmapped), each
    seen row with how the working document maps it (``suggested`` names candidates)."""
    rules = with_products(parse_document(profiles.working_document(url)),
                          product_cache.product_index(url))
    lenient = replace(rules, unmapped_sku="default_nominal")  # classify, never raise
    matched: list[tuple[Any, SkuMapping]] = []
    unmapped: list[tuple[Any, SkuMapping]] = []
    for row in catalogue.seen_rows(url, "sku"):
        if row.key in rules.skus:
            continue
        mapping = map_sku(row.key, lenient)
        (matched if mapping.how == MATCHED else unmapped).append((row, mapping))
    return matched, unmapped


# --- CSV of the SKU map -------------------------------------------------------------------

CSV_FIELDS = ("sku", "nominal_code", "product_code")


def sku_csv(document: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_FIELDS)
    for sku, rule in sorted(document.get("skus", {}).items()):
        writer.writerow([sku, rule.get("nominal_code"), rule.get("product_code") or ""])
    return out.getvalue()


def import_sku_csv(url: str, text: str, actor: str) -> int:
    """Merge SKU rows from CSV (``sku,nominal_code,product_code``) into the draft.

    Raises:
        MappingError: a bad row, named by its line number; nothing is stored.
    """
    reader = csv.DictReader(io.StringIO(text))
    missing = [f for f in ("sku", "nominal_code") if f not in (reader.fieldnames or [])]
    if missing:
        raise MappingError(f"CSV: missing column(s) {', '.join(missing)} "
                           f"(expected {','.join(CSV_FIELDS)})")
    rows: dict[str, dict[str, Any]] = {}
    for number, raw in enumerate(reader, start=2):
        sku = (raw.get("sku") or "").strip()
        nominal = (raw.get("nominal_code") or "").strip()
        if not sku:
            raise MappingError(f"CSV line {number}: sku is empty")
        if not nominal.isdigit():
            raise MappingError(f"CSV line {number}: nominal_code {nominal!r} is not a number")
        if sku in rows:
            raise MappingError(f"CSV line {number}: SKU {sku} appears twice")
        product = (raw.get("product_code") or "").strip() or None
        rows[sku] = {"nominal_code": int(nominal), "product_code": product}

    def edit(doc: dict[str, Any]) -> str:
        doc.setdefault("skus", {}).update(rows)
        return f"CSV import: {len(rows)} SKU row(s)"

    profiles.edit_draft(url, actor, edit, action="mapping-import-csv")
    return len(rows)
