"""The mapping studio's forms (POST): edits of the draft, suggestions, catalogue refresh,
publish, discard, rollback and YAML/CSV import.

Every form carries its CSRF token (checked in ``ingest.dashboard``), calls one service of
``services.profiles`` / ``services.studio`` / ``services.catalogue`` as actor ``dashboard:<user>``
(the services write the audit log), and flashes the outcome or the one-line error on the
page the operator comes back to. A rejected edit stores nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import flash, redirect, request, url_for
from redis.exceptions import RedisError
from werkzeug.wrappers import Response

from ingest.app import current_settings
from ingest.auth import actor as _actor
from ingest.dashboard import bp, safe_path
from ingest.dashboard.studio import render_policies, studio_url
from ingest.dashboard.studio_forms import (
    apply_policies,
    describe_rule,
    number,
    offline_methods,
    payment_rule,
)
from mappings.errors import MappingError
from services import catalogue, profiles, studio, studio_suggestions
from workers.dispatch import publish_task

MAX_IDS = 5000
REFRESH_TASK = "kfsync.maintenance.refresh_catalogue"
FAILURES = (profiles.ProfileError, MappingError)
Edit = Callable[[dict[str, Any]], str]


def _back(default: str) -> Response:
    return redirect(safe_path(request.form.get("back")) or url_for(default))


def _outcome(run: Callable[[], str], default: str) -> Response:
    """Run one service call; flash its message, or the error it raised (nothing stored)."""
    try:
        flash(run(), "ok")
    except FAILURES as exc:
        flash(str(exc), "error")
    return _back(default)


def _edit(change: Edit, default: str) -> Response:
    """Apply ``change`` to the working document and save it as the draft."""
    notes: list[str] = []

    def noted(doc: dict[str, Any]) -> str:
        notes.append(change(doc))
        return notes[-1]

    def run() -> str:
        profiles.edit_draft(studio_url(), actor(), noted)
        return f"Draft saved: {notes[-1]}. Publish it on the Mapping page to put it in force."
    return _outcome(run, default)


def _ids() -> list[int]:
    values = request.form.getlist("ids")
    return sorted({int(v) for v in values if v.isdigit() and 0 < int(v) < 2**31})[:MAX_IDS]


def _text(field: str, upload: str) -> str:
    """A pasted text, or the uploaded file's (the file wins when both are given)."""
    sent = request.files.get(upload)
    if sent is not None and sent.filename:
        return str(sent.read().decode("utf-8-sig", errors="replace"))
    return request.form.get(field, "")


def _field(name: str) -> str:
    return request.form.get(name, "").strip()


# --- the version in force and the draft ---------------------------------------------------

@bp.post("/mapping/refresh")
def studio_refresh() -> Response:
    """Queue the catalogue refresh for a worker (it calls KashFlow and Magento; no web request
    does); the studio page shows its progress."""
    redis_url, who = current_settings().redis_url, actor()
    active, _ = catalogue.refresh_status(redis_url)
    if active is not None and active.active:
        flash(f"A catalogue refresh is already {active.state} (since {active.at:%H:%M:%S} UTC, "
              f"asked by {active.by}).", "ok")
        return _back("dashboard.studio_home")
    try:
        catalogue.mark_refresh(redis_url, "queued", who)
    except RedisError:
        flash("Catalogue refresh not queued: Redis does not answer. Try again in a minute, or "
              "run kfsync mapping refresh.", "error")
        return _back("dashboard.studio_home")
    if publish_task(REFRESH_TASK, [who], then="the studio asks again"):
        flash("Catalogue refresh queued: a worker reads KashFlow and Magento, and this page "
              "shows its progress.", "ok")
    else:
        catalogue.clear_refresh(redis_url)
        flash("Catalogue refresh not queued: the broker does not answer. Try again in a minute, "
              "or run kfsync mapping refresh.", "error")
    return _back("dashboard.studio_home")


