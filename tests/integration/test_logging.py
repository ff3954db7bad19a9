"""The diagnostics format: one logfmt line per event on stderr."""

import re
import signal
import socket
import ssl
import time

import backends
from ghutil import client_context, parse_logfmt, recv_exact, tls_connect, wait_closed

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def test_every_line_is_logfmt_with_ts_level_pid_event(gatehouse, backend, certs):
    gh = gatehouse(backend(backends.Echo))
    with tls_connect(gh.port, client_context(certs.ca)) as s:
        s.sendall(b"abc")
        assert recv_exact(s, 3) == b"abc"
        s.unwrap()
    with socket.create_connection(("127.0.0.1", gh.port), timeout=5) as raw:
        raw.sendall(b"GET / HTTP/1.0\r\n\r\n")
        wait_closed(raw, timeout=5)
    gh.wait_event("tls_fail")
    gh.send_signal(signal.SIGTERM)
    assert gh.wait(timeout=10) == 0
    lines = [l for l in gh.lines() if l.strip()]
    assert lines
    events = set()
    for line in lines:
        d = parse_logfmt(line)
        assert list(d)[:4] == ["ts", "level", "pid", "event"], line
        assert TS.match(d["ts"]), line
        assert d["level"] in ("debug", "info", "warn", "error"), line
        assert d["pid"].isdigit(), line
        assert re.fullmatch(r"[a-z_]+", d["event"]), line
        events.add(d["event"])
    assert {"ready", "conn_close", "tls_fail", "shutdown_begin", "shutdown_done"} <= events
    for cc in gh.events("conn_close"):
        for k in ("conn", "listener", "reason", "bytes_in", "bytes_out"):
            assert k in cc, cc
        assert cc["conn"].isdigit() and cc["bytes_in"].isdigit() and cc["bytes_out"].isdigit()


def test_log_level_warn_hides_info(gatehouse, backend, certs):
    gh = gatehouse(backend(backends.Echo), global_opts={"log_level": "warn"}, wait_ready=False)
    with _retry_connect(gh, certs) as s:
        s.sendall(b"x")
        assert recv_exact(s, 1) == b"x"
    gh.send_signal(signal.SIGTERM)
    assert gh.wait(timeout=10) == 0
    for line in gh.lines():
        assert "level=info" not in line and "level=debug" not in line, line


def _retry_connect(gh, certs):
    """Connects once the listener is up (no event=ready at level warn)."""
    deadline = time.monotonic() + 10
    while True:
        try:
            return tls_connect(gh.port, client_context(certs.ca), timeout=5)
        except (ConnectionRefusedError, ssl.SSLError, OSError):
            if time.monotonic() > deadline or not gh.alive():
                raise
            time.sleep(0.05)
