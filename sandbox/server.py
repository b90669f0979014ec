"""Run both sandboxes over real HTTP: in background threads (tests, demo, benchmarks) or in the
foreground until SIGINT/SIGTERM (``kfsync sandbox``).

    servers = SandboxServers(magento_port=0, kashflow_port=0)  # 0: an ephemeral port
    servers.start()
    servers.magento_url      # http://127.0.0.1:PORT/rest   (KFSYNC_MAGENTO_BASE_URL)
    servers.kashflow_url     # http://127.0.0.1:PORT/v2     (KFSYNC_KASHFLOW_BASE_URL)
    servers.magento_control  # http://127.0.0.1:PORT/_sandbox
    servers.stop()
"""

from __future__ import annotations

import email.utils
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable
from functools import lru_cache
from types import FrameType, TracebackType
from typing import IO, Any, cast

from flask import Flask
from werkzeug.exceptions import ClientDisconnected
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wsgi import LimitedStream

from sandbox import kashflow, magento

log = logging.getLogger(__name__)


class KeepAliveRequestHandler(WSGIRequestHandler):
    """HTTP/1.1 with persistent connections, as Magento's and KashFlow's servers answer.

    werkzeug's development server closes every connection after its response (its
    ``run_wsgi`` discards whatever the socket holds next, which would be the next request),
    so every API call paid a TCP handshake and a new server thread. This ``run_wsgi`` reads
    exactly the request's body (what the app left of it too: a fault or a 429 answers before
    reading it), buffers the app's small JSON answer and sends it with its length, head and
    body in one write; the connection then serves the client's next request.
    ``werkzeug.socket`` stays in the environ for the ``drop`` fault.
    """

    def setup(self) -> None:
        super().setup()
        opened = getattr(self.server, "connections_opened", None)
        if opened is not None:
            opened.append(1)  # list.append: atomic across the server's threads
        # http.server's own answers (400, 100 Continue) still go out in several writes:
        # without this, Nagle's algorithm holds the later ones until the client's delayed ACK
        # (tens of ms a call on a kept-alive connection).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The ``Date`` header: now, formatted once a second (``_http_date``)."""
        if timestamp is not None:
            return super().date_time_string(timestamp)
        return _http_date(int(time.time()))

    def run_wsgi(self) -> None:
        if self.headers.get("Expect", "").lower().strip() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        environ = self.make_environ()
        length = str(environ.get("CONTENT_LENGTH") or "0")
        if not environ.get("wsgi.input_terminated"):
            environ["wsgi.input"] = LimitedStream(cast(IO[bytes], self.rfile),
                                                  int(length) if length.isdigit() else 0)
            environ["wsgi.input_terminated"] = True
        answer: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]],
                           exc_info: Any = None) -> Any:
            answer[:] = [status, headers]
            return lambda data: None  # the legacy write(): unused by Flask

        try:
            body = b"".join(self.server.app(environ, start_response))
        except Exception:
            log.exception("sandbox: %s %s failed", self.command, self.path)
            answer[:] = ["500 INTERNAL SERVER ERROR", [("Content-Type", "text/plain")]]
            body = b"internal error"
        try:
            environ["wsgi.input"].read()  # the rest of the body, never past it
        except (ClientDisconnected, OSError):  # the client left (or a fault dropped it)
            self.close_connection = True
            return
        status, headers = answer
        code, _, reason = status.partition(" ")
        self.log_request(int(code))
        if self.request_version == "HTTP/0.9":  # the body alone, as http.server answers it
            self.wfile.write(body)
            return
        head = self._head(int(code), reason, headers, len(body))
        self.wfile.write(head if self.command == "HEAD" else head + body)

    def _head(self, code: int, reason: str, headers: list[tuple[str, str]], length: int
              ) -> bytes:
        """What ``send_response``, ``send_header`` and ``end_headers`` write, as one piece:
        sent with the body, a response is one system call and one TCP segment, not two."""
        lines = [f"{self.protocol_version} {code} {reason}",
                 f"Server: {self.version_string()}", f"Date: {self.date_time_string()}"]
        lines += [f"{key}: {value}" for key, value in headers
                  if key.lower() not in ("content-length", "connection")]
        lines.append(f"Content-Length: {length}")
        if self.close_connection:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "strict")