@bp.post("/mapping/suggest")
def studio_suggest() -> Response:
    if current_settings().semantic_suggestions:
        # The embedding model never loads in the web process: a worker runs it.
        if publish_task("kfsync.maintenance.run_suggestions", [actor()],
                        then="the studio asks again"):
            flash("Suggestions are being computed by a worker (with meaning-based ranking); "
                  "reload this page in a minute.", "ok")
        else:
            flash("Suggestions not queued: the broker does not answer. Try again in a minute, "
                  "or run kfsync mapping suggest.", "error")
        return _back("dashboard.studio_home")

    def run() -> str:
        report = studio_suggestions.run_suggestions(studio_url(), actor())
        mapped, seen = report.covered
        return (f"Suggestions: {report.applied} applied to the draft (exact code or learned "
                f"alias), {report.waiting} waiting for you; {mapped} of {seen} recent SKUs "
                "mapped.")
    return _outcome(run, "dashboard.studio_home")


@bp.post("/mapping/publish")
def studio_publish() -> Response:
    def run() -> str:
        version = studio.publish(studio_url(), actor(), _field("comment")[:2000] or None)
        return f"Published version {version.id}: it is in force for the next order."
    return _outcome(run, "dashboard.studio_home")


@bp.post("/mapping/discard")
def studio_discard() -> Response:
    def run() -> str:
        gone = profiles.discard_draft(studio_url(), actor())
        return "Draft discarded." if gone else "There was no draft to discard."
    return _outcome(run, "dashboard.studio_home")


# --- SKU map ------------------------------------------------------------------------------

@bp.post("/mapping/skus/save")
def studio_sku_save() -> Response:
    sku, original = _field("sku"), _field("original")
    nominal, product = number(request.form.get("nominal_code")), _field("product_code") or None

    def change(doc: dict[str, Any]) -> str:
        if not sku:
            raise MappingError("a SKU row needs a SKU")
        skus = doc.setdefault("skus", {})
        if original and original != sku:
            skus.pop(original, None)
        skus[sku] = {"nominal_code": nominal, "product_code": product}
        return f"skus.{sku} -> nominal {nominal}" + (f", product {product}" if product else "")
    return _edit(change, "dashboard.studio_skus")


@bp.post("/mapping/skus/delete")
def studio_sku_delete() -> Response:
    sku = _field("sku")

    def change(doc: dict[str, Any]) -> str:
        if doc.get("skus", {}).pop(sku, None) is None:
            raise MappingError(f"SKU {sku!r} is not in the SKU map")
        return f"skus.{sku} removed"
    return _edit(change, "dashboard.studio_skus")


@bp.post("/mapping/skus/import")
def studio_sku_import() -> Response:
    text = _text("csv", "csv_file")
    return _outcome(lambda: f"Imported {studio.import_sku_csv(studio_url(), text, actor())} "
                    "SKU row(s) into the draft.", "dashboard.studio_skus")


# --- suggestions --------------------------------------------------------------------------

@bp.post("/mapping/suggestions/<int(max=2147483647):suggestion_id>/accept")
def studio_accept(suggestion_id: int) -> Response:
    raw = _field("choice")
    choice = int(raw) if raw.isdigit() and int(raw) < 100 else 0

    def run() -> str:
        row = studio_suggestions.accept(studio_url(), suggestion_id, actor(), choice)
        return (f"Accepted: {row.kind} {row.source_key} -> {row.chosen} (in the draft; "
                "the alias is learned).")
    return _outcome(run, "dashboard.studio_skus")


@bp.post("/mapping/suggestions/reject")
def studio_reject() -> Response:
    ids = _ids()
    return _outcome(lambda: f"Rejected {studio_suggestions.reject(studio_url(), ids, actor())} "
                    "suggestion(s): they are not asked again.", "dashboard.studio_skus")


@bp.post("/mapping/suggestions/bulk-accept")
def studio_bulk_accept() -> Response:
    ids = _ids()
    if not ids:
        flash("Tick at least one row first.", "error")
        return _back("dashboard.studio_skus")
    return _outcome(lambda: "Accepted the best suggestion for "
                    f"{studio_suggestions.bulk_accept(studio_url(), ids, actor())} "
                    f"of {len(ids)} row(s).",
                    "dashboard.studio_skus")


