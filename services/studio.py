"""The mapping studio's operations: validation, preview, impact, suggestions, CSV.

The dashboard (``ingest/dashboard/studio.py``), the ops API (``/api/v1/mapping``) and the CLI
(``kfsync mapping``) all call these; the versions themselves are ``services.profiles``.

- ``preview(url, ref)``: the exact ``POST /invoices`` body the draft would post for a stored
  order (the same ``build_invoice_draft`` the worker runs), the rule behind each line, the
  penny guard's verdict, the checks that fire, and the field-by-field difference from the
  published profile's body.
- ``impact(url)``: the draft replayed over the last 200 stored orders: which would change,
  and how.
- ``run_suggestions``: the cold-start run over the SKUs, payment methods and VAT rates seen
  in the last 90 days that no rule maps. Exact and normalised code matches and learned
  aliases are applied to the draft by themselves (status ``applied``: a human still
  publishes); the rest wait in the inbox (``open``) for one-click accept or reject.
  Accepting teaches an alias, so the next similar SKU is matched by itself.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from mappings.checks import Finding, run_checks
from mappings.customers import customer_code
from mappings.errors import MappingError
from mappings.magento import parse_order
from mappings.orders import build_invoice_draft, build_payments
from mappings.profile import diff_documents, parse_document
from mappings.rules import Rules, with_products
from mappings.skus import MAPPED, MATCHED, SkuMapping, how_mapped, map_sku
from mappings.studio import Problem, coverage, explain_line, validate
from mappings.suggest import Product, SkuMatcher, alias_key, suggest_payment_method, suggest_vat
from services import catalogue, product_cache, profiles
from store.db import session_scope
from store.mapping_models import MappingAlias, MappingSuggestion
from store.models import SyncJob

IMPACT_ORDERS = 200


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


# --- preview ------------------------------------------------------------------------------

@dataclass(frozen=True)
class PreviewLine:
    body: dict[str, Any]
    rule: str
    how: str = ""  # item lines: mapped, matched by code, suggested, unmapped
    sku: str | None = None


@dataclass
class Preview:
    """What one profile makes of one stored order."""

    job_id: int
    order_ref: str | None
    label: str                       # "draft" or "version 3"
    customer_code: str | None
    customer_note: str
    body: dict[str, Any] | None      # the exact POST /invoices body, or None on an error
    lines: list[PreviewLine] = field(default_factory=list)
    error: str | None = None         # why no invoice would be posted (a review reason)
    penny: str = ""                  # the penny guard's verdict
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    payments: list[dict[str, Any]] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)  # against the published profile


def find_job(url: str, ref: str | int) -> SyncJob | None:
    """A stored order job by job id, Magento entity id or increment id."""
    text = str(ref).strip()
    with session_scope(url) as s:
        query = select(SyncJob).where(SyncJob.kind == "order", SyncJob.document.is_not(None))
        if text.isascii() and text.isdigit():  # not "²", which int() refuses
            job_id = int(text) if int(text) < 2**31 else -1  # job ids are 32-bit integers
            found = s.scalars(query.where(SyncJob.id == job_id)).first()
            if found is not None:
                return found
            found = s.scalars(query.where(SyncJob.magento_key == text)).first()
            if found is not None:
                return found
        return s.scalars(query.where(SyncJob.magento_ref == text)).first()


def build_preview(job: SyncJob, rules: Rules, label: str) -> Preview:
    """The invoice ``rules`` would post for ``job``'s order (pure apart from the job row)."""
    doc = job.document or {}
    preview = Preview(job.id, job.magento_ref, label, None, "", None)
    try:
        order = parse_order(doc)
    except MappingError as exc:
        preview.error = str(exc)
        return preview
    preview.findings = run_checks(order, rules)
    if job.customer_code:
        preview.customer_code = job.customer_code
        preview.customer_note = "the KashFlow customer this order was matched or created as"
    else:
        try:
            preview.customer_code = customer_code(order, rules)
            preview.customer_note = ("the code kfsync would create; an existing KashFlow "
                                     "customer with the same email is matched first")
        except MappingError as exc:
            preview.error = str(exc)
            return preview
    try:
        draft = build_invoice_draft(order, rules, preview.customer_code)
    except MappingError as exc:
        preview.error = str(exc)
        preview.penny = f"would not post: {exc}"
        return preview
    preview.body = draft.body
    preview.lines = [PreviewLine(line.to_kashflow(), explain_line(line, rules), line.how,
                                 line.sku)
                     for line in draft.lines]
    preview.notes = draft.notes + ([draft.skipped_reason] if draft.skipped_reason else [])
    preview.penny = (f"ok: the lines total {draft.expected_gross}, which KashFlow must report "
                     f"as GrossAmount (grand_total {order.grand_total})")
    try:
        preview.payments = [{k: v for k, v in asdict(p).items() if v is not None}
                            for p in build_payments(order, rules)]
    except MappingError as exc:
        preview.notes.append(f"payment: {exc}")
    return preview


