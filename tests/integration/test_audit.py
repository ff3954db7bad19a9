"""The audit log end to end (config/audit-log.md): every event with the
fields the schema (config/audit-schema.json) requires, escaping of what
clients send, the hash chain checked by gatehouse-audit verify across
restarts and rotation, nothing lost on SIGTERM, what survives kill -9, and a
file that cannot grow (RLIMIT_FSIZE) producing a gap entry, not a stall."""

import json
import os
import re
import resource
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path

import jsonschema
import pytest

import auditlog as al
import backends
import http_backends as hb
import ghutil
from ghutil import free_port, scaled, tls_connect, wait_until

SCHEMA = json.loads((ghutil.REPO / "config" / "audit-schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def audit_bin():
    p = os.environ.get("GATEHOUSE_AUDIT_BIN") or str(Path(ghutil.GATEHOUSE_BIN).parent /
                                                     "gatehouse-audit")
    if not os.access(p, os.X_OK):
        pytest.fail(f"gatehouse-audit not found at {p} (set GATEHOUSE_AUDIT_BIN or build it)")
    return p


def verify(*files, key=None):
    args = [audit_bin(), "verify"]
    if key:
        args += ["--key", str(key)]
    r = subprocess.run(args + [str(f) for f in files], capture_output=True, text=True,
                       timeout=scaled(30))
    return r.returncode, r.stdout + r.stderr


def entries(path):
    """Every complete line of an audit file, parsed and schema-checked."""
    return entries_of(Path(path).read_bytes())


def entries_of(data):
    """Every complete line of data, parsed and schema-checked."""
    out = []
    for raw in data.split(b"\n")[:-1]:
        e = json.loads(raw.decode("utf-8"))
        VALIDATOR.validate(e)
        out.append(e)
    return out


def by_event(es, event):
    return [e for e in es if e["event"] == event]


def requests_on_one_connection(port, ctx, n, target=b"/", host=b"example.com"):
    """Sends n keep-alive GETs on one TLS connection; returns the statuses."""
    s = tls_connect(port, ctx)
    statuses = []
    buf = b""
    try:
        for _ in range(n):
            s.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
            while b"\r\n\r\n" not in buf:
                chunk = s.recv(65536)
                assert chunk, "connection closed mid-response"
                buf += chunk
            head, buf = buf.split(b"\r\n\r\n", 1)
            m = re.search(rb"\r\ncontent-length: *(\d+)", head, re.I)
            length = int(m.group(1)) if m else 0
            while len(buf) < length:
                chunk = s.recv(65536)
                assert chunk, "connection closed mid-body"
                buf += chunk
            buf = buf[length:]
            statuses.append(int(head.split(b" ", 2)[1]))
    finally:
        s.close()
    return statuses


def raw_tls_exchange(port, ctx, payload, timeout=3.0):
    s = tls_connect(port, ctx, timeout=timeout)
    try:
        s.sendall(payload)
        data = b""
        while True:
            try:
                chunk = s.recv(65536)
            except (ssl.SSLError, OSError):
                break
            if not chunk:
                break
            data += chunk
        return data
    finally:
        s.close()


@pytest.fixture
def audit_key(tmp_path):
    k = tmp_path / "audit.key"
    k.write_bytes(os.urandom(32))
    k.chmod(0o600)
    return k


def start_http(gatehouse, backend_addr, audit_path, key=None, extra_global=None, **listener):
    g = {"audit_file": str(audit_path), "audit_flush_interval": "50ms"}
    if key:
        g["audit_key_file"] = str(key)
    g.update(extra_global or {})
    return gatehouse(backend_addr, mode="http", global_opts=g, **listener)


def stop(gh):
    gh.send_signal(signal.SIGTERM)
    assert gh.wait() == 0


# ------------------------------------------------------------------ events

def test_every_event_has_its_schema_fields(gatehouse, backend, ctx, tmp_path, audit_key):
    """One run produces start, tls_ok, request, reject, tls_fail (protocol
    error and timeout), backend_error, close and stop, each valid against the
    schema, and the whole file verifies with the key."""
    be = backend(hb.RecordingBackend)
    dead_port = free_port()  # nothing listens here: connect is refused
    audit = tmp_path / "audit.jsonl"
    gh = gatehouse(listeners={
        "web": {"backend": be.addr, "mode": "http", "handshake_timeout": "300ms"},
        "dead": {"backend": f"127.0.0.1:{dead_port}", "mode": "http"},
    }, global_opts={"audit_file": str(audit), "audit_key_file": str(audit_key),
                    "audit_flush_interval": "50ms"})
    web, dead = gh.ports["web"], gh.ports["dead"]

    assert requests_on_one_connection(web, ctx, 2, target=b"/a?b=1") == [200, 200]
    reply = raw_tls_exchange(web, ctx, b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
                                       b"Transfer-Encoding: chunked\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 400")
    # not TLS at all: a protocol error during the handshake
    with socket.create_connection(("127.0.0.1", web), timeout=3) as s:
        s.sendall(b"GET / HTTP/1.1\r\n\r\n" * 4)
        s.settimeout(3)
        try:
            s.recv(100)
        except OSError:
            pass
    # connects and says nothing: the handshake times out
    with socket.create_connection(("127.0.0.1", web), timeout=3) as s:
        gh.wait_event("tls_fail", reason="handshake_timeout", timeout=5)
    reply = raw_tls_exchange(dead, ctx, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 502")
    stop(gh)

    es = entries(audit)
    names = [e["event"] for e in es]
    assert names[0] == "start" and names[-1] == "stop"
    for ev in ("tls_ok", "request", "reject", "tls_fail", "backend_error", "close"):
        assert ev in names, f"no {ev} entry in {names}"
    assert [e["seq"] for e in es] == list(range(1, len(es) + 1))
    assert {e["pid"] for e in es} == {gh.pid}

    start = es[0]
    assert start["chain_alg"] == "hmac-sha256" and start["prev"] == "0" * 64
    assert start["config"].endswith(".ini") and start["workers"] == 1
    import hashlib
    assert start["config_sha256"] == hashlib.sha256(gh.ini_path.read_bytes()).hexdigest()

    reqs = [r for r in by_event(es, "request") if r["listener"] == "web"]
    assert [r["target"] for r in reqs] == ["/a?b=1", "/a?b=1"]
    assert [r["outcome"] for r in reqs] == ["complete", "complete"]
    # the request the refused backend never got is logged too, with how it ended
    dead_reqs = [r for r in by_event(es, "request") if r["listener"] == "dead"]
    assert [(r["target"], r["status"], r["outcome"]) for r in dead_reqs] == \
        [("/", 502, "backend_failed")]
    got_ids = sorted(r.header("x-request-id")[0] for r in be.complete_requests())
    assert sorted(r["request_id"] for r in reqs) == got_ids
    for r in reqs:
        assert r["host"] == "example.com" and r["method"] == "GET" and r["status"] == 200
        assert r["backend"] == be.addr and r["total_us"] >= r["ttfb_us"] > 0
        assert r["response_bytes"] > 0 and r["request_body"] == 0
    conn_of_requests = {r["conn"] for r in reqs}
    assert len(conn_of_requests) == 1

    tls_ok = [e for e in by_event(es, "tls_ok") if e["conn"] in conn_of_requests][0]
    assert tls_ok["listener"] == "web" and tls_ok["client"] == "127.0.0.1"
    assert tls_ok["tls_version"] in ("TLSv1.3", "TLSv1.2") and tls_ok["resumed"] is False
    assert tls_ok["sni"] == "localhost"

    rej = by_event(es, "reject")[0]
    assert rej["reason"] == "cl_te_conflict" and rej["status"] == 400
    assert rej["excerpt"].startswith("GET / HTTP/1.1\r\nHost: a\r\n")

    fails = by_event(es, "tls_fail")
    assert {f["reason"] for f in fails} >= {"protocol_error", "timeout"}, fails

    be_err = by_event(es, "backend_error")[0]
    assert be_err["reason"] == "refused" and be_err["listener"] == "dead"
    assert be_err["backend"] == f"127.0.0.1:{dead_port}"

    closes = {e["conn"]: e for e in by_event(es, "close")}
    c = closes[next(iter(conn_of_requests))]
    assert c["requests"] == 2 and c["bytes_in"] > 0 and c["bytes_out"] > 0
    assert c["duration_us"] > 0 and c["reason"] in ("client_eof", "backend_eof", "http_close")
    assert any(e["reason"] == "handshake_timeout" for e in closes.values())
    assert any(e["reason"] == "rejected" for e in closes.values())

    stop_e = es[-1]
    assert stop_e["reason"] == "signal" and stop_e["open"] == 0

    rc, out = verify(audit, key=audit_key)
    assert rc == 0, out
    rc, out = verify(audit)  # keyed log without the key: refused, not "intact"
    assert rc != 0, out


def test_tcp_mode_entries(gatehouse, backend, ctx, tmp_path):
    """tcp mode: tls_ok and close with the bytes each way; no request entries."""
    be = backend(backends.Echo)
    audit = tmp_path / "audit.jsonl"
    gh = gatehouse(be.addr, global_opts={"audit_file": str(audit)})
    s = tls_connect(gh.port, ctx)
    s.sendall(b"x" * 1000)
    got = b""
    while len(got) < 1000:
        got += s.recv(65536)
    s.close()
    gh.wait_event("conn_close")
    stop(gh)
    es = entries(audit)
    assert [e["event"] for e in es] == ["start", "tls_ok", "close", "stop"]
    assert es[0]["chain_alg"] == "sha256"
    close = es[2]
    assert close["bytes_in"] == 1000 and close["bytes_out"] == 1000
    assert close["client_port"] == es[1]["client_port"] > 0
    assert "requests" not in close
    rc, out = verify(audit)
    assert rc == 0, out


def test_client_strings_cannot_forge_or_split_entries(gatehouse, backend, ctx, tmp_path):
    """Quotes, backslashes, control characters, ESC, NUL and invalid UTF-8 in
    what a client sends come out escaped; a long target is cut at
    audit_max_field with NAME_truncated holding its real length."""
    be = backend(hb.RecordingBackend)
    audit = tmp_path / "audit.jsonl"
    gh = start_http(gatehouse, be.addr, audit, extra_global={"audit_max_field": "40"})
    evil = b'GET /"},{"event":"stop"}\\\x1b[31m\x00\xff\xc3\x28 HTTP/1.1\r\nHost: a\r\n\r\n'
    reply = raw_tls_exchange(gh.port, ctx, evil)
    assert reply.startswith(b"HTTP/1.1 400")
    long_target = b"/" + b"a" * 100
    assert requests_on_one_connection(gh.port, ctx, 1, target=long_target) == [200]
    stop(gh)

    lines = audit.read_bytes().split(b"\n")[:-1]
    for raw in lines:
        assert b"\x1b" not in raw and b"\x00" not in raw and b"\xff" not in raw
        obj = json.loads(raw)   # exactly one object per line
        assert isinstance(obj, dict)
    es = entries(audit)
    assert [e["event"] for e in es].count("stop") == 1
    rej = by_event(es, "reject")[0]
    # escaped on the wire: the raw line holds \u001b, \u0000 and \u00ff
    raw_rej = [l for l in lines if b'"event":"reject"' in l][0]
    assert b"\\u001b" in raw_rej and b"\\u0000" in raw_rej and b"\\u00ff" in raw_rej
    assert b'\\"' in raw_rej and b"\\\\" in raw_rej
    assert rej["excerpt"].startswith('GET /"},{"event":"stop"}\\\x1b[31m\x00\u00ff\u00c3(')
    req = by_event(es, "request")[0]
    assert req["target"] == long_target[:40].decode()
    assert req["target_truncated"] == len(long_target)
    rc, out = verify(audit)
    assert rc == 0, out


# ------------------------------------------------------------ nothing lost

@pytest.mark.timeout_s(120)
def test_sigterm_loses_nothing(gatehouse, backend, ctx, tmp_path, audit_key):
    """N requests, then SIGTERM at once: exactly N request entries, the last
    entry is stop, and the chain verifies."""
    be = backend(hb.RecordingBackend)
    audit = tmp_path / "audit.jsonl"
    # a long flush interval: everything still buffered must go out at stop
    gh = start_http(gatehouse, be.addr, audit, key=audit_key,
                    extra_global={"audit_flush_interval": "30s"})
    n = 0
    for _ in range(10):
        n += len(requests_on_one_connection(gh.port, ctx, 30))
    stop(gh)
    es = entries(audit)
    assert len(by_event(es, "request")) == n == 300
    assert es[-1]["event"] == "stop"
    rc, out = verify(audit, key=audit_key)
    assert rc == 0, out


@pytest.mark.timeout_s(120)
def test_kill9_keeps_everything_flushed_and_restart_continues_the_chain(
        gatehouse, backend, ctx, tmp_path, audit_key):
    be = backend(hb.RecordingBackend)
    audit = tmp_path / "audit.jsonl"
    gh = start_http(gatehouse, be.addr, audit, key=audit_key)
    requests_on_one_connection(gh.port, ctx, 50)
    # wait for the flush (50 ms) and the write
    wait_until(lambda: audit.read_bytes().count(b'"event":"request"') == 50, scaled(5),
               what="50 request entries on disk")
    os.kill(gh.pid, signal.SIGKILL)
    gh.wait()
    data = audit.read_bytes()
    assert data.count(b"\n") >= 52 and data.endswith(b"\n")
    rc, out = verify(audit, key=audit_key)
    assert rc == 0, out
    assert b'"event":"stop"' not in data
    last_chain = json.loads(data.split(b"\n")[-2])["chain"]
    killed_pid = entries(audit)[0]["pid"]

    # a new run appends and continues the same chain
    gh2 = start_http(gatehouse, be.addr, audit, key=audit_key)
    requests_on_one_connection(gh2.port, ctx, 3)
    stop(gh2)
    es = entries(audit)
    starts = by_event(es, "start")
    assert len(starts) == 2 and starts[1]["prev"] == last_chain
    assert starts[1]["seq"] == json.loads(data.split(b"\n")[-2])["seq"] + 1
    # the chain holds, but the killed writer may have held entries that
    # nothing counts: possible loss (4), named at the second start with the
    # killed pid, not "intact, 0 entries lost"
    start_line = data.count(b"\n") + 1
    rc, out = verify(audit, key=audit_key)
    assert rc == 4, out
    assert f"{audit}:{start_line}: possible loss: pid {killed_pid} ended without a stop entry" \
        in out, out
    assert not re.search(r"^intact:", out, re.M), out


def forge_sha256_line(last_line, event="request", **fields):
    """One line for the pid of last_line, next seq, chained with plain
    SHA-256 from its chain: what a forger without the key appends."""
    last = al.parse_line(last_line)
    fields = fields or {"conn": 99, "listener": "main", "method": "DELETE",
                        "target": "/accounts/all", "status": 200}
    body = al.make_body(last["seq"] + 1, last["ts"], last["pid"], event, fields)
    return al.make_line(body, al.chain_value(last.chain, body))


@pytest.mark.timeout_s(120)
@pytest.mark.parametrize("forgery,reason", [
    ("sha256_line", "last_line_unverified"),     # the real pid, next seq, SHA-256 chained
    ("forged_writer", "last_line_unverified"),   # a made-up writer: start, tls_ok, DELETE
    ("forged_start", "chain_alg_changed"),       # only the made-up writer's unkeyed start
])
def test_restart_refuses_to_continue_a_forged_last_line(gatehouse, backend, ctx, tmp_path,
                                                         audit_key, forgery, reason):
    """A forger appends to a keyed log; gatehouse restarts. It must not
    continue (and so vouch for) a chain it cannot verify: its start begins
    a new keyed segment and says why (new_segment). verify still names the
    forged line; with the forgery taken out the file verifies, the new
    segment reported (exit 4). On main the new start continued the forged
    chain."""
    be = backend(hb.RecordingBackend)
    audit = tmp_path / "audit.jsonl"
    gh = start_http(gatehouse, be.addr, audit, key=audit_key)
    requests_on_one_connection(gh.port, ctx, 2)
    stop(gh)
    honest = audit.read_bytes()
    n_honest = honest.count(b"\n")
    if forgery == "sha256_line":
        forged = [forge_sha256_line(honest.splitlines()[-1])]
    else:
        forged = al.forge_writer(31337, [], (0, 1, 2))
        if forgery == "forged_start":
            forged = forged[:1]
    audit.write_bytes(honest + b"".join(forged))

    gh2 = start_http(gatehouse, be.addr, audit, key=audit_key)
    requests_on_one_connection(gh2.port, ctx, 1)
    stop(gh2)
    after = audit.read_bytes()
    assert after.startswith(honest + b"".join(forged))
    new = entries_of(after[len(honest) + len(b"".join(forged)):])
    assert new[0]["event"] == "start", new[0]
    assert new[0].get("new_segment") == reason, new[0]
    assert new[0]["prev"] == al.GENESIS and new[0]["seq"] == 1
    assert new[0]["chain_alg"] == "hmac-sha256"
    forged_chains = {al.parse_line(l).chain for l in forged}
    assert not any(e.get("prev") in forged_chains for e in new)
    assert "audit_new_segment" in gh2.text()

    rc, out = verify(audit, key=audit_key)
    assert rc == 1, out
    assert out.splitlines()[-1].startswith(f"{audit}:{n_honest + 1}: "), out

    # the forgery removed: the honest part, then the honest new segment
    data = audit.read_bytes()
    audit.write_bytes(data.replace(b"".join(forged), b"", 1))
    rc, out = verify(audit, key=audit_key)
    assert rc == 4, out
    want = f"{audit}:{n_honest + 1}: new segment: pid {new[0]['pid']} "
    assert any(l.startswith(want) for l in out.splitlines()), out


@pytest.mark.timeout_s(120)
@pytest.mark.parametrize("keyed", [True, False])
@pytest.mark.parametrize("traffic", [1, 0])
def test_restart_continues_a_verified_last_line(gatehouse, backend, ctx, tmp_path, audit_key,
                                                keyed, traffic):
    """The honest case: the last line verifies (against the line before
    it, also when that is the file's first line: start, stop), the chain
    goes on (no new segment), and a clean stop before means no possible
    loss."""
    be = backend(hb.RecordingBackend)
    audit = tmp_path / "audit.jsonl"
    key = audit_key if keyed else None
    for _ in range(3):
        gh = start_http(gatehouse, be.addr, audit, key=key)
        if traffic:
            requests_on_one_connection(gh.port, ctx, traffic)
        stop(gh)
    es = entries(audit)
    starts = by_event(es, "start")
    assert len(starts) == 3 and not any("new_segment" in e for e in starts), starts
    for st in starts[1:]:
        assert st["prev"] == es[es.index(st) - 1]["chain"]
    rc, out = verify(audit, key=key)
    assert rc == 0, out
    assert re.search(rf"^{'intact' if keyed else 'unproven'}: \d+ entries in 1 file, "
                     rf"{'keyed' if keyed else 'unkeyed'} \((hmac-)?sha256\), 0 gaps "
                     r"\(0 entries lost\), 2 restarts$", out, re.M), out


def test_transplanted_run_adopted_by_a_restart_is_tampering(gatehouse, backend, ctx, tmp_path,
                                                            audit_key):
    """Review of issue 11, round 1: the first run of a genuine log A
    (start ... stop, valid HMACs) appended to another genuine log B under
    the same key. gatehouse restarting on B checks only its last line (A's
    stop, which verifies against the line before it) and continues that
    chain; verify names the transplanted start, a new chain in the middle
    of a file (baseline: exit 0, intact)."""
    be = backend(hb.RecordingBackend)
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    for path in (a, b):
        gh = start_http(gatehouse, be.addr, path, key=audit_key)
        requests_on_one_connection(gh.port, ctx, 1)
        stop(gh)
    n_b = len(entries(b))
    with open(b, "ab") as f:
        f.write(a.read_bytes())
    gh = start_http(gatehouse, be.addr, b, key=audit_key)
    requests_on_one_connection(gh.port, ctx, 1)
    stop(gh)
    es = entries(b)
    restart = by_event(es, "start")[-1]
    assert "new_segment" not in restart and restart["prev"] == es[es.index(restart) - 1]["chain"]
    rc, out = verify(b, key=audit_key)
    assert rc == 1, out
    assert f"{b}:{n_b + 1}: replayed or spliced" in out, out


@pytest.mark.timeout_s(120)
def test_partial_last_line_is_truncation_not_tampering(gatehouse, backend, ctx, tmp_path):
    """A writer that died mid-entry leaves a partial line: the verifier says
    truncated (3); the next run ends that line and continues the chain, and
    the verifier still reports the truncation, not tampering."""
    be = backend(hb.RecordingBackend)
    audit = tmp_path / "audit.jsonl"
    gh = start_http(gatehouse, be.addr, audit)
    requests_on_one_connection(gh.port, ctx, 5)
    stop(gh)
    data = audit.read_bytes()
    # simulate a crash in the middle of writing one more entry
    with open(audit, "ab") as f:
        f.write(data.split(b"\n")[-2][:40])
    rc, out = verify(audit)
    assert rc == 3, out
    gh2 = start_http(gatehouse, be.addr, audit)
    requests_on_one_connection(gh2.port, ctx, 2)
    stop(gh2)
    # the ended partial line, then start, tls_ok, 2 requests, close, stop
    assert audit.read_bytes().count(b"\n") == data.count(b"\n") + 1 + 6
    rc, out = verify(audit)
    assert rc == 3, out
    assert "trunc" in out.lower()


# ----------------------------------------------------- rotation, full disk

def test_sigusr1_reopens_and_the_chain_runs_across_files(gatehouse, backend, ctx, tmp_path,
                                                           audit_key):
    be = backend(hb.RecordingBackend)
    audit = tmp_path / "audit.jsonl"
    gh = start_http(gatehouse, be.addr, audit, key=audit_key)
    requests_on_one_connection(gh.port, ctx, 3)
    wait_until(lambda: audit.read_bytes().count(b'"event":"close"') == 1, scaled(5),
               what="close entry on disk")
    rotated = tmp_path / "audit.jsonl.1"
    audit.rename(rotated)
    mark = gh.mark()
    gh.send_signal(signal.SIGUSR1)
    gh.wait_event("audit_reopened", since=mark)
    requests_on_one_connection(gh.port, ctx, 2)
    stop(gh)
    old, new = entries(rotated), entries(audit)
    assert new[0]["event"] == "reopen" and new[0]["prev"] == old[-1]["chain"]
    assert new[0]["seq"] == old[-1]["seq"] + 1
    assert len(by_event(old + new, "request")) == 5
    rc, out = verify(rotated, audit, key=audit_key)
    assert rc == 0, out
    # out of order, or a file missing from the series, is not intact
    rc, out = verify(audit, rotated, key=audit_key)
    assert rc == 1, out


@pytest.mark.timeout_s(120)
def test_file_size_limit_gives_a_gap_not_a_stall(gatehouse, backend, ctx, tmp_path):
    """The audit file hits RLIMIT_FSIZE: requests keep being served, nothing
    crashes, and after rotation a gap entry counts what was lost."""
    be = backend(hb.RecordingBackend)
    audit = tmp_path / "audit.jsonl"
    gh = start_http(gatehouse, be.addr, audit, extra_global={"audit_buffer_size": "64k"})
    # stderr is a file too: the audit file (3 entries a request) reaches the
    # limit well before the diagnostic log (1 line a request) does
    limit = 128 * 1024
    resource.prlimit(gh.pid, resource.RLIMIT_FSIZE, (limit, limit))
    served = 0
    t0 = time.monotonic()
    for _ in range(40):
        served += requests_on_one_connection(gh.port, ctx, 25).count(200)
    elapsed = time.monotonic() - t0
    assert served == 1000
    wait_until(lambda: "audit_write_failed" in gh.text(), scaled(5), what="audit_write_failed")
    assert audit.stat().st_size <= limit
    gh.assert_alive()
    rotated = tmp_path / "audit.jsonl.1"
    audit.rename(rotated)
    gh.send_signal(signal.SIGUSR1)
    wait_until(audit.exists, scaled(5), what="the reopened audit file")
    requests_on_one_connection(gh.port, ctx, 2)
    stop(gh)
    new = entries(audit)
    assert new[0]["event"] == "reopen"
    gaps = by_event(new, "gap")
    assert gaps and gaps[0]["lost"] > 0, [e["event"] for e in new]
    assert len(by_event(new, "request")) >= 2
    rc, out = verify(rotated, audit)
    # entries were lost (4), and the old file may end mid-entry where the
    # limit cut the write (3 wins)
    assert rc in (3, 4), out
    assert "gap" in out
    assert elapsed < scaled(60)


@pytest.mark.timeout_s(120)
def test_losses_are_counted_exactly_and_gaps_only_with_their_entry(gatehouse, backend, ctx,
                                                                    tmp_path):
    """A full buffer (the smallest audit_buffer_size, a file that cannot
    grow, a burst of requests): every entry produced is either written or
    counted in a gap entry, and a gap entry goes out only with the entry
    after it, so there is no run of "lost":1 gap entries (on main the gap
    entries took the room their entries needed)."""
    be = backend(hb.RecordingBackend)
    audit = tmp_path / "audit.jsonl"
    # long targets make request entries much larger than a gap entry, so
    # when the buffer fills, the room left is very likely to fit a gap
    # entry but not the request it precedes
    gh = start_http(gatehouse, be.addr, audit,
                    extra_global={"audit_buffer_size": "64k", "audit_max_field": "4096"})
    limit = 96 * 1024
    resource.prlimit(gh.pid, resource.RLIMIT_FSIZE, (limit, limit))
    conns, per_conn = 40, 25
    for _ in range(conns):
        statuses = requests_on_one_connection(gh.port, ctx, per_conn, target=b"/" + b"t" * 2000)
        assert statuses.count(200) == per_conn
    wait_until(lambda: "audit_write_failed" in gh.text(), scaled(5), what="audit_write_failed")
    rotated = tmp_path / "audit.jsonl.1"
    audit.rename(rotated)
    gh.send_signal(signal.SIGUSR1)
    wait_until(audit.exists, scaled(5), what="the reopened audit file")
    stop(gh)
    assert "audit_lost" not in gh.text(), gh.text()

    produced = 1 + conns * (1 + per_conn + 1) + 1      # start, tls_ok + requests + close, stop
    es = entries(rotated) + entries(audit)             # whole lines only
    gaps = by_event(es, "gap")
    assert gaps, [e["event"] for e in es]
    written = [e for e in es if e["event"] not in ("gap", "reopen")]
    lost = sum(g["lost"] for g in gaps)
    assert len(written) + lost == produced, (len(written), lost, produced)
    runs = [i for i in range(1, len(es))
            if es[i]["event"] == es[i - 1]["event"] == "gap"
            and es[i]["lost"] == es[i - 1]["lost"] == 1]
    assert not runs, [(es[i]["seq"], es[i]["lost"]) for i in runs]
    for i, e in enumerate(es[:-1]):
        if e["event"] == "gap":
            assert es[i + 1]["event"] != "gap" or es[i + 1]["pid"] != e["pid"], (e, es[i + 1])


# ---------------------------------------------------------- destinations

def test_workers_write_their_own_files(gatehouse, backend, ctx, tmp_path):
    be = backend(hb.RecordingBackend)
    pattern = tmp_path / "audit-%w.jsonl"
    gh = start_http(gatehouse, be.addr, pattern, extra_global={"workers": 2})
    for _ in range(8):
        requests_on_one_connection(gh.port, ctx, 2)
    stop(gh)
    files = [tmp_path / "audit-0.jsonl", tmp_path / "audit-1.jsonl"]
    total = 0
    for i, f in enumerate(files):
        es = entries(f)
        assert es[0]["event"] == "start" and es[0]["worker"] == i and es[0]["workers"] == 2
        assert es[-1]["event"] == "stop"
        total += len(by_event(es, "request"))
        rc, out = verify(f)
        assert rc == 0, out
    assert total == 16


def test_stdout_destination(gatehouse, backend, ctx, tmp_path):
    be = backend(hb.RecordingBackend)
    gh = start_http(gatehouse, be.addr, "-")
    requests_on_one_connection(gh.port, ctx, 2)
    stop(gh)
    es = entries(gh.out_path)
    assert [e["event"] for e in es][0] == "start" and es[-1]["event"] == "stop"
    assert len(by_event(es, "request")) == 2
    assert es[0].get("stream") == "stdout", es[0]
    rc, out = verify(gh.out_path)
    assert rc == 0, out


def test_config_errors_name_file_line_and_key(tmp_path, certs):
    short_key = tmp_path / "short.key"
    short_key.write_bytes(b"too short")
    cases = [
        ({"audit_file": str(tmp_path / "no-such-dir" / "a.jsonl")}, "audit_file", "cannot open"),
        ({"audit_file": str(tmp_path / "a.jsonl"), "audit_key_file": str(short_key)},
         "audit_key_file", "bytes"),
        ({"audit_file": str(tmp_path / "a.jsonl"), "workers": 2}, "audit_file", "%w"),
        ({"audit_key_file": str(short_key)}, "audit_key_file", "audit_file is not"),
        ({"audit_file": str(tmp_path / "a.jsonl"), "audit_fsync": "sometimes"},
         "audit_fsync", "never, interval or always"),
        ({"audit_file": str(tmp_path / "a.jsonl"), "audit_buffer_size": "1k"},
         "audit_buffer_size", "out of range"),
    ]
    for opts, key, text in cases:
        ini = tmp_path / "bad.ini"
        ini.write_text(ghutil.render_ini(opts, {"l": {
            "listen": f"127.0.0.1:{free_port()}", "backend": "127.0.0.1:1",
            "cert": str(certs.ec_crt), "key": str(certs.ec_key)}}))
        r = ghutil.run_gatehouse(["-t", "-c", str(ini)])
        assert r.returncode != 0, (opts, r.stdout)
        line_no = next(i for i, l in enumerate(ini.read_text().splitlines(), 1)
                       if l.startswith(key + " "))
        assert re.search(rf"{re.escape(str(ini))}:{line_no}: {key}: .*{re.escape(text)}",
                         r.stderr), (opts, r.stderr)