@lru_cache(maxsize=1)
def _http_date(second: int) -> str:
    """The ``Date`` header for a second: formatted once, not once a response."""
    return email.utils.formatdate(second, usegmt=True)


class QuietRequestHandler(KeepAliveRequestHandler):
    """No access log line per request (benchmarks make thousands)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class SandboxServers:
    """The Magento and KashFlow sandboxes, each on its own threaded werkzeug server with
    persistent connections (``KeepAliveRequestHandler``)."""

    def __init__(self, host: str = "127.0.0.1", magento_port: int = 8081,
                 kashflow_port: int = 8082, *, quiet: bool = True) -> None:
        self.host = host
        self.magento_app: Flask = magento.create_app()
        self.kashflow_app: Flask = kashflow.create_app()
        handler = QuietRequestHandler if quiet else KeepAliveRequestHandler
        self._servers: list[BaseWSGIServer] = []
        try:  # bind both ports now, so a busy port fails here and frees the other
            for port, app in ((magento_port, self.magento_app),
                              (kashflow_port, self.kashflow_app)):
                server = make_server(host, port, app, threaded=True, request_handler=handler)
                server.connections_opened = []  # type: ignore[attr-defined]
                self._servers.append(server)
        except BaseException:
            for server in self._servers:
                server.server_close()
            raise
        self._threads: list[threading.Thread] = []

    # -- addresses ---------------------------------------------------------------------------
    def _base(self, index: int) -> str:
        host = self.host if self.host not in ("0.0.0.0", "::", "") else "127.0.0.1"  # noqa: S104
        return f"http://{host}:{self._servers[index].server_port}"

    @property
    def magento_port(self) -> int:
        return int(self._servers[0].server_port)

    @property
    def kashflow_port(self) -> int:
        return int(self._servers[1].server_port)

    @property
    def magento_url(self) -> str:
        return f"{self._base(0)}/rest"

    @property
    def kashflow_url(self) -> str:
        return f"{self._base(1)}/v2"

    @property
    def magento_control(self) -> str:
        return f"{self._base(0)}/_sandbox"

    @property
    def kashflow_control(self) -> str:
        return f"{self._base(1)}/_sandbox"

    def connections_opened(self) -> dict[str, int]:
        """TCP connections each server has accepted since it started."""
        return {name: len(getattr(server, "connections_opened", ()))
                for name, server in zip(("magento", "kashflow"), self._servers, strict=True)}

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> SandboxServers:
        """Serve both apps from daemon threads; returns at once."""
        if self._threads:
            return self
        for server, name in zip(self._servers, ("magento", "kashflow"), strict=True):
            thread = threading.Thread(target=server.serve_forever, name=f"sandbox-{name}",
                                      daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        """Stop serving and free the ports (idempotent)."""
        for server in self._servers:
            if self._threads:
                server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []

    def __enter__(self) -> SandboxServers:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def serve_forever(host: str = "127.0.0.1", magento_port: int = 8081, kashflow_port: int = 8082,
                  announce: Callable[[str], Any] = print) -> None:
    """Start both sandboxes and block until SIGINT or SIGTERM, then stop them."""
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    servers = SandboxServers(host, magento_port, kashflow_port).start()
    try:
        announce(f"Magento sandbox:  {servers.magento_url}  (control {servers.magento_control})")
        announce(f"KashFlow sandbox: {servers.kashflow_url}  (control {servers.kashflow_control})")
        while not stopping.wait(0.5):
            pass
    finally:
        servers.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
