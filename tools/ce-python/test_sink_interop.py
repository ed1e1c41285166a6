"""neo4j-sink against implementations nobody here wrote.

Events are made and encoded by Python's `cloudevents` SDK (binary, structured and batch content modes),
sent to the real `neo4j-sink` binary, and the graph is read back with the official `neo4j` Python
driver. Every trace carries hostile Unicode (umlauts, CJK, an RTL override, emoji, control characters,
spaces and quotes) in the fields that travel in headers or are indexed, and every value must come back
byte for byte.

Run by scripts/conformance-python (which starts nothing but this; the fixture below starts the sink):
    NEO4J_SINK_BIN=target/debug/neo4j-sink NEO4J_URI=... NEO4J_USER=... NEO4J_PASSWORD=... pytest
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone

import pytest
from cloudevents.core.bindings.http import to_binary, to_structured
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from neo4j import GraphDatabase

HOSTILE = [
    "bücket-名前-\u202e",
    "jürgen straße",
    "Ωmega \"quoted\" 100% {x}",
    "emoji-🦀-🚀",
    "tab\there",
    "ctrl-\u0001-\u007f-end",
    "ar-\u200fمرحبا",
    "кириллица",
    " leading and trailing ",
    "x" * 10_000 + "-ü",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


@pytest.fixture(scope="session")
def neo4j_driver():
    uri = os.environ.get("NEO4J_URI")
    if not uri:
        pytest.fail("NEO4J_URI is not set: run `eval \"$(scripts/neo4j-local env)\"` first")
    driver = GraphDatabase.driver(
        uri, auth=(os.environ.get("NEO4J_USER", "neo4j"), os.environ.get("NEO4J_PASSWORD", ""))
    )
    driver.verify_connectivity()
    yield driver
    driver.close()


@pytest.fixture(scope="session")
def sink():
    """The real neo4j-sink binary on a free port, stopped with SIGTERM (it must exit 0)."""
    binary = os.environ.get("NEO4J_SINK_BIN")
    if not binary or not os.access(binary, os.X_OK):
        pytest.fail(f"NEO4J_SINK_BIN must name the built neo4j-sink binary (got {binary!r})")
    port = _free_port()
    env = dict(os.environ, PORT=str(port), LISTEN_ADDR="127.0.0.1", LOG_FORMAT="text")
    log = open(os.environ.get("SINK_LOG", "/dev/null"), "wb")
    proc = subprocess.Popen([binary], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        if proc.poll() is not None:
            pytest.fail(f"neo4j-sink exited with {proc.returncode} before it was ready")
        try:
            status, body = _get(base + "/readyz")
            if status == 200:
                break
        except OSError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("neo4j-sink was not ready within 120 s")
        time.sleep(0.1)
    yield base
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0, "neo4j-sink did not exit 0 on SIGTERM"
    log.close()


@pytest.fixture
def run_id() -> str:
    return "pyce" + secrets.token_hex(6)


def trace(run_id: str, n: int, text: str) -> dict:
    """A v2-shaped CTS trace with `text` in every field that is indexed or travels in a header."""
    now = int(time.time() * 1000)
    return {
        "trace_id": f"{run_id}-{n:04d}",
        "trace_name": "createBucket",
        "trace_type": "ApiCall",
        "trace_status": "normal",
        "service_type": "OBS",
        "resource_type": "bucket",
        "resource_id": f"{run_id}-res-{n}",
        "resource_name": f"{text}-{n}",
        "source_ip": "198.51.100.7",
        "code": "200",
        "api_version": "v1",
        "request_id": f"req-{run_id}-{n}",
        "time": now,
        "record_time": now,
        "user": {
            "id": f"{run_id}-uid",
            "name": f"{text}-user",
            "domain": {"id": f"{run_id}dom", "name": "OTC-EU-DE-000000000010000000001"},
        },
    }


def event(run_id: str, n: int, text: str, extensions: bool = True) -> CloudEvent:
    t = trace(run_id, n, text)
    attrs = {
        "id": t["trace_id"],
        "source": f"https://cts.eu-de.otc.t-systems.com/projects/{run_id}proj/trackers/system",
        "type": "com.otc.cts.trace.obs.createbucket",
        "subject": t["resource_name"],
        "time": datetime.now(timezone.utc),
        "datacontenttype": "application/json",
    }
    if extensions:
        attrs.update(
            {
                "project": f"{run_id}proj",
                "region": "eu-de",
                "domain": f"{run_id}dom",
                "user": t["user"]["name"],
                "resourcetype": "bucket",
            }
        )
    return CloudEvent(attributes=attrs, data=t)


def post(base: str, headers: dict, body: bytes) -> tuple[int, str]:
    req = urllib.request.Request(base + "/", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


def stored(driver, run_id: str) -> dict:
    """trace id -> what the graph holds for it, read with the official driver."""
    records, _, _ = driver.execute_query(
        """
        MATCH (a:Action) WHERE a.traceId STARTS WITH $run
        OPTIONAL MATCH (a)-[:PERFORMED_BY]->(u:User)
        OPTIONAL MATCH (a)-[:APPLIED_ON]->(r:Resource)-[:MEMBER_OF]->(t:Tenant)
        RETURN a.traceId AS id, a.resourceName AS resourceName, a.userName AS userName,
               coalesce(u.nameFull, u.name) AS user, coalesce(r.nameFull, r.name) AS resource, t.projectId AS project, a.region AS region
        """,
        run=run_id,
    )
    return {r["id"]: dict(r) for r in records}


def cleanup(driver, run_id: str) -> None:
    driver.execute_query(
        "MATCH (a:Action) WHERE a.traceId STARTS WITH $run "
        "OPTIONAL MATCH (a)-[:APPLIED_ON]->(r:Resource) OPTIONAL MATCH (a)-[:PERFORMED_BY]->(u:User) "
        "DETACH DELETE a, r, u",
        run=run_id,
    )
    driver.execute_query(
        "MATCH (n) WHERE (n:Tenant AND n.projectId STARTS WITH $run) OR (n:Domain AND n.id STARTS WITH $run) "
        "DETACH DELETE n",
        run=run_id,
    )


# Rust's `str::trim` (Unicode White_Space): the graph keeps strings trimmed (docs/graph-model.md).
_WHITE_SPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"


def kept(s: str) -> str:
    return s.strip(_WHITE_SPACE)


def assert_round_trip(driver, run_id: str, sent: list[CloudEvent], project: str | None) -> None:
    got = stored(driver, run_id)
    assert len(got) == len(sent), f"stored {len(got)} of {len(sent)} traces"
    for e in sent:
        t = e.get_data()
        row = got[t["trace_id"]]
        assert row["resourceName"] == kept(t["resource_name"]), row["id"]
        assert row["resource"] == kept(t["resource_name"]), row["id"]
        assert row["userName"] == kept(t["user"]["name"]), row["id"]
        assert row["user"] == kept(t["user"]["name"]), row["id"]
        if project is not None:
            assert row["project"] == project, row["id"]


def test_binary_mode_percent_encoded_headers(sink, neo4j_driver, run_id):
    """The SDK percent-encodes header values (HTTP binding 3.1.3.2); the sink must decode them."""
    sent = [event(run_id, i, text) for i, text in enumerate(HOSTILE)]
    try:
        for e in sent:
            msg = to_binary(e, JSONFormat())
            # The header values are ASCII after the SDK's encoding: nothing raw reaches the wire.
            for v in msg.headers.values():
                v.encode("ascii")
            status, body = post(sink, msg.headers, msg.body)
            assert 200 <= status < 300, f"{e.get_id()[:40]}: {status} {body[:300]}"
        assert_round_trip(neo4j_driver, run_id, sent, f"{run_id}proj")
    finally:
        cleanup(neo4j_driver, run_id)


def test_binary_mode_raw_utf8_headers(sink, neo4j_driver, run_id):
    """Producers that put raw UTF-8 in headers (as this project's exporter once did) are accepted too."""
    sent = [event(run_id, i, text) for i, text in enumerate(HOSTILE)]
    host, port = sink.removeprefix("http://").split(":")
    try:
        for e in sent:
            msg = to_binary(e, JSONFormat())
            conn = http.client.HTTPConnection(host, int(port), timeout=60)
            conn.putrequest("POST", "/")
            for name, value in msg.headers.items():
                raw = urllib.request.unquote(value) if name.startswith("ce-") else value
                # Control characters cannot travel raw in a header; those stay percent-encoded.
                if any(ord(c) < 0x20 or ord(c) == 0x7F for c in raw):
                    raw = value
                conn.putheader(name, raw.encode("utf-8"))
            conn.putheader("Content-Length", str(len(msg.body)))
            conn.endheaders(msg.body)
            resp = conn.getresponse()
            body = resp.read().decode("utf-8", "replace")
            conn.close()
            assert 200 <= resp.status < 300, f"{e.get_id()[:40]}: {resp.status} {body[:300]}"
        assert_round_trip(neo4j_driver, run_id, sent, f"{run_id}proj")
    finally:
        cleanup(neo4j_driver, run_id)


def test_structured_mode(sink, neo4j_driver, run_id):
    sent = [event(run_id, i, text) for i, text in enumerate(HOSTILE)]
    try:
        for e in sent:
            msg = to_structured(e, JSONFormat())
            status, body = post(sink, msg.headers, msg.body)
            assert 200 <= status < 300, f"{e.get_id()[:40]}: {status} {body[:300]}"
        assert_round_trip(neo4j_driver, run_id, sent, f"{run_id}proj")
    finally:
        cleanup(neo4j_driver, run_id)


def test_batch_mode(sink, neo4j_driver, run_id):
    """A batch is a JSON array of the SDK's structured events (HTTP binding 3.3)."""
    sent = [event(run_id, i, text) for i, text in enumerate(HOSTILE)]
    fmt = JSONFormat()
    body = b"[" + b",".join(fmt.write(e) for e in sent) + b"]"
    try:
        status, answer = post(sink, {"Content-Type": "application/cloudevents-batch+json"}, body)
        assert 200 <= status < 300, f"{status} {answer[:500]}"
        assert_round_trip(neo4j_driver, run_id, sent, f"{run_id}proj")
    finally:
        cleanup(neo4j_driver, run_id)


def test_events_without_extensions_are_stored(sink, neo4j_driver, run_id):
    """Another producer sends only the core attributes: the trace is stored all the same."""
    sent = [event(run_id, i, text, extensions=False) for i, text in enumerate(HOSTILE[:3])]
    try:
        for e in sent:
            msg = to_binary(e, JSONFormat())
            status, body = post(sink, msg.headers, msg.body)
            assert 200 <= status < 300, f"{e.get_id()[:40]}: {status} {body[:300]}"
        assert_round_trip(neo4j_driver, run_id, sent, None)
    finally:
        cleanup(neo4j_driver, run_id)


def test_sink_refuses_what_is_no_cloudevent(sink):
    """A plain JSON POST is not a CloudEvent: a clear 4xx, never a 2xx that drops it."""
    status, body = post(sink, {"Content-Type": "application/json"}, json.dumps({"x": 1}).encode())
    assert 400 <= status < 500, status
    assert "ce-specversion" in body


def test_huge_empty_and_repeated_values_in_structured_and_batch_mode(sink, neo4j_driver, run_id):
    """The sink decodes a structured or batched event's trace straight from the body's text (session 7).
    Python's SDK writes the events; the official driver reads back what the graph holds: a request of
    120,000 non-ASCII characters (the SDK writes each as a \\u escape: about 720 KB, under the sink's
    1 MiB body limit), empty strings in every text field,
    and a trace whose JSON repeats a member (the last value counts, as when the JSON is read into a map)."""
    fmt = JSONFormat()
    huge = "ü名" * 60_000
    big = event(run_id, 0, "big")
    big.get_data()["request"] = huge
    empty = event(run_id, 1, "empty")
    for key in ("trace_name", "trace_type", "service_type", "resource_type", "resource_name",
                "source_ip", "code", "api_version", "request_id"):
        empty.get_data()[key] = ""
    empty.get_data()["user"]["name"] = ""
    plain = event(run_id, 2, "repeated")
    try:
        # Each alone in structured mode; the empty one and the repeated one also in one batch.
        for e in (big, empty):
            msg = to_structured(e, JSONFormat())
            status, body = post(sink, msg.headers, msg.body)
            assert 200 <= status < 300, f"{e.get_id()[:40]}: {status} {body[:300]}"
        # A member repeated inside `data`: the SDK cannot write it, so it is spliced into its output.
        text = fmt.write(plain).decode("utf-8")
        marker = '"trace_name":'
        assert marker in text.replace(": ", ":"), text[:300]
        text = text.replace('"trace_name": ', '"trace_name":').replace(
            '"trace_name":', '"trace_name":"first","trace_name":', 1)
        batch = b"[" + fmt.write(empty) + b"," + text.encode("utf-8") + b"]"
        status, answer = post(sink, {"Content-Type": "application/cloudevents-batch+json"}, batch)
        assert 200 <= status < 300, f"{status} {answer[:500]}"

        records, _, _ = neo4j_driver.execute_query(
            "MATCH (a:Action) WHERE a.traceId STARTS WITH $run "
            "RETURN a.traceId AS id, a.request AS request, a.name AS name, a.resourceName AS resourceName",
            run=run_id,
        )
        got = {r["id"]: r for r in records}
        assert sorted(got) == sorted(e.get_id() for e in (big, empty, plain)), sorted(got)
        assert got[big.get_id()]["request"] == huge, "the huge request came back changed"
        assert got[empty.get_id()]["resourceName"] in (None, ""), got[empty.get_id()]
        assert got[plain.get_id()]["name"] == "createBucket", "the last of the repeated members counts"
    finally:
        cleanup(neo4j_driver, run_id)