def preview(url: str, ref: str | int, *, version: int | None = None) -> tuple[Preview, Preview]:
    """(chosen, published): the draft's (or ``version``'s) preview and the published one's,
    with ``chosen.changes`` listing the differences.

    Raises:
        profiles.ProfileError: no such stored order or version.
    """
    job = find_job(url, ref)
    if job is None:
        raise profiles.ProfileError(f"no stored order {ref!r} (job id, entity id or increment id)")
    published, index = profiles.active(url), product_cache.product_index(url)
    base = build_preview(job, with_products(published.rules, index),
                         f"version {published.id} (published)")
    if version is not None:
        view = profiles.get_version(url, version)
        chosen = build_preview(job, with_products(view.rules, index), f"version {view.id}")
    else:
        current = profiles.draft(url)
        if current is None:
            chosen = base
        else:
            chosen = build_preview(job, with_products(parse_document(current.document), index),
                                   "draft")
    chosen.changes = compare(base, chosen)
    return chosen, base


def compare(before: Preview, after: Preview) -> list[str]:
    """What differs between two previews of one order, one line per difference."""
    if before is after:
        return []
    out: list[str] = []
    if (before.error is None) != (after.error is None) or before.error != after.error:
        out.append(f"outcome: {before.error or 'posts'} -> {after.error or 'posts'}")
    if before.body is not None and after.body is not None:
        out += [str(c) for c in diff_documents(_plain(before.body), _plain(after.body))]
    worst_before = sorted(f"{f.check}:{f.severity}" for f in before.findings)
    worst_after = sorted(f"{f.check}:{f.severity}" for f in after.findings)
    if worst_before != worst_after:
        out.append(f"checks: {', '.join(worst_before) or 'none'} -> "
                   f"{', '.join(worst_after) or 'none'}")
    return out


def _plain(body: dict[str, Any]) -> dict[str, Any]:
    """The body with line items keyed by position, so a diff names ``LineItems.2.NominalCode``."""
    out = {k: v for k, v in body.items() if k != "LineItems"}
    out["LineItems"] = {str(i + 1): line for i, line in enumerate(body.get("LineItems", []))}
    result: dict[str, Any] = _stringify(out)
    return result


