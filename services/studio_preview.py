"""What the mapping studio's draft would do: the preview of one order and the impact over many.

- ``preview(url, ref)``: the exact ``POST /invoices`` body the draft would post for a stored
  order (the same ``build_invoice_draft`` the worker runs), the rule behind each line, the
  penny guard's verdict, the checks that fire, and the field-by-field difference from the
  published profile's body.
- ``impact(url)``: the draft replayed over the last 200 stored orders: which would change,
  and how.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from mappings.checks import Finding, run_checks
from mappings.customers import customer_code
from mappings.errors import MappingError
from mappings.lifecycle import decide
from mappings.magento import Order, parse_order
from mappings.orders import build_invoice_draft, build_payments
from mappings.profile import diff_documents, parse_document
from mappings.routing import route
from mappings.rules import Rules, with_products
from mappings.studio import explain_line
from services import product_cache, profiles
from store.db import session_scope
from store.models import SyncJob

IMPACT_ORDERS = 200


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
    # The order's path through the flow: (node, what happens there), the routes that match.
    path: list[tuple[str, str]] = field(default_factory=list)
    action: str = ""  # the decision: invoice, wait, skip, review
    routes: list[str] = field(default_factory=list)


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
    preview.path = order_path(order, rules)
    preview.action = preview.path[0][1].split(":", 1)[0]
    routed = route(order, rules)
    preview.routes = [f"route {n}: {rules.routes[n - 1].describe()}" for n in routed.matched]
    billed = routed.text("use_customer")
    if billed is not None:
        preview.customer_code = billed
        preview.customer_note = f"{routed.says('use_customer')}: an existing KashFlow customer"
    elif job.customer_code:
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


def order_path(order: Order, rules: Rules) -> list[tuple[str, str]]:
    """The nodes the order passes with ``rules`` now, and what happens at each (the runner's
    own decision, ``mappings.lifecycle.decide``, with its routes)."""
    try:
        decision = decide(order, rules)
    except MappingError as exc:
        return [("decide", f"review: {exc}")]
    path = [("decide", f"{decision.action}: {decision.reason}")]
    if decision.action != "invoice":
        return path
    path.append(("ensure_customer", "match or create the KashFlow customer"))
    path.append(("create_invoice", "post the sales invoice"))
    path.append(("post_payment", f"pay: {decision.pay_reason}" if decision.pay
                 else f"not run: {decision.pay_reason}"))
    return path


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
    if before.path and after.path and before.path[0] != after.path[0]:
        out.append(f"path: {before.path[0][1]} -> {after.path[0][1]}")
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
