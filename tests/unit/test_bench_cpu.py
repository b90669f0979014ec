"""The benchmarks' CPU columns (``bench.common.cpu_seconds``): PostgreSQL's includes the
backends whose connection closed while they were measured."""

from __future__ import annotations

import psutil
import psycopg
from sqlalchemy.engine import make_url

from bench.common import cpu_delta, cpu_seconds

BURN = "SELECT count(*) FROM generate_series(1, 3000000)"


def test_a_backend_that_exits_during_the_measurement_keeps_its_cpu(postgres_server: str
                                                                     ) -> None:
    dsn = make_url(postgres_server).set(drivername="postgresql").render_as_string(
        hide_password=False)
    before = cpu_seconds({})
    with psycopg.connect(dsn) as conn:
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[index]
        conn.execute(BURN).fetchone()
        backend = psutil.Process(pid)
        times = backend.cpu_times()
        used = times.user + times.system
    _, alive = psutil.wait_procs([backend], timeout=10)  # exited, and reaped by the postmaster
    assert not alive
    spent = cpu_delta(before, cpu_seconds({}))["postgres"]
    assert used > 0.05, "the statement should have kept its backend busy"
    # Summing the live backends alone lost it: the closed backend's CPU left the sum.
    assert spent >= used - 0.02
