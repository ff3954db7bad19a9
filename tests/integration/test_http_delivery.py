"""A request entry's outcome `complete` means the client's TLS connection
was written every byte of the response (issue 11, item 1: nothing lost),
not that the response reached gatehouse's buffer toward the client.

- A client that pipelines a slow request and a second one, then goes away
  before the answer: the answer that was still in gatehouse's buffer is
  audited client_abort, its response_bytes no more than the connection's
  bytes_out, and the close entry counts no delivered request. (The second
  request was never forwarded: it stayed unparsed in gatehouse's input, so
  it has no entry.)
- A client that reads slowly gets every response: all complete, in order,
  their response_bytes adding up to the close entry's bytes_out, `requests`
  counting them all."""

import socket
import struct
import time

import pytest

import http_backends as hb
from ghutil import scaled, wait_until
from test_audit import by_event, entries
from test_http import HOST, HttpClient, req_bytes
from test_http_pairing import SlowReader, start_http


def audit_close_and_requests(path, timeout=5.0):
    """The close entry (waits for it) and the request entries before it."""
    got = {}

    def closed():
        es = entries(path) if path.exists() else []
        got["close"] = by_event(es, "close")
        got["request"] = by_event(es, "request")
        return len(got["close"]) == 1

    wait_until(closed, scaled(timeout), interval=0.05, what="the close audit entry")
    return got["close"][0], got["request"]


@pytest.mark.timeout_s(40)
@pytest.mark.parametrize("how", ["close", "reset"])
def test_response_not_written_before_client_left_is_client_abort(gatehouse, backend, ctx,
                                                                 tmp_path, how):
    def respond(req):
        r = hb.ok(req)
        if req.target == "/slow-abort":
            r.delay = 1.0
        return r

    be = backend(hb.RecordingBackend, respond=respond)
    audit = tmp_path / "audit.jsonl"
    gh = start_http(gatehouse, be.addr, audit)
    c = HttpClient(gh.port, ctx)
    c.send(req_bytes("GET /slow-abort HTTP/1.1", HOST) + req_bytes("GET /queued HTTP/1.1", HOST))
    be.wait_requests(1)
    time.sleep(0.2)
    if how == "reset":
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()
    close, reqs = audit_close_and_requests(audit)
    # the answer did come, after the client had gone
    assert [r.target for r in be.complete_requests()] == ["/slow-abort"]
    assert [r["target"] for r in reqs] == ["/slow-abort"], reqs
    e = reqs[0]
    assert e["conn"] == close["conn"]
    assert e["response_bytes"] <= close["bytes_out"], (e, close)
    assert e["outcome"] == "client_abort", (e, close)
    assert close["requests"] == 0, close


SIZES = [200_000, 300, 150_000, 40, 0, 90_000, 10, 20, 30, 250_000, 5, 6, 7, 8, 9]


def sized(req):
    i = int(req.target.rsplit("/", 1)[1])
    return hb.ok(req, body=(f"{i}:".encode() * SIZES[i])[:SIZES[i]])


@pytest.mark.timeout_s(60)
def test_slow_reader_gets_everything_complete(gatehouse, backend, ctx, tmp_path):
    """Big and small responses pipelined to a client that does not read at
    first, then reads in small steps: gatehouse's buffer toward the client
    holds several small responses at once while the big one before them
    waits (the entries wait with them), and every one arrives."""
    be = backend(hb.RecordingBackend, respond=sized)
    audit = tmp_path / "audit.jsonl"
    gh = start_http(gatehouse, be.addr, audit, buffer_size="8k", max_header_bytes="4k")
    n = len(SIZES)
    with SlowReader(gh.port, ctx) as c:
        c.send(b"".join(req_bytes(f"GET /n/{i} HTTP/1.1", HOST) for i in range(n)))
        time.sleep(0.5)
        for i in range(n):
            r = c.read_response()
            assert r.status == 200, (i, r.head)
            assert len(r.body) == SIZES[i], i
            time.sleep(0.02)
        c.send(req_bytes("GET /n/0 HTTP/1.1", HOST, "Connection: close"))
        assert len(c.read_response().body) == SIZES[0]
    close, reqs = audit_close_and_requests(audit)
    want = [f"/n/{i}" for i in range(n)] + ["/n/0"]
    assert [r["target"] for r in reqs] == want
    assert all(r["outcome"] == "complete" for r in reqs), reqs
    assert all(r["conn"] == close["conn"] for r in reqs)
    assert close["requests"] == n + 1, close
    assert sum(r["response_bytes"] for r in reqs) == close["bytes_out"], close
