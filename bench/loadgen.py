"""An open-loop HTTP/1.1 load generator on asyncio streams (no dependency beyond Python).

Open loop: request ``i`` is due at ``start + i / rate`` whatever happened to the earlier
ones, and its latency is measured from that due time to the last byte of the answer, so a
slow server is charged for the queue it builds (no coordinated omission). Requests go over a
pool of keep-alive connections (a new one is opened when all are busy, up to ``max_conns``).
The requests are pre-built bytes, so the generator spends its time on I/O only, and Python's
garbage collector is off while a loop runs (``bench.common.collector_paused``).

``closed_loop`` is the saturation probe: ``conns`` connections each sending the next request
as soon as the previous answer arrived, for a fixed time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any

from bench.common import collector_paused, percentile


@dataclass
class Stats:
    offered: float  # req/s; 0 for a closed loop
    sent: int = 0
    latencies: list[float] = field(default_factory=list)  # seconds, answered requests only
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0  # connection failures, timeouts, unanswered at the deadline
    elapsed: float = 0.0  # first due time to last answer

    @property
    def ok(self) -> int:
        return sum(n for code, n in self.statuses.items() if 200 <= code < 300)

    def summary(self) -> dict[str, float | int | dict[int, int]]:
        lat = self.latencies
        return {
            "offered_rps": self.offered, "sent": self.sent, "ok": self.ok,
            "errors": self.errors, "statuses": dict(self.statuses),
            "achieved_rps": self.ok / self.elapsed if self.elapsed else 0.0,
            "p50_ms": percentile(lat, 50) * 1000, "p90_ms": percentile(lat, 90) * 1000,
            "p99_ms": percentile(lat, 99) * 1000, "max_ms": max(lat, default=0.0) * 1000,
        }


class _Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.used = False

    def close(self) -> None:
        self.writer.close()


async def _exchange(conn: _Conn, request: bytes) -> tuple[int, bool]:
    """Send one request and read its answer; returns (status, keep the connection)."""
    conn.writer.write(request)
    await conn.writer.drain()
    head = await conn.reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length, keep = 0, True
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value.strip())
        elif name == "connection" and value.strip().lower() == "close":
            keep = False
    if length:
        await conn.reader.readexactly(length)
    conn.used = True
    return status, keep


class _Pool:
    def __init__(self, host: str, port: int, max_conns: int) -> None:
        self.host, self.port = host, port
        self.idle: list[_Conn] = []
        self.open = 0
        self.max_conns = max_conns
        self.freed = asyncio.Condition()

    async def get(self) -> _Conn:
        async with self.freed:
            while not self.idle and self.open >= self.max_conns:
                await self.freed.wait()
            while self.idle:
                conn = self.idle.pop()  # LIFO: warm connections first
                if not conn.reader.at_eof():
                    return conn
                conn.close()  # the server closed it while idle (its keep-alive timeout)
                self.open -= 1
            self.open += 1
        try:
            reader, writer = await asyncio.open_connection(self.host, self.port)
        except OSError:
            async with self.freed:
                self.open -= 1
                self.freed.notify()
            raise
        return _Conn(reader, writer)

    async def put(self, conn: _Conn, keep: bool) -> None:
        async with self.freed:
            if keep:
                self.idle.append(conn)
            else:
                conn.close()
                self.open -= 1
            self.freed.notify()

    def close(self) -> None:
        for conn in self.idle:
            conn.close()
        self.idle.clear()


async def _one(pool: _Pool, request: bytes, due: float, stats: Stats) -> None:
    for attempt in range(2):
        try:
            conn = await pool.get()
        except OSError:
            stats.errors += 1
            return
        reused = conn.used
        try:
            status, keep = await _exchange(conn, request)
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            await pool.put(conn, keep=False)
            if reused and attempt == 0:
                continue  # the server closed an idle keep-alive connection: resend once
            stats.errors += 1
            return
        stats.latencies.append(time.perf_counter() - due)
        stats.statuses[status] = stats.statuses.get(status, 0) + 1
        await pool.put(conn, keep)
        return


async def _open_loop(host: str, port: int, requests: list[bytes], rate: float,
                     max_conns: int, grace_s: float) -> Stats:
    stats = Stats(offered=rate)
    pool = _Pool(host, port, max_conns)
    tasks: list[asyncio.Task[None]] = []
    start = time.perf_counter() + 0.05
    for i, request in enumerate(requests):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(_one(pool, request, due, stats)))
        stats.sent += 1
    _, pending = await asyncio.wait(tasks, timeout=grace_s) if tasks else (set(), set())
    for task in pending:
        task.cancel()
        stats.errors += 1
    stats.elapsed = time.perf_counter() - start
    pool.close()
    return stats


def open_loop(port: int, requests: list[bytes], rate: float, *, max_conns: int = 64,
              grace_s: float = 10.0, host: str = "127.0.0.1") -> Stats:
    """Offer ``requests`` at ``rate`` per second; wait at most ``grace_s`` after the last."""
    return _run(_open_loop(host, port, requests, rate, max_conns, grace_s))


async def _closed_loop(host: str, port: int, requests: Iterator[bytes], conns: int,
                       duration: float) -> Stats:
    stats = Stats(offered=0)
    start = time.perf_counter()
    stop = start + duration

    async def client() -> None:
        pool = _Pool(host, port, 1)
        while time.perf_counter() < stop:
            request = next(requests, None)
            if request is None:
                break
            stats.sent += 1
            await _one(pool, request, time.perf_counter(), stats)
        pool.close()

    await asyncio.gather(*(client() for _ in range(conns)))
    stats.elapsed = time.perf_counter() - start
    return stats


def closed_loop(port: int, requests: Iterator[bytes], *, conns: int, duration: float,
                host: str = "127.0.0.1") -> Stats:
    """``conns`` back-to-back clients for ``duration`` seconds (or until ``requests`` ends)."""
    return _run(_closed_loop(host, port, requests, conns, duration))


def _run(loop: Coroutine[Any, Any, Stats]) -> Stats:
    with collector_paused():
        return asyncio.run(loop)
