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

import signal
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


# A big response fills what the kernel takes toward a client that does not
# read; the small ones after it then wait in gatehouse's 8 KiB buffer
# toward the client, several whole ones at a time, their entries with them.
SMALL = 400
N_SMALL = 3000


def sized(req):
    i = int(req.target.rsplit("/", 1)[1])
    size = SMALL if i else 2_000_000
    return hb.ok(req, body=(f"{i}:".encode() * size)[:size])


@pytest.mark.timeout_s(60)
def test_slow_reader_gets_everything_complete(gatehouse, backend, ctx, tmp_path):
    """A big response and many small ones pipelined to a client that does
    not read at first: gatehouse's buffer toward the client holds several
    whole responses while the client's socket takes no more, their entries
    wait with them (or, when too many wait, the backend's next response
    does), and every one arrives, audited complete."""
    be = backend(hb.RecordingBackend, respond=sized)
    audit = tmp_path / "audit.jsonl"
    gh = start_http(gatehouse, be.addr, audit, buffer_size="8k", max_header_bytes="4k")
    n = N_SMALL + 1
    with SlowReader(gh.port, ctx, timeout=30) as c:
        c.send(b"".join(req_bytes(f"GET /n/{i} HTTP/1.1", HOST) for i in range(n)) +
               req_bytes(f"GET /n/{n} HTTP/1.1", HOST, "Connection: close"))
        time.sleep(1.0)
        for i in range(n + 1):
            r = c.read_response()
            assert r.status == 200, (i, r.head)
            assert r.body.startswith(f"{i}:".encode()), (i, r.body[:20])
            assert len(r.body) == (SMALL if i else 2_000_000), i
    close, reqs = audit_close_and_requests(audit, timeout=10)
    assert [r["target"] for r in reqs] == [f"/n/{i}" for i in range(n + 1)]
    assert all(r["outcome"] == "complete" for r in reqs), \
        [r for r in reqs if r["outcome"] != "complete"][:3]
    assert all(r["conn"] == close["conn"] for r in reqs)
    assert close["requests"] == n + 1, close
    assert sum(r["response_bytes"] for r in reqs) == close["bytes_out"], close


@pytest.mark.timeout_s(40)
def test_shutdown_cut_response_counts_what_was_written(gatehouse, backend, ctx, tmp_path):
    """A response bigger than what the kernel takes toward a client that
    does not read, cut by shutdown-grace expiry: its entry says shutdown,
    with response_bytes what the client was written (the close entry's
    bytes_out), not what went into gatehouse's buffer."""
    big = 16_000_000
    be = backend(hb.RecordingBackend, respond=lambda req: hb.ok(req, body=b"b" * big))
    audit = tmp_path / "audit.jsonl"
    gh = start_http(gatehouse, be.addr, audit, buffer_size="8k", max_header_bytes="4k",
                    global_opts={"shutdown_grace": "500ms"})
    with SlowReader(gh.port, ctx) as c:
        c.send(req_bytes("GET /big HTTP/1.1", HOST))
        be.wait_requests(1)
        time.sleep(0.5)
        gh.send_signal(signal.SIGTERM)
        assert gh.wait(timeout=scaled(10)) == 0
    close, reqs = audit_close_and_requests(audit)
    assert [(r["target"], r["status"], r["outcome"]) for r in reqs] == [("/big", 200, "shutdown")]
    assert 0 < reqs[0]["response_bytes"] == close["bytes_out"] < big, (reqs[0], close)
    assert close["requests"] == 0, close
