"""The mapping studio's pages (GET) under ``/mapping``: the version in force and the draft,
the SKU map, payments and VAT, policies, the live preview on a stored order, the impact of
the draft, the versions and the audit trail.

Thin shells over ``services.profiles`` (versions, draft) and ``services.studio`` (validation,
preview, impact, suggestions); the forms that change anything are
``ingest.dashboard.studio_actions``. Every page works on the *working document* (the draft,
or the version in force when there is no draft); nothing is in force until it is published.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Response, abort, render_template, request
from sqlalchemy import select

from ingest.app import current_settings
from ingest.dashboard import bp
from ingest.dashboard.studio_forms import POLICY_FIELDS, STEP_TOGGLES, policy_choices
from ingest.dashboard.views import pretty
from mappings.profile import Change
from mappings.rules import SEVERITIES
from mappings.studio import Problem
from services import catalogue, profiles, studio, studio_suggestions
from services import studio_preview as previews  # the view below is named studio_preview
from store.db import session_scope
from store.mapping_models import MappingSuggestion
from store.models import AuditEntry, SyncJob

RECENT_ORDERS = 50  # the preview's pick-list
AUDIT_ROWS = 500


def studio_url() -> str:
    """The database URL, with version 1 created from the mapping file when there is none
    (as the worker and ``kfsync mapping`` do; one indexed query once it exists)."""
    settings = current_settings()
    profiles.seed(settings.database_url, settings.mapping_file)
    return settings.database_url


def errors_by_row(problems: Iterable[Problem], table: str, keys: Iterable[str]
                  ) -> dict[str, list[str]]:
    """Error messages per row of ``table`` (``skus``...), for the *broken* markers."""
    out: dict[str, list[str]] = {}
    for problem in problems:
        rest = problem.path.removeprefix(f"{table}.")
        if problem.severity != "error" or rest == problem.path:
            continue
        for key in keys:
            if rest == key or rest.startswith(f"{key}."):
                out.setdefault(key, []).append(problem.message)
    return out


def open_suggestions(url: str, kind: str) -> dict[str, MappingSuggestion]:
    return {s.source_key: s for s in studio_suggestions.suggestions(url, "open", kind)}


def change_lines(changes: Iterable[dict[str, Any]]) -> list[str]:
    """A stored version's changes as ``~ path: before -> after`` lines."""
    return [str(Change(c["path"], c.get("before"), c.get("after"))) for c in changes]


@bp.get("/mapping")
def studio_home() -> str:
    url = studio_url()
    draft = profiles.draft(url)
    mapped, seen = studio.coverage_of(url)
    refresh_active, refresh_last = catalogue.refresh_status(current_settings().redis_url)
    return render_template(
        "studio.html", title="Mapping", current=profiles.active(url), draft=draft,
        refresh_active=refresh_active, refresh_last=refresh_last,
        draft_changes=[str(c) for c in draft.changes] if draft else [],
        problems=studio.problems(url), mapped=mapped, seen=seen,
        catalogue=catalogue.load(url), inbox=len(studio_suggestions.suggestions(url, "open")))


@bp.get("/mapping/skus")
def studio_skus() -> str:
    url = studio_url()
    skus: dict[str, dict[str, Any]] = profiles.working_document(url).get("skus", {})
    query = request.args.get("q", "").strip()
    wanted = query.casefold()
    rows = [(sku, rule) for sku, rule in sorted(skus.items())
            if wanted in sku.casefold() or wanted in str(rule.get("product_code") or "").casefold()]
    matched, unmapped = studio.seen_skus(url)
    return render_template(
        "studio_skus.html", title="SKU map", rows=rows, q=query, total=len(skus),
        broken=errors_by_row(studio.problems(url), "skus", skus),
        matched=matched, unmapped=unmapped, suggestions=open_suggestions(url, "sku"))


@bp.get("/mapping/skus.csv")
def studio_skus_csv() -> Response:
    text = studio.sku_csv(profiles.working_document(studio_url()))
    return Response(text, mimetype="text/csv", headers={
        "Content-Disposition": "attachment; filename=kfsync-skus.csv"})


