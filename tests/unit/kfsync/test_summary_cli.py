"""``kfsync summary``: list, show and export as an operator runs them on a database with a
summary; usage mistakes are one line and exit 2, an unknown summary one line and exit 1."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from mappings.summary import INVOICE, LinePart, Part
from store import summaries
from store.db import migrate, session_scope
from tests.cli import kfsync


def run(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    return kfsync("summary", *args, env={"KFSYNC_DATABASE_URL": url})


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'kfsync.db'}"
    migrate(url)
    part = Part((LinePart("sales", 4000, Decimal(20), Decimal("10.00"), Decimal("2.00")),))
    with session_scope(url) as s:
        for key, day in (("1", date(2026, 11, 20)), ("2", date(2026, 11, 20))):
            summaries.add_entry(s, summaries.Doc(
                pair="default", kind=INVOICE, doc_kind="order", magento_key=key,
                magento_ref=f"00000000{key}", job_id=None, store="1", currency="GBP", day=day,
                net=part.net, vat=part.vat, part=part.to_json()), date(2026, 12, 6))
    return url


def test_list_show_and_export(url: str) -> None:
    listed = run("list", "--format", "json", url=url)
    assert listed.returncode == 0, listed.stderr
    [one] = json.loads(listed.stdout)
    assert (one["state"], one["documents"], one["day"]) == ("open", 2, "2026-11-20")
    assert "1 summary" in run("list", "--state", "open", url=url).stdout
    shown = run("show", str(one["id"]), url=url)
    assert shown.returncode == 0 and "000000001" in shown.stdout and "20.00" in shown.stdout
    rows = list(csv.DictReader(io.StringIO(run("export", str(one["id"]), url=url).stdout)))
    assert [r["magento_ref"] for r in rows] == ["000000001", "000000002"]


def test_mistakes_are_one_line(url: str) -> None:
    unknown = run("show", "999", url=url)
    assert unknown.returncode == 1 and unknown.stderr.strip().count("\n") == 0
    assert "no summary 999" in unknown.stderr
    bad_day = run("close", "--before", "yesterday", url=url)
    assert bad_day.returncode == 2 and "--before" in bad_day.stderr
    assert run("list", "--state", "nope", url=url).returncode == 2
