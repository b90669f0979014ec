"""Fault injection on both sandboxes, through the test client and over real HTTP."""

from __future__ import annotations

import email.utils
import socket
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import requests
import simplejson
from flask.testing import FlaskClient
from requests_oauthlib import OAuth1

import sandbox
from sandbox import kashflow, magento
from sandbox.faults import ConnectionDropped, FaultRegistry, RuleError, parse_rule
from sandbox.server import SandboxServers
from sandbox.traffic import TokenBucket

WORD = sandbox.KASHFLOW_MEMORABLE_WORD
CUSTOMER = {"Code": "ANN01", "Name": "Ann Lee"}


# -- rules and the bucket -----------------------------------------------------------------------
@pytest.mark.parametrize(("rule_path", "path", "hit"), [
    ("/invoices", "/invoices", True), ("/invoices", "/invoices/bulk/payments", True),
    ("/invoices", "/invoicesx", False), ("", "/anything", True),
    ("/customers/", "/customers", True),
])
def test_paths_match_as_whole_segment_prefixes(rule_path: str, path: str, hit: bool) -> None:
    rule = parse_rule({"kind": "status", "path": rule_path, "method": "post"}, 1)
    assert rule.matches("POST", path) is hit
    assert rule.matches("GET", path) is False


@pytest.mark.parametrize("raw", [{"kind": "explode"}, {"kind": "status", "count": 0},
                                 {"kind": "ambiguous", "then": "later"}, {"kind": "latency"},
                                 {"kind": "status", "status": 200}, ["not", "a", "rule"]])
def test_bad_rules_are_refused(raw: Any) -> None:
    with pytest.raises(RuleError):
        FaultRegistry().add(raw)


def test_count_limits_firing_and_null_means_forever() -> None:
    registry = FaultRegistry()
    registry.add([{"kind": "status", "path": "/a", "count": 2},
                  {"kind": "drop", "path": "/b", "count": None}])
    fired = [registry.pick("GET", "/a")[1] is not None for _ in range(3)]
    assert fired == [True, True, False]
    assert all(registry.pick("GET", "/b")[1] is not None for _ in range(10))
    assert registry.calls.snapshot()["faults"] == {"drop": 10, "status": 2}


def test_probability_zero_never_fires_and_latency_stacks() -> None:
    registry = FaultRegistry(seed=1)
    registry.add([{"kind": "status", "probability": 0, "count": None},
                  {"kind": "latency", "ms": 30}, {"kind": "latency", "ms": 20}])
    registry.update_settings({"latency_ms": 5})
    assert registry.pick("GET", "/x") == (55, None)


def test_token_bucket_allows_a_burst_then_asks_to_wait() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=0.5, burst=2, clock=lambda: now[0])
    assert [bucket.take(), bucket.take()] == [None, None]
    assert bucket.take() == 2  # one token takes 2 s at 0.5/s
    now[0] = 2.0
    assert bucket.take() is None


# -- through the apps ---------------------------------------------------------------------------
def kashflow_login(post: Any, put: Any) -> str:
    step1 = post({"UserName": sandbox.KASHFLOW_USERNAME, "Password": sandbox.KASHFLOW_PASSWORD})
    answers = [{"Position": p["Position"], "Value": WORD[p["Position"] - 1]}
               for p in step1["MemorableWordList"]]
    step2 = put({"TemporaryToken": step1["TemporaryToken"], "MemorableWordList": answers})
    return str(step2["SessionToken"])


@pytest.fixture
def kf() -> tuple[FlaskClient, dict[str, str]]:
    app = kashflow.create_app()
    app.testing = True
    client = app.test_client()
    token = kashflow_login(lambda b: client.post("/v2/sessiontoken", json=b).get_json(),
                           lambda b: client.put("/v2/sessiontoken", json=b).get_json())
    return client, {"Authorization": f"KfToken {token}"}


def customers(client: FlaskClient) -> list[str]:
    return [c["Code"] for c in client.get("/_sandbox/state").get_json()["customers"]]