def _stringify(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _stringify(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stringify(v) for v in value]
    return value


@dataclass(frozen=True)
class Impact:
    replayed: int
    changed: list[Preview]       # previews of the draft whose body or outcome changes

    @property
    def unchanged(self) -> int:
        return self.replayed - len(self.changed)


def impact(url: str, limit: int = IMPACT_ORDERS, document: dict[str, Any] | None = None
           ) -> Impact:
    """Replay the draft (or ``document``) over the last ``limit`` stored orders."""
    doc = document if document is not None else profiles.working_document(url)
    index = product_cache.product_index(url)
    draft_rules, published = parse_document(doc, "draft"), profiles.active(url)
    draft_rules = with_products(draft_rules, index)
    published_rules = with_products(published.rules, index)
    with session_scope(url) as s:
        jobs = list(s.scalars(select(SyncJob).where(
            SyncJob.kind == "order", SyncJob.document.is_not(None))
            .order_by(SyncJob.id.desc()).limit(limit)))
    changed = []
    for job in jobs:
        before = build_preview(job, published_rules, f"version {published.id}")
        after = build_preview(job, draft_rules, "draft")
        after.changes = compare(before, after)
        if after.changes:
            changed.append(after)
    return Impact(len(jobs), changed)


# --- suggestions --------------------------------------------------------------------------

@dataclass(frozen=True)
class SuggestReport:
    applied: int
    waiting: int
    covered: tuple[int, int]  # (mapped, seen) SKUs after the run


def _aliases(url: str, kind: str) -> dict[str, str]:
    with session_scope(url) as s:
        return {a.alias: a.target for a in s.scalars(
            select(MappingAlias).where(MappingAlias.kind == kind))}


def matcher(url: str, semantic: bool = False) -> SkuMatcher:
    """The SKU matcher over the cached catalogue and the learned aliases; ``semantic`` adds
    the optional embedding (``services.semantic``: workers only, never the web process)."""
    products = [Product(p.code, p.name, p.nominal_code) for p in catalogue.load(url).products]
    if not semantic:
        return SkuMatcher(products, _aliases(url, "sku"))
    from services.semantic import similarity

    return SkuMatcher(products, _aliases(url, "sku"), similarity)


def run_suggestions(url: str, actor: str = "kfsync", semantic: bool = False) -> SuggestReport:
    """Suggest targets for every unmapped SKU, method and VAT rate seen in the last 90 days."""
    rules = with_products(parse_document(profiles.working_document(url)),
                          product_cache.product_index(url))
    seen = catalogue.seen(url)
    cat = catalogue.load(url)
    engine = matcher(url, semantic)
    proposals: list[tuple[str, str, str | None, list[Any]]] = []
    for sku, name in sorted(seen.skus.items()):
        if how_mapped(sku, rules) not in (MAPPED, MATCHED):  # a code match needs no row
            proposals.append(("sku", sku, name, engine.suggest(sku, name)))
    methods = [(str(i), n) for i, n in cat.payment_methods.items()]
    for method in sorted(seen.methods):
        if method not in rules.payment_methods and method not in rules.offline_payment_methods:
            proposals.append(("payment", method, method,
                              suggest_payment_method(method, None, methods)))
    rates = [(str(r), r, f"{r}%") for r in cat.vat_rates]
    for rate in sorted(seen.vat_rates):
        if rate not in rules.vat_levels:
            proposals.append(("vat", rate, f"{rate}%", suggest_vat(Decimal(rate), rates)))
    applied: list[int] = []
    waiting = 0
    with session_scope(url) as s:
        for kind, key, label, top in proposals:
            row = s.scalars(select(MappingSuggestion).where(
                MappingSuggestion.kind == kind, MappingSuggestion.source_key == key)).first()
            if row is not None and row.status in ("accepted", "applied", "rejected"):
                continue  # decided before; a rejected one is not asked again
            data = {"top": [_suggestion_dict(x) for x in top]}
            status = "applied" if top and top[0].auto else "open"
            if row is None:
                row = MappingSuggestion(kind=kind, source_key=key, source_label=label,
                                        candidates=data, status="open")
                s.add(row)
            row.candidates, row.source_label = data, label
            s.flush()
            if status == "applied":
                applied.append(row.id)
            else:
                waiting += 1
    for suggestion_id in applied:
        accept(url, suggestion_id, actor, 0, status="applied")
    return SuggestReport(len(applied), waiting, coverage_of(url))


def _suggestion_dict(s: Any) -> dict[str, Any]:
    return {"target": s.target, "label": s.label, "confidence": round(float(s.confidence), 3),
            "reason": s.reason, "auto": bool(s.auto), "nominal_code": s.nominal_code}


def suggestions(url: str, status: str | None = "open", kind: str | None = None
                ) -> list[MappingSuggestion]:
    with session_scope(url) as s:
        query = select(MappingSuggestion).order_by(MappingSuggestion.kind,
                                                   MappingSuggestion.source_key)
        if status:
            query = query.where(MappingSuggestion.status == status)
        if kind:
            query = query.where(MappingSuggestion.kind == kind)
        return list(s.scalars(query))


def accept(url: str, suggestion_id: int, actor: str, choice: int = 0, *,
           status: str = "accepted") -> MappingSuggestion:
    """Write suggestion ``choice`` (0 = the best) into the draft and learn an alias.

    Raises:
        profiles.ProfileError: no such suggestion, already decided, or no such choice.
    """
    with session_scope(url) as s:
        row = s.get(MappingSuggestion, suggestion_id)
        if row is None:
            raise profiles.ProfileError(f"no suggestion {suggestion_id}")
        if row.status in ("accepted", "rejected"):
            raise profiles.ProfileError(f"suggestion {suggestion_id} was already {row.status}")
        top = row.candidates.get("top", [])
        if not 0 <= choice < len(top):
            raise profiles.ProfileError(f"suggestion {suggestion_id} has no choice {choice + 1}")
        kind, key, label, pick = row.kind, row.source_key, row.source_label, top[choice]

    def edit(doc: dict[str, Any]) -> str:
        return _apply(doc, kind, key, pick)

    action = "mapping-accept" if status == "accepted" else "mapping-auto-apply"
    profiles.edit_draft(url, actor, edit, action=action)
    with session_scope(url) as s:
        row = s.get(MappingSuggestion, suggestion_id)
        assert row is not None
        row.status, row.chosen = status, str(pick["target"])
        row.decided_by, row.decided_at = actor, datetime.now(UTC)
        if kind == "sku" and status == "accepted":
            for alias in alias_key(key, label):
                found = s.scalars(select(MappingAlias).where(
                    MappingAlias.kind == "sku", MappingAlias.alias == alias)).first()
                if found is None:
                    s.add(MappingAlias(kind="sku", alias=alias, target=str(pick["target"]),
                                       learned_from=row.id, created_by=actor))
                else:
                    found.target = str(pick["target"])
        s.flush()
        s.expunge(row)
        return row


def _apply(doc: dict[str, Any], kind: str, key: str, pick: dict[str, Any]) -> str:
    target = str(pick["target"])
    if kind == "sku":
        nominal = pick.get("nominal_code") or doc.get("default_nominal_code", 4000)
        doc.setdefault("skus", {})[key] = {"nominal_code": int(nominal), "product_code": target}
        return f"skus.{key} -> product {target} on nominal {nominal} ({pick['reason']})"
    if kind == "payment":
        entry = {"method_id": int(target), "account_id": None, "method_name": None,
                 "due_days": None}
        doc.setdefault("payment_methods", {})[key] = entry
        return f"payment_methods.{key} -> KashFlow method {target} ({pick['label']})"
    doc.setdefault("vat_levels", {})[key] = target
    return f"vat_levels.{key} -> {target}% ({pick['reason']})"


def reject(url: str, suggestion_ids: Iterable[int], actor: str) -> int:
    count = 0
    with session_scope(url) as s:
        for suggestion_id in suggestion_ids:
            row = s.get(MappingSuggestion, suggestion_id)
            if row is None or row.status != "open":
                continue
            row.status, row.decided_by, row.decided_at = "rejected", actor, datetime.now(UTC)
            profiles.audit(s, actor, "mapping-reject", f"mapping_suggestions/{row.id}",
                           f"{row.kind} {row.source_key}")
            count += 1
    return count


def bulk_accept(url: str, suggestion_ids: Sequence[int], actor: str) -> int:
    """Accept the best choice of each open suggestion; returns how many were accepted."""
    done = 0
    for suggestion_id in suggestion_ids:
        try:
            accept(url, suggestion_id, actor)
        except profiles.ProfileError:
            continue
        done += 1
    return done


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
