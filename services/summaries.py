"""Summaries for people (CLI, API, dashboard): the list, one summary with each line traced
back to its orders, and the CSV export of that trace (``docs/accounting-modes.md``).

A posted summary line is one (kind, nominal, VAT level) group; the orders (or credit memos)
whose parts hold that group are its sources, each with its own net and VAT, so a line's net
is the sum of its sources' to the penny (the VAT rounding and offset lines excepted: they
carry the difference between per-order and per-line VAT rounding, named on the summary).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from mappings.rules import vat_key
from store.db import read_scope
from store.summary_models import Summary, SummaryEntry

COLUMNS = ("id", "kind", "store", "currency", "day", "state", "documents", "number",
           "net", "vat", "gross", "posted_at", "error")
CSV_COLUMNS = ("summary_id", "number", "kind", "day", "store", "currency", "line_kind",
               "nominal", "vat_level", "document", "magento_ref", "magento_key", "job_id",
               "document_day", "late", "net", "vat")


def _row(s: Summary) -> dict[str, Any]:
    return {c: getattr(s, c) for c in COLUMNS}


def list_summaries(url: str, *, state: str | None = None, day: date | None = None,
                   kind: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Summaries, newest day first (optionally of one state, day or kind)."""
    query = select(Summary)
    if state:
        query = query.where(Summary.state == state)
    if day:
        query = query.where(Summary.day == day)
    if kind:
        query = query.where(Summary.kind == kind)
    with read_scope(url) as s:
        found = s.scalars(query.order_by(Summary.day.desc(), Summary.id.desc()).limit(limit))
        return [_row(x) for x in found]


def counts(url: str) -> dict[str, int]:
    """Summaries by state."""
    with read_scope(url) as s:
        return {str(state): int(n) for state, n in
                s.execute(select(Summary.state, func.count()).group_by(Summary.state))}


def _entries(url: str, summary_id: int) -> tuple[Summary | None, list[SummaryEntry]]:
    with read_scope(url) as s:
        summary = s.get(Summary, summary_id)
        if summary is None:
            return None, []
        s.expunge(summary)
        rows = list(s.scalars(select(SummaryEntry).where(SummaryEntry.summary_id == summary_id)
                              .order_by(SummaryEntry.id)))
        for row in rows:
            s.expunge(row)
        return summary, rows


def _sources(entries: Sequence[SummaryEntry]) -> dict[tuple[str, int, str], list[dict[str, Any]]]:
    """(kind, nominal, level) -> the documents holding that group, with their amounts."""
    out: dict[tuple[str, int, str], list[dict[str, Any]]] = {}
    for e in entries:
        for line in e.part.get("lines") or []:
            key = (str(line["kind"]), int(line["nominal"]), _level(line["level"]))
            out.setdefault(key, []).append({
                "document": e.doc_kind, "magento_ref": e.magento_ref,
                "magento_key": e.magento_key, "job_id": e.job_id,
                "document_day": e.doc_day.isoformat(), "late": e.late,
                "net": Decimal(str(line["net"])), "vat": Decimal(str(line["vat"]))})
    return out


def _level(text: Any) -> str:
    return vat_key(str(text))


def summary_detail(url: str, summary_id: int) -> dict[str, Any] | None:
    """One summary: its columns, its lines each with their source documents, its payments
    and every document in it (``entries``). None when there is no such summary."""
    summary, entries = _entries(url, summary_id)
    if summary is None:
        return None
    sources = _sources(entries)
    lines = []
    for line in summary.lines or []:
        kind = str(line.get("Kind"))
        key = (kind, int(line["NominalCode"]), _level(line["VATLevel"]))
        lines.append({"description": line["Description"], "kind": kind,
                      "nominal": line["NominalCode"], "vat_level": _level(line["VATLevel"]),
                      "net": Decimal(str(line["Rate"])), "vat": Decimal(str(line["VATAmount"])),
                      "sources": sources.get(key, [])})
    return {**_row(summary), "customer_code": summary.customer_code,
            "post_attempts": summary.post_attempts, "lines": lines,
            "payments": summary.payments or [],
            "entries": [{"document": e.doc_kind, "magento_ref": e.magento_ref,
                           "magento_key": e.magento_key, "job_id": e.job_id,
                           "document_day": e.doc_day.isoformat(), "late": e.late,
                           "net": e.net, "vat": e.vat, "gross": e.gross} for e in entries],
            "open_lines": [] if summary.lines else _open_lines(sources)}


def _open_lines(sources: dict[tuple[str, int, str], list[dict[str, Any]]]
                ) -> list[dict[str, Any]]:
    """An open summary's groups so far (what its lines will be, before VAT rounding)."""
    return [{"description": f"{kind} at {level}% (nominal {nominal})", "kind": kind,
             "nominal": nominal, "vat_level": level,
             "net": sum((x["net"] for x in docs), Decimal(0)),
             "vat": sum((x["vat"] for x in docs), Decimal(0)), "sources": docs}
            for (kind, nominal, level), docs in sorted(sources.items())]


def export_csv(url: str, summary_id: int) -> str | None:
    """The summary's trace as CSV: one row per (line, source document). None: no summary."""
    detail = summary_detail(url, summary_id)
    if detail is None:
        return None
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for line in detail["lines"] or detail["open_lines"]:
        for src in line["sources"]:
            writer.writerow({"summary_id": detail["id"], "number": detail["number"] or "",
                             "kind": detail["kind"], "day": detail["day"],
                             "store": detail["store"], "currency": detail["currency"],
                             "line_kind": line["kind"], "nominal": line["nominal"],
                             "vat_level": line["vat_level"], **src})
    return out.getvalue()