def test_a_status_fault_answers_without_doing_the_work(kf: tuple[FlaskClient, Any]) -> None:
    client, auth = kf
    assert client.post("/_sandbox/faults", json={"method": "POST", "path": "/customers",
                                                 "kind": "status", "status": 503}
                       ).status_code == 201
    reply = client.post("/v2/customers", json=CUSTOMER, headers=auth)
    assert reply.status_code == 503 and reply.get_json()["Error"] == "ServiceUnavailable"
    assert customers(client) == []
    assert client.post("/v2/customers", json=CUSTOMER, headers=auth).status_code == 201


def test_a_status_fault_can_carry_kashflows_database_timeout(kf: tuple[FlaskClient, Any]
                                                             ) -> None:
    client, auth = kf
    timeout = {"Error": "-2146232060", "Message": "Execution Timeout Expired."}
    client.post("/_sandbox/faults", json={"kind": "status", "status": 400, "body": timeout})
    reply = client.get("/v2/invoices", headers=auth)
    assert reply.status_code == 400 and reply.get_json() == timeout


def test_an_ambiguous_fault_commits_then_fails(kf: tuple[FlaskClient, Any]) -> None:
    client, auth = kf
    client.post("/_sandbox/faults", json={"method": "POST", "path": "/customers",
                                          "kind": "ambiguous", "then": "status"})
    reply = client.post("/v2/customers", json=CUSTOMER, headers=auth)
    assert reply.status_code == 500
    assert customers(client) == ["ANN01"]


def test_drop_without_a_socket_raises_in_the_test_client(kf: tuple[FlaskClient, Any]) -> None:
    client, auth = kf
    client.post("/_sandbox/faults", json={"kind": "drop", "path": "/customers"})
    with pytest.raises(ConnectionDropped):
        client.post("/v2/customers", json=CUSTOMER, headers=auth)
    assert customers(client) == []


def test_latency_delays_the_answer(kf: tuple[FlaskClient, Any]) -> None:
    client, auth = kf
    client.post("/_sandbox/settings", json={"latency_ms": 60})
    started = time.monotonic()
    assert client.get("/v2/bankaccounts", headers=auth).status_code == 200
    assert time.monotonic() - started >= 0.06
    started = time.monotonic()
    client.get("/_sandbox/state")  # control endpoints are never delayed
    assert time.monotonic() - started < 0.05


def test_rate_limit_answers_429_with_retry_after(kf: tuple[FlaskClient, Any]) -> None:
    client, auth = kf
    client.post("/_sandbox/settings", json={"rate_limit": {"rate": 0.5, "burst": 2}})
    statuses = [client.get("/v2/bankaccounts", headers=auth) for _ in range(3)]
    assert [r.status_code for r in statuses] == [200, 200, 429]
    assert int(statuses[2].headers["Retry-After"]) >= 1
    assert statuses[2].get_json()["Error"] == "TooManyRequests"
    for _ in range(5):
        assert client.get("/_sandbox/calls").status_code == 200  # control: never limited
    calls = client.get("/_sandbox/calls").get_json()
    assert calls["rate_limited"] == 1 and calls["calls"]["GET /bankaccounts"] == 3
    client.post("/_sandbox/settings", json={"rate_limit": None})
    assert client.get("/v2/bankaccounts", headers=auth).status_code == 200


def test_faults_can_be_listed_cleared_and_are_gone_after_reset() -> None:
    client = magento.create_app().test_client()
    client.post("/_sandbox/faults", json=[{"kind": "status"}, {"kind": "latency", "ms": 1}])
    listed = client.get("/_sandbox/faults").get_json()
    assert [r["kind"] for r in listed["rules"]] == ["status", "latency"]
    client.delete(f"/_sandbox/faults/{listed['rules'][0]['id']}")
    assert len(client.get("/_sandbox/faults").get_json()["rules"]) == 1
    client.post("/_sandbox/settings", json={"latency_ms": 3})
    client.post("/_sandbox/reset")
    assert client.get("/_sandbox/faults").get_json() == {
        "rules": [], "settings": {"latency_ms": 0, "rate_limit": None}}
    assert client.post("/_sandbox/faults", json={"kind": "nope"}).status_code == 400


