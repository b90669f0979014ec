"""Recovery in seconds: a dead worker's jobs and a lost database connection (workers/lease.py,
workers/retries.py). Each asserts what KashFlow holds at the end: one invoice, one payment."""

from __future__ import annotations

import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from kfsync.samples import Buyer, Line, make_order
from store.db import get_engine
from store.models import JobState
from tests.integration.conftest import Stack, replace_worker

pytestmark = pytest.mark.integration


def paid_order(entity_id: int) -> dict[str, object]:
    return make_order(entity_id, Buyer(f"r{entity_id}@example.com", "Rui", "Sá"),  # type: ignore[arg-type]
                      [Line("MUG", "Mug", Decimal("7.99"), 3)])


def invoice_write_in_flight(stack: Stack, entity_id: int) -> Decimal:
    """Hold KashFlow's answer to the invoice write for 3 s and wait until it is in flight;
    returns the order's grand total."""
    stack.fault("kashflow", method="POST", path="/invoices", kind="latency", ms=3000, count=1)
    order = paid_order(entity_id)
    stack.seed_order(order)
    stack.send(order)
    stack.wait_until(lambda: ("create_invoice", "started") in
                     [(a.step, a.outcome) for a in stack.attempts(entity_id)],
                     "the invoice write")
    return Decimal(str(order["grand_total"]))


def assert_paid_once(stack: Stack, entity_id: int, total: Decimal) -> None:
    job = stack.job(entity_id)
    assert job is not None and job.state == JobState.DONE, job and job.reason
    [invoice] = [i for i in stack.invoices() if i["CustomerReference"] == job.magento_ref]
    assert Decimal(str(invoice["GrossAmount"])) == total
    [payment] = invoice["PaymentLines"]
    assert Decimal(str(payment["Amount"])) == total


def test_a_killed_worker_machine_costs_seconds_not_minutes(stack: Stack, tmp_path: Path) -> None:
    # The whole worker dies (parent and children): its message stays unacked with the broker
    # for the visibility timeout (an hour). The job's short lease is no longer renewed, and
    # beat's redrive sweep starts it again on the new worker, where it adopts the invoice.
    beat = subprocess.Popen([sys.executable, "-m", "kfsync", "beat", "--loglevel", "WARNING"],
                            env=stack.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        total = invoice_write_in_flight(stack, 2301)
        killed = time.monotonic()
        replace_worker(stack, tmp_path / "worker.log")
        job = stack.wait_settled(2301, timeout=90)
        resumed_in = time.monotonic() - killed
    finally:
        beat.terminate()
        beat.wait(timeout=20)
    assert job.state == JobState.DONE, job.reason
    assert_paid_once(stack, 2301, total)
    steps = [(a.step, a.outcome) for a in stack.attempts(2301)]
    # The killed attempt stays ``started``; the new worker's attempt looks before it writes.
    # (Under load that attempt may itself end ``ambiguous`` and be retried: still one invoice,
    # paid once, asserted above.)
    invoice_tries = [outcome for step, outcome in steps if step == "create_invoice"]
    assert invoice_tries[0] == "started" and invoice_tries[-1] == "ok", steps
    assert set(invoice_tries[1:-1]) <= {"started", "ambiguous"}, steps
    assert steps[-1] == ("post_payment", "ok"), steps
    print(f"resumed and finished {resumed_in:.0f} s after the kill")


@pytest.mark.parametrize("stack_env", ["postgresql"], indirect=True)  # its sessions end
def test_a_lost_database_connection_is_retried_not_left_running(stack: Stack) -> None:
    # PostgreSQL ends every session of kfsync's database while the invoice write is in flight
    # (as in a restart or a failover): the step's finishing transaction fails. The task is
    # retried like a 503, adopts the invoice it wrote, and the order finishes in seconds, not
    # when a lease runs out. No beat runs here: only the retry can finish it.
    total = invoice_write_in_flight(stack, 2302)
    admin = create_engine(stack.db_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        ended = conn.scalar(text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
    admin.dispose()
    get_engine(stack.db_url).dispose()  # this test process's own sessions were ended too
    assert ended, "no kfsync session was open to end"
    job = stack.wait_settled(2302, timeout=30)
    assert job.state == JobState.DONE, job.reason
    assert_paid_once(stack, 2302, total)