# --- payments and VAT ---------------------------------------------------------------------

@bp.post("/mapping/payments/save")
def studio_payment_save() -> Response:
    code, rule = _field("code"), payment_rule(request.form)

    def change(doc: dict[str, Any]) -> str:
        if not code:
            raise MappingError("a payment method row needs the Magento method code")
        doc.setdefault("payment_methods", {})[code] = rule
        return f"payment_methods.{code} -> {describe_rule(rule)}"
    return _edit(change, "dashboard.studio_payments")


@bp.post("/mapping/payments/delete")
def studio_payment_delete() -> Response:
    code = _field("code")

    def change(doc: dict[str, Any]) -> str:
        if doc.get("payment_methods", {}).pop(code, None) is None:
            raise MappingError(f"payment method {code!r} is not mapped")
        return f"payment_methods.{code} removed"
    return _edit(change, "dashboard.studio_payments")


@bp.post("/mapping/payments/policy")
def studio_payment_policy() -> Response:
    offline, policy = offline_methods(request.form.get("offline", "")), _field("policy")

    def change(doc: dict[str, Any]) -> str:
        doc["offline_payment_methods"], doc["unmapped_payment_method"] = offline, policy
        return f"offline_payment_methods: {', '.join(offline)}; unmapped_payment_method: {policy}"
    return _edit(change, "dashboard.studio_payments")


@bp.post("/mapping/vat/save")
def studio_vat_save() -> Response:
    key, level = _field("key"), _field("level")

    def change(doc: dict[str, Any]) -> str:
        if not key:
            raise MappingError("a VAT row needs the Magento rate (or tax code)")
        doc.setdefault("vat_levels", {})[key] = level
        return f"vat_levels.{key} -> {level}"
    return _edit(change, "dashboard.studio_payments")


@bp.post("/mapping/vat/delete")
def studio_vat_delete() -> Response:
    key = _field("key")

    def change(doc: dict[str, Any]) -> str:
        if doc.get("vat_levels", {}).pop(key, None) is None:
            raise MappingError(f"VAT rate {key!r} is not mapped")
        return f"vat_levels.{key} removed"
    return _edit(change, "dashboard.studio_payments")


# --- policies, versions, import -----------------------------------------------------------

@bp.post("/mapping/policies")
def studio_policies_save() -> Response | tuple[str, int]:
    url = studio_url()
    doc = apply_policies(profiles.working_document(url), request.form)
    try:
        profiles.save_draft(url, doc, actor())
    except MappingError as exc:
        return render_policies(doc, str(exc)), 400  # shown again with what was typed
    flash("Draft saved: policies. Publish it on the Mapping page to put it in force.", "ok")
    return redirect(url_for("dashboard.studio_policies"))


@bp.post("/mapping/versions/<int(max=2147483647):number>/rollback")
def studio_rollback(number: int) -> Response:
    def run() -> str:
        new = profiles.rollback(studio_url(), number, actor(), _field("comment")[:2000] or None)
        return f"Rolled back: version {new.id} is in force with version {number}'s rules."
    return _outcome(run, "dashboard.studio_versions")


@bp.post("/mapping/import")
def studio_import() -> Response:
    sent = request.files.get("yaml_file")
    name = (sent.filename if sent is not None and sent.filename else "pasted YAML")[:200]
    text = _text("yaml", "yaml_file")

    try:
        draft = profiles.import_yaml(studio_url(), text, actor(), source_name=name)
    except MappingError as exc:
        flash(f"Nothing imported: {exc}", "error")
        return redirect(url_for("dashboard.studio_versions"))
    flash(f"Imported {name} as the draft: {len(draft.changes)} change(s) against the version "
          "in force, listed below. Nothing is in force until you publish.", "ok")
    return redirect(url_for("dashboard.studio_home"))


def actor() -> str:
    """The audit log's name for the operator: ``dashboard:<user>``."""
    return _actor("dashboard")