def test_magento_faults_use_magentos_error_body() -> None:
    client = magento.create_app().test_client()
    client.post("/_sandbox/faults", json={"kind": "status", "status": 500, "path": "/V1/orders"})
    reply = client.get("/rest/V1/orders/1")  # faults act before auth, like a load balancer
    assert reply.status_code == 500
    assert reply.get_json()["message"].startswith("Internal Error. Details are available")


# -- over real HTTP -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def servers() -> Iterator[SandboxServers]:
    with SandboxServers(magento_port=0, kashflow_port=0) as running:
        yield running


class RealKashFlow:
    def __init__(self, servers: SandboxServers) -> None:
        self.base, self.control = servers.kashflow_url, servers.kashflow_control
        for url in (servers.kashflow_control, servers.magento_control):
            requests.post(f"{url}/reset", timeout=5).raise_for_status()
        self.session = requests.Session()
        token = kashflow_login(
            lambda b: self.session.post(f"{self.base}/sessiontoken", json=b, timeout=5).json(),
            lambda b: self.session.put(f"{self.base}/sessiontoken", json=b, timeout=5).json())
        self.session.headers["Authorization"] = f"KfToken {token}"

    def fault(self, **rule: Any) -> None:
        requests.post(f"{self.control}/faults", json=rule, timeout=5).raise_for_status()

    def invoice(self, number: int, timeout: float = 5) -> requests.Response:
        body = simplejson.dumps({"Number": number, "CustomerCode": "ANN01", "LineItems": [
            {"Quantity": 2, "Rate": Decimal("12.50"), "VATLevel": 20, "NominalCode": 4000}]},
            use_decimal=True)
        return self.session.post(f"{self.base}/invoices", data=body, timeout=timeout,
                                 headers={"Content-Type": "application/json"})

    def numbers(self) -> list[int]:
        state = requests.get(f"{self.control}/state", timeout=5).json(parse_float=Decimal)
        return [i["Number"] for i in state["invoices"]]


def test_both_servers_answer_over_http(servers: SandboxServers) -> None:
    assert servers.magento_url.endswith("/rest") and servers.kashflow_url.endswith("/v2")
    requests.post(f"{servers.magento_control}/orders", timeout=5,
                  json={"entity_id": 9, "state": "processing"}).raise_for_status()
    bearer = {"Authorization": f"Bearer {sandbox.MAGENTO_TOKEN}"}
    assert requests.get(f"{servers.magento_url}/V1/orders/9", headers=bearer,
                        timeout=5).json()["state"] == "processing"
    creds = sandbox.MAGENTO_OAUTH
    oauth = OAuth1(creds["consumer_key"], creds["consumer_secret"], creds["access_token"],
                   creds["access_token_secret"], signature_method="HMAC-SHA256")
    reply = requests.get(f"{servers.magento_url}/V1/orders", auth=oauth, timeout=5, params={
        "searchCriteria[filter_groups][0][filters][0][field]": "updated_at",
        "searchCriteria[filter_groups][0][filters][0][value]": "2000-01-01 00:00:00",
        "searchCriteria[filter_groups][0][filters][0][condition_type]": "gteq",
        "searchCriteria[pageSize]": "100"})
    assert reply.status_code == 200, reply.text
    assert reply.json()["total_count"] == 1