@bp.get("/mapping/payments")
def studio_payments() -> str:
    url = studio_url()
    doc = profiles.working_document(url)
    problems = studio.problems(url)
    cat = catalogue.load(url)
    return render_template(
        "studio_payments.html", title="Payments and VAT", doc=doc,
        broken_methods=errors_by_row(problems, "payment_methods", doc["payment_methods"]),
        broken_vat=errors_by_row(problems, "vat_levels", doc["vat_levels"]),
        method_policies=policy_choices("unmapped_payment_method"),
        payment_suggestions=open_suggestions(url, "payment"),
        vat_suggestions=open_suggestions(url, "vat"), catalogue=cat,
        vat_rows=sorted(doc["vat_levels"].items(), key=lambda kv: numeric_first(kv[0])),
        kashflow_rates=sorted(cat.vat_rates, key=numeric_first))


def numeric_first(value: Any) -> tuple[bool, float, str]:
    """Sort key: numbers by value (0, 5, 20, not "0", "20", "5"), then codes by text."""
    try:
        return (False, float(str(value)), "")
    except ValueError:
        return (True, 0.0, str(value))


def render_policies(doc: dict[str, Any], error: str | None = None) -> str:
    return render_template("studio_policies.html", title="Policies", doc=doc, error=error,
                           fields=POLICY_FIELDS, toggles=STEP_TOGGLES, choices=policy_choices,
                           severities=SEVERITIES)


@bp.get("/mapping/policies")
def studio_policies() -> str:
    return render_policies(profiles.working_document(studio_url()))


@bp.get("/mapping/preview")
def studio_preview() -> str:
    url = studio_url()
    ref = request.args.get("order", "").strip()
    raw_version = request.args.get("version", "").strip()
    version = int(raw_version) if raw_version.isdigit() and int(raw_version) < 2**31 else None
    chosen = published = error = None
    if ref:
        try:
            chosen, published = previews.preview(url, ref, version=version)
        except profiles.ProfileError as exc:
            error = str(exc)
    return render_template(
        "studio_preview.html", title="Preview", ref=ref, version=version, error=error,
        chosen=chosen, published=published, recent=recent_orders(url), pretty=pretty)


def recent_orders(url: str) -> list[SyncJob]:
    with session_scope(url) as s:
        return list(s.scalars(select(SyncJob).where(
            SyncJob.kind == "order", SyncJob.document.is_not(None))
            .order_by(SyncJob.id.desc()).limit(RECENT_ORDERS)))


@bp.get("/mapping/impact")
def studio_impact() -> str:
    url = studio_url()
    return render_template("studio_impact.html", title="Impact", impact=previews.impact(url),
                           has_draft=profiles.draft(url) is not None)


@bp.get("/mapping/versions")
def studio_versions() -> str:
    return render_template("studio_versions.html", title="Versions",
                           versions=profiles.versions(studio_url()))


@bp.get("/mapping/versions/<int(max=2147483647):number>")
def studio_version(number: int) -> str:
    url = studio_url()
    try:
        version = profiles.get_version(url, number)
    except profiles.ProfileError:
        abort(404)
    return render_template("studio_version.html", title=f"Version {number}", version=version,
                           changes=change_lines(version.changes),
                           in_force=profiles.active_id(url) == number)


@bp.get("/mapping/versions/<int(max=2147483647):number>.yml")
def studio_export(number: int) -> Response:
    try:
        text = profiles.export_yaml(studio_url(), number)
    except profiles.ProfileError:
        abort(404)
    return Response(text, mimetype="application/x-yaml", headers={
        "Content-Disposition": f"attachment; filename=kfsync-profile-v{number}.yml"})


@bp.get("/mapping/audit")
def studio_audit() -> str:
    with session_scope(studio_url()) as s:
        rows = list(s.scalars(select(AuditEntry).where(AuditEntry.action.like("mapping-%"))
                              .order_by(AuditEntry.id.desc()).limit(AUDIT_ROWS)))
    return render_template("studio_audit.html", title="Mapping audit", rows=rows)
