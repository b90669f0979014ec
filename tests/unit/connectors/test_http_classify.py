"""``connectors.http``: how real transport failures (loopback sockets, no fakes) and odd answers
(``responses``) are classified."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable, Iterator
from email.utils import formatdate

import pytest
import requests
import responses

from connectors.errors import Ambiguous, Rejected, Transient
from connectors.http import Dialect, JsonClient, classify, retry_after_seconds

BASE = "https://api.test"


class Client(JsonClient):
    dialect = Dialect(system="test")

    def call(self, method: str, path: str, body: object = None) -> object:
        return self._request(method, path, body=body)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server() -> Iterator[Callable[[str], int]]:
    """A loopback server that reads a request, then resets the connection or stays silent."""
    sockets: list[socket.socket] = []
    stop = threading.Event()

    def start(behaviour: str) -> int:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        sockets.append(listener)

        def serve() -> None:
            conn, _ = listener.accept()
            sockets.append(conn)
            conn.recv(65536)
            if behaviour == "reset":  # RST instead of FIN
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
            else:
                stop.wait(5)

        threading.Thread(target=serve, daemon=True).start()
        return int(listener.getsockname()[1])

    yield start
    stop.set()
    for s in sockets:
        s.close()


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_connection_refused_is_transient_even_for_a_write(method: str) -> None:
    client = Client(f"http://127.0.0.1:{_closed_port()}", timeout=2)
    with pytest.raises(Transient) as caught:
        client.call(method, "/x", body={"a": 1})
    assert not isinstance(caught.value, Ambiguous)
    assert caught.value.reason == "connect_error"


@pytest.mark.parametrize(("method", "expected"), [("POST", Ambiguous), ("GET", Transient)])
def test_reset_after_sending(server: Callable[[str], int], method: str, expected: type) -> None:
    client = Client(f"http://127.0.0.1:{server('reset')}", timeout=2)
    with pytest.raises(Transient) as caught:
        client.call(method, "/x", body={"a": 1})
    assert type(caught.value) is expected and caught.value.reason == "connection_reset"


@pytest.mark.parametrize(("method", "expected"), [("PUT", Ambiguous), ("GET", Transient)])
def test_read_timeout(server: Callable[[str], int], method: str, expected: type) -> None:
    client = Client(f"http://127.0.0.1:{server('silent')}", timeout=0.3)
    with pytest.raises(Transient) as caught:
        client.call(method, "/x")
    assert type(caught.value) is expected and caught.value.reason == "read_timeout"
    assert isinstance(caught.value.__cause__, requests.ReadTimeout)


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def test_redirects_are_not_followed(rsps: responses.RequestsMock) -> None:
    rsps.get(f"{BASE}/old", status=301, headers={"Location": f"{BASE}/new"})
    rsps.get(f"{BASE}/new", json={})
    with pytest.raises(Rejected) as caught:
        Client(BASE).call("GET", "/old")
    assert caught.value.reason == "http_301" and len(rsps.calls) == 1


@pytest.mark.parametrize(("method", "expected"), [("POST", Ambiguous), ("GET", Transient)])
def test_unreadable_2xx_body(rsps: responses.RequestsMock, method: str, expected: type) -> None:
    rsps.add(method, f"{BASE}/x", body="<html>proxy page</html>")
    with pytest.raises(Transient) as caught:
        Client(BASE).call(method, "/x")
    assert type(caught.value) is expected and caught.value.reason == "bad_json"


def test_empty_answer_is_none(rsps: responses.RequestsMock) -> None:
    rsps.delete(f"{BASE}/x", status=204)
    assert Client(BASE).call("DELETE", "/x") is None


def test_retry_after_forms() -> None:
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    later = retry_after_seconds(formatdate(timeval=None, usegmt=True))
    assert later is not None and 0 <= later < 5


def test_429_without_retry_after_and_on_a_write(rsps: responses.RequestsMock) -> None:
    rsps.post(f"{BASE}/x", status=429)
    with pytest.raises(Transient) as caught:
        Client(BASE).call("POST", "/x")
    assert caught.value.retry_after is None and not isinstance(caught.value, Ambiguous)


def test_classify_needs_something_to_classify() -> None:
    with pytest.raises(ValueError):
        classify("GET", "/x", dialect=Client.dialect)