def test_drop_and_ambiguous_faults_over_http(servers: SandboxServers,
                                             capfd: pytest.CaptureFixture[str]) -> None:
    kf = RealKashFlow(servers)
    assert kf.session.post(f"{kf.base}/customers", json=CUSTOMER, timeout=5).status_code == 201
    kf.fault(method="POST", path="/invoices", kind="drop")
    with pytest.raises(requests.ConnectionError):
        kf.invoice(1001)
    assert kf.numbers() == []  # dropped before the work
    kf.fault(method="POST", path="/invoices", kind="ambiguous", then="drop")
    with pytest.raises(requests.ConnectionError):
        kf.invoice(1002)
    assert kf.numbers() == [1002]  # the write landed although the client saw nothing
    kf.fault(method="POST", path="/invoices", kind="ambiguous", then="hang", seconds=1.5)
    with pytest.raises(requests.Timeout):
        kf.invoice(1003, timeout=0.5)
    assert kf.numbers() == [1002, 1003]
    assert kf.invoice(1003).json()["Error"] == "DuplicateInvoiceNumber"
    calls = requests.get(f"{kf.control}/calls", timeout=5).json()
    assert calls["statuses"]["dropped"] == 2
    assert calls["faults"] == {"ambiguous": 2, "drop": 1}
    assert "Traceback" not in capfd.readouterr().err


def test_connections_are_kept_alive_across_calls_and_faults(servers: SandboxServers) -> None:
    # As the real APIs do: one client keeps one connection. A fault answered before the
    # request body was read must not leave that body on the connection.
    kf = RealKashFlow(servers)  # logged in on kf.session
    before = servers.connections_opened()["kashflow"]

    def fault(**rule: Any) -> None:  # on the same session: the control API is on this server
        kf.session.post(f"{kf.control}/faults", json=rule, timeout=5).raise_for_status()

    assert kf.session.post(f"{kf.base}/customers", json=CUSTOMER, timeout=5).status_code == 201
    fault(method="POST", path="/invoices", kind="status", status=503)
    assert kf.invoice(2001).status_code == 503
    reply = kf.invoice(2001)
    assert reply.status_code == 201, reply.text
    assert kf.invoice(2002).json()["Number"] == 2002
    assert servers.connections_opened()["kashflow"] - before == 0  # all on the login's one
    fault(method="POST", path="/invoices", kind="drop")
    with pytest.raises(requests.ConnectionError):
        kf.invoice(2003)
    assert kf.invoice(2003).status_code == 201  # on a new connection after the dropped one
    assert servers.connections_opened()["kashflow"] - before == 1
    assert kf.numbers() == [2001, 2002, 2003]


def raw_exchange(port: int, *requests_: bytes) -> bytes:
    """Send ``requests_`` on one connection; everything the server answers until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(b"".join(requests_))
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return answer


def test_answers_on_the_wire_carry_status_server_date_and_length(
        servers: SandboxServers) -> None:
    get = b"GET /_sandbox/settings HTTP/1.1\r\nHost: sandbox\r\n\r\n"
    head = b"HEAD /_sandbox/settings HTTP/1.1\r\nHost: sandbox\r\nConnection: close\r\n\r\n"
    answer = raw_exchange(servers.kashflow_port, get, head)
    first, _, rest = answer.partition(b"\r\n\r\n")
    lines = first.decode("latin-1").split("\r\n")
    fields = dict(line.split(": ", 1) for line in lines[1:])
    assert lines[0] == "HTTP/1.1 200 OK"
    assert fields["Server"].startswith("Werkzeug/")
    sent = email.utils.parsedate_to_datetime(fields["Date"]).timestamp()
    assert abs(sent - time.time()) < 5
    assert fields["Content-Type"] == "application/json" and "Connection" not in fields
    body, second = rest[:int(fields["Content-Length"])], rest[int(fields["Content-Length"]):]
    assert simplejson.loads(body)["latency_ms"] == 0
    assert second.startswith(b"HTTP/1.1 200 OK\r\n")  # the HEAD, on the same connection
    assert second.endswith(b"Content-Length: 0\r\nConnection: close\r\n\r\n")
    # HTTP/0.9: the body alone, as http.server answers it
    assert simplejson.loads(raw_exchange(servers.kashflow_port, b"GET /_sandbox/settings\r\n"
                                         b"\r\n"))["latency_ms"] == 0
