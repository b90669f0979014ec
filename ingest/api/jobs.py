"""``/api/v1/jobs`` (list, detail) and ``/api/v1/review`` (jobs held for review: list,
requeue, discard). Requeue and discard are ``workers.operations``, audited as ``api:<user>``."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from core.settings import Settings
from ingest.api.base import (
    ApiError,
    action_body,
    actor,
    bp,
    known_pair,
    load_body,
    load_query,
    page_body,
)
from ingest.api.schemas import (
    DiscardRequest,
    JobDetailSchema,
    JobPageSchema,
    JobQuery,
    PageQuery,
    RequeueJobsRequest,
)
from ingest.app import current_settings
from ingest.dashboard.jobpage import kashflow_invoice_link, magento_admin_link
from ingest.queries import (
    job_links,
    job_with_attempts,
    jobs_query,
    open_letters_for_job,
    paginate,
)
from services.ledger import order_ledger
from store.db import session_scope
from store.models import JobState, SyncJob
from workers.operations import discard_jobs, requeue_jobs

_jobs_query, _page_query = JobQuery(), PageQuery()
_job_page, _job_detail = JobPageSchema(), JobDetailSchema()
_requeue, _discard = RequeueJobsRequest(), DiscardRequest()


@bp.get("/jobs")
def list_jobs() -> Response:
    args = load_query(_jobs_query)
    with session_scope(current_settings().database_url) as s:
        page = paginate(s, jobs_query(args.get("state"), args.get("kind"), args.get("q"),
                                      known_pair(args)),
                        args["page"], args["per_page"])
        return jsonify(page_body(page, _job_page))


@bp.get("/jobs/<int(max=2147483647):job_id>")
def show_job(job_id: int) -> Response:
    settings = current_settings()
    with session_scope(settings.database_url) as s:
        job = job_with_attempts(s, job_id)
        if job is None:
            raise ApiError(404, {"_path": [f"No job {job_id}."]})
        return jsonify(_job_detail.dump(job_detail(s, job, settings)))


def job_detail(s: Any, job: SyncJob, settings: Settings) -> dict[str, Any]:
    """The job with its attempts, documents, links and where to see it in both systems."""
    return {
        **{c: getattr(job, c) for c in _job_detail.fields if hasattr(job, c)},
        "attempts": list(job.attempts), "links": job_links(s, job),
        "open_dead_letters": [letter.id for letter in open_letters_for_job(s, job.id)],
        "ledger": ledger.as_json() if (ledger := order_ledger(s, job)) else None,
        "magento_url": f"{settings.magento_base_url}/V1/orders/{job.magento_key}",
        "kashflow_url": (f"{settings.kashflow_base_url}/invoices/{job.invoice_number}"
                         if job.invoice_number else None),
        "magento_admin_url": magento_admin_link(settings, job.magento_key, job.magento_ref).url,
        "kashflow_page_url": (page.url if (page := kashflow_invoice_link(
            settings, job.invoice_number)) else None),
    }


@bp.get("/review")
def list_review() -> Response:
    args = load_query(_page_query)
    with session_scope(current_settings().database_url) as s:
        page = paginate(s, jobs_query(JobState.NEEDS_REVIEW), args["page"], args["per_page"])
        return jsonify(page_body(page, _job_page))


@bp.post("/review/requeue")
def requeue_review() -> Response:
    """Resume jobs held for review (or dead) at their failed step."""
    body = load_body(_requeue)
    done = requeue_jobs(current_settings().database_url, body["ids"], actor=actor())
    return jsonify(action_body("requeue", done))


@bp.post("/review/discard")
def discard_review() -> Response:
    """Close jobs held for review (or dead) without syncing them; the reason is audited."""
    body = load_body(_discard)
    done = discard_jobs(current_settings().database_url, body["ids"], reason=body["reason"],
                        actor=actor())
    return jsonify(action_body("discard", done))
