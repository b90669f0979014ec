"""Dashboard pages (GET): overview, jobs, one job, dead letters, one dead letter, review."""

from __future__ import annotations

from typing import Any

import simplejson
from flask import abort, render_template, request
from marshmallow import ValidationError

from ingest.api.schemas import JobQuery, LetterQuery
from ingest.app import current_settings
from ingest.dashboard import bp, jobpage
from ingest.dashboard.pairsel import select_pair
from ingest.queries import (
    as_utc,
    job_links,
    job_with_attempts,
    jobs_query,
    open_letters_for_job,
    paginate,
    pair_overview,
    stats,
)
from ingest.sources.activity import push_activity
from services.ledger import order_ledger
from store.db import session_scope
from store.models import DeadLetter, JobState, SyncJob
from workers.operations import LetterFilter, letter_pairs, letter_subjects, letters_query

PER_PAGE = 50
_job_query, _letter_query = JobQuery(), LetterQuery()


def _args(schema: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Validated filters (bad ones are dropped and reported) and the raw values for the form."""
    raw = {k: v for k, v in request.args.items() if v != ""}
    try:
        return schema.load(raw), {}
    except ValidationError as exc:
        errors = exc.normalized_messages()  # type: ignore[no-untyped-call]
        good = {k: v for k, v in raw.items() if k not in errors}
        return schema.load(good), errors


def pretty(document: Any) -> str:
    return str(simplejson.dumps(document, use_decimal=True, indent=2, sort_keys=True,
                                default=str))


@bp.get("/")
def overview() -> str:
    settings = current_settings()
    chosen = select_pair()
    with session_scope(settings.database_url) as s:
        data = stats(s, settings.redis_url, chosen.current,
                     chosen.names if chosen.shown else ())
        sources = push_activity(s)
        per_pair = pair_overview(s, settings.redis_url, list(chosen.names)) if chosen.shown else []
    peak = max([h["orders"] for h in data["synced_per_hour"]] + [1])
    return render_template("overview.html", stats=data, peak=peak, sources=sources,
                           synced_24h=sum(h["orders"] for h in data["synced_per_hour"]),
                           pairsel=chosen, per_pair=per_pair)


@bp.get("/jobs")
def jobs() -> str:
    args, errors = _args(_job_query)
    chosen = select_pair()
    args["pair"] = chosen.current
    with session_scope(current_settings().database_url) as s:
        page = paginate(s, jobs_query(args.get("state"), args.get("kind"), args.get("q"),
                                      chosen.current),
                        args["page"], PER_PAGE)
    return render_template("jobs.html", page=page, args=args, errors=errors,
                           states=[x.value for x in JobState], title="Jobs", pairsel=chosen)


@bp.get("/jobs/<int(max=2147483647):job_id>")
def job(job_id: int) -> str:
    settings = current_settings()
    with session_scope(settings.database_url) as s:
        found = job_with_attempts(s, job_id)
        if found is None:
            abort(404)
        links = job_links(s, found)
        letters = open_letters_for_job(s, job_id)
        attempts = list(found.attempts)
        ledger = order_ledger(s, found)
    magento, kashflow = jobpage.magento_side(found.document), jobpage.kashflow_side(found.plan)
    return render_template(
        "job.html", job=found, attempts=attempts, links=links, letters=letters, ledger=ledger,
        document=pretty(found.document) if found.document else "", held=_held(found),
        magento=magento, kashflow=kashflow, agree=jobpage.totals_agree(magento, kashflow),
        plan_rows=jobpage.plan_rows(found.plan),
        magento_link=jobpage.magento_admin_link(settings, found.magento_key, found.magento_ref),
        kashflow_link=jobpage.kashflow_invoice_link(settings, found.invoice_number))


def _held(job: SyncJob) -> bool:
    return job.state in (JobState.NEEDS_REVIEW, JobState.DEAD)


@bp.get("/dead-letters")
def letters() -> str:
    args, errors = _args(_letter_query)
    chosen = select_pair()
    args["pair"] = chosen.current
    flt = LetterFilter(entity=args.get("entity"), error_class=args.get("error_class"),
                       since=args.get("since"), until=args.get("until"),
                       include_resolved=args["include_resolved"], pair=chosen.current)
    with session_scope(current_settings().database_url) as s:
        page = paginate(s, letters_query(flt), args["page"], PER_PAGE)
        subjects = letter_subjects(s, list(page.items))
        pair_of = letter_pairs(s, list(page.items)) if chosen.shown else {}
    return render_template("letters.html", page=page, args=args, errors=errors,
                           raw=request.args, title="Dead letters", subjects=subjects,
                           pairsel=chosen, pair_of=pair_of)


@bp.get("/dead-letters/<int(max=2147483647):letter_id>")
def letter(letter_id: int) -> str:
    with session_scope(current_settings().database_url) as s:
        found = s.get(DeadLetter, letter_id)
        if found is None:
            abort(404)
        job = s.get(SyncJob, found.job_id) if found.job_id is not None else None
    return render_template("letter.html", letter=found, job=job)


@bp.get("/review")
def review() -> str:
    raw = request.args.get("page", "1")
    page_no = int(raw) if raw.isdigit() and 0 < int(raw) < 10**6 else 1
    with session_scope(current_settings().database_url) as s:
        page = paginate(s, jobs_query(JobState.NEEDS_REVIEW), page_no, PER_PAGE)
    return render_template("review.html", page=page, title="Review")


@bp.app_template_filter("when")
def when(value: Any) -> str:
    """A UTC time as ``2026-11-24 10:00:03``."""
    stamp = as_utc(value)
    return stamp.strftime("%Y-%m-%d %H:%M:%S") if stamp else ""


@bp.app_template_filter("reject_page")
def reject_page(args: dict[str, Any]) -> dict[str, str]:
    """Filter values for a pagination link (without the page itself)."""
    out: dict[str, str] = {}
    for key, value in args.items():
        if key in ("page", "per_page") or value in (None, False, ""):
            continue
        out[key] = value.isoformat() if hasattr(value, "isoformat") else (
            "true" if value is True else str(value))
    return out
