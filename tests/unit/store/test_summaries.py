"""Summaries in the database (SQLite and PostgreSQL): a document is booked once; a document
for a closed day goes into the next open summary and says so; the closer's claim excludes a
second closer; the API and the dashboard trace every line back to its orders."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from decimal import Decimal

from flask import Flask

from mappings.summary import INVOICE, LinePart, Part, summary_lines
from services.summaries import export_csv, summary_detail
from store import summaries
from store.db import session_scope
from store.models import utcnow
from store.summary_models import Summary, SummaryState
from tests.unit.ingest.ops_helpers import AUTH, make_app
from tests.unit.ingest.test_dashboard import logged_in

DAY = date(2026, 11, 20)
TODAY = date(2026, 12, 6)


def doc(key: str, day: date = DAY, net: str = "10.00", vat: str = "2.00") -> summaries.Doc:
    part = Part((LinePart("sales", 4000, Decimal(20), Decimal(net), Decimal(vat)),))
    return summaries.Doc(pair="default", kind=INVOICE, doc_kind="order", magento_key=key,
                         magento_ref=f"0000{key}", job_id=None, store="1", currency="GBP",
                         day=day, net=part.net, vat=part.vat, part=part.to_json())


def book(url: str, d: summaries.Doc) -> summaries.Booked:
    with session_scope(url) as s:
        return summaries.add_entry(s, d, TODAY)


def test_booked_once_and_late_documents_go_to_the_next_open_summary(db_url: str) -> None:
    first = book(db_url, doc("1"))
    assert not first.again and not first.late and first.day == DAY
    assert book(db_url, doc("1")).again  # a replay finds its entry
    book(db_url, doc("2"))
    with session_scope(db_url) as s:
        assert summaries.due(s, DAY + timedelta(days=1), utcnow()) == [first.summary_id]
        assert summaries.claim(s, first.summary_id, "closer-a", utcnow() + timedelta(minutes=5))
        assert not summaries.claim(s, first.summary_id, "closer-b", utcnow())
        assert summaries.begin_post(s, first.summary_id, "closer-b") is None
        assert summaries.begin_post(s, first.summary_id, "closer-a") == 0
        assert summaries.begin_post(s, first.summary_id, "closer-a") == 1  # a retry: look up
    late = book(db_url, doc("3"))
    assert late.late and late.day == TODAY and late.summary_id != first.summary_id
    with session_scope(db_url) as s:
        assert s.get(Summary, first.summary_id).documents == 2  # type: ignore[union-attr]


def test_the_api_and_the_dashboard_trace_lines_to_orders(db_url: str, redis_url: str) -> None:
    booked = book(db_url, doc("1", net="0.33", vat="0.07"))
    book(db_url, doc("2", net="0.33", vat="0.07"))
    draft = summary_lines([Part((LinePart("sales", 4000, Decimal(20), Decimal("0.33"),
                                          Decimal("0.07")),))] * 2, INVOICE, 4000)
    with session_scope(db_url) as s:
        summaries.mark_posted(s, booked.summary_id, number=700_000_001, net=draft.net,
                              vat=draft.vat, gross=draft.gross, payments=[],
                              lines=[{**x.to_kashflow(), "Kind": x.kind, "Rate": str(x.net),
                                      "VATAmount": str(x.vat), "VATLevel": str(x.level)}
                                     for x in draft.lines])
    detail = summary_detail(db_url, booked.summary_id)
    assert detail is not None and detail["state"] == SummaryState.POSTED
    sales = next(x for x in detail["lines"] if x["kind"] == "sales")
    assert {s["magento_ref"] for s in sales["sources"]} == {"00001", "00002"}
    assert sum(s["net"] for s in sales["sources"]) == sales["net"] == Decimal("0.66")
    rows = list(csv.DictReader(io.StringIO(export_csv(db_url, booked.summary_id) or "")))
    assert [r["magento_ref"] for r in rows] == ["00001", "00002"]

    app: Flask = make_app(db_url, redis_url)
    api = app.test_client()
    listed = api.get("/api/v1/summaries?state=posted", headers=AUTH).get_json()
    assert [x["id"] for x in listed["items"]] == [booked.summary_id]
    one = api.get(f"/api/v1/summaries/{booked.summary_id}", headers=AUTH).get_json()
    assert one["number"] == 700_000_001 and one["gross"] == "0.80"
    assert api.get("/api/v1/summaries/999999", headers=AUTH).status_code == 404
    assert api.get("/api/v1/summaries?state=nope", headers=AUTH).status_code == 400
    client = logged_in(app)
    page = client.get("/summaries").get_data(as_text=True)
    assert f'id="summary-{booked.summary_id}"' in page
    drill = client.get(f"/summaries/{booked.summary_id}").get_data(as_text=True)
    assert "00001" in drill and "VAT rounding 20%" in drill and "700000001" in drill
    exported = client.get(f"/summaries/{booked.summary_id}.csv")
    assert exported.mimetype == "text/csv" and "00002" in exported.get_data(as_text=True)
    assert client.get("/summaries/999999").status_code == 404


def test_a_summarised_orders_job_page_says_where_it_is(db_url: str, redis_url: str) -> None:
    from store.models import SyncJob
    from tests.unit.ingest.ops_helpers import add_job

    job_id = add_job(db_url, 131)
    late = book(db_url, doc("131"))
    note = f"000000131 booked in summary invoice {late.summary_id} of {late.day}"
    with session_scope(db_url) as s:
        job = s.get(SyncJob, job_id)
        assert job is not None
        job.plan = {"summary": {"id": late.summary_id, "kind": INVOICE, "note": note,
                                "day": late.day.isoformat(), "net": "10.00", "vat": "2.00",
                                "gross": "12.00"},
                    "ledger": [{"doc": "summary", "ref": "000000131", "number": None,
                                "amount": "12.00", "at": "2026-11-20T10:00:00", "why": note}]}
    page = logged_in(make_app(db_url, redis_url)).get(f"/jobs/{job_id}").get_data(as_text=True)
    assert "KashFlow: in a summary" in page and note in page
    assert f'href="/summaries/{late.summary_id}"' in page and 'id="ledger-summary"' in page
