"""SIGHUP reloads the configuration and certificates: new connections use
the new settings, open ones finish undisturbed, and a bad or incompatible
file is refused with its errors logged (FILE:LINE: key: message) while the
running configuration keeps serving. Each outcome has an audit entry."""

import hashlib
import json
import os
import re
import signal
import ssl
import threading

import pytest

import backends
from ghutil import STREAM_MB, client_context, free_port, recv_exact, scaled, sha256, \
    tls_connect, wait_until


def rewrite(gh, **changes):
    """Edits the running instance's ini: key -> new value (None deletes)."""
    text = gh.ini_path.read_text()
    for key, value in changes.items():
        rx = re.compile(rf"(?m)^{re.escape(key)} = .*$")
        assert rx.search(text), f"{key} not in {gh.ini_path}"
        text = rx.sub("" if value is None else f"{key} = {value}", text)
    gh.ini_path.write_text(text)


def echo_once(port, ctx, payload=b"ping"):
    with tls_connect(port, ctx) as s:
        s.sendall(payload)
        return recv_exact(s, len(payload))


def reload(gh, event):
    mark = gh.mark()
    gh.send_signal(signal.SIGHUP)
    return gh.wait_event(event, since=mark)


def test_reload_sends_new_connections_to_the_new_backend(gatehouse, backend, ctx, tmp_path):
    a = backend(backends.Echo, banner=b"A")
    b = backend(backends.Echo, banner=b"B")
    audit = tmp_path / "audit.jsonl"
    gh = gatehouse(a, global_opts={"audit_file": str(audit)})
    old = tls_connect(gh.port, ctx)
    assert recv_exact(old, 1) == b"A"
    rewrite(gh, backend=b.addr)
    reload(gh, "reloaded")
    with tls_connect(gh.port, ctx) as s:
        assert recv_exact(s, 1) == b"B"
    # the connection from before goes on with its own backend
    old.sendall(b"still here")
    assert recv_exact(old, 10) == b"still here"
    old.close()
    gh.assert_alive()
    gh.send_signal(signal.SIGTERM)
    assert gh.wait() == 0
    entries = [json.loads(l) for l in audit.read_text().splitlines()]
    rel = [e for e in entries if e["event"] == "reload"]
    assert len(rel) == 1 and rel[0]["result"] == "ok" and rel[0]["errors"] == 0
    assert rel[0]["config_sha256"] == hashlib.sha256(gh.ini_path.read_bytes()).hexdigest()
    assert entries[-1]["event"] == "stop"
    assert entries[-1]["config_sha256"] == rel[0]["config_sha256"]


def test_bad_config_is_refused_and_the_old_one_serves(gatehouse, backend, ctx, tmp_path):
    a = backend(backends.Echo, banner=b"A")
    audit = tmp_path / "audit.jsonl"
    gh = gatehouse(a, global_opts={"audit_file": str(audit)})
    good = gh.ini_path.read_text()
    gh.ini_path.write_text(good + "idle_timeout = forever\nbogus_key = 1\n")
    n_lines = len(gh.ini_path.read_text().splitlines())
    mark = gh.mark()
    gh.send_signal(signal.SIGHUP)
    gh.wait_event("reload_refused", since=mark)
    errors = [e["error"] for e in gh.events("reload_failed", since=mark)]
    path = str(gh.ini_path)
    assert any(e.startswith(f"{path}:{n_lines - 1}: idle_timeout: ") for e in errors), errors
    assert any(e.startswith(f"{path}:{n_lines}: bogus_key: ") for e in errors), errors
    with tls_connect(gh.port, ctx) as s:
        assert recv_exact(s, 1) == b"A"
    gh.assert_alive()
    gh.send_signal(signal.SIGTERM)
    assert gh.wait() == 0
    rel = [json.loads(l) for l in audit.read_text().splitlines() if '"reload"' in l]
    assert len(rel) == 1 and rel[0]["result"] == "refused" and rel[0]["errors"] == 2


@pytest.mark.parametrize("change,key", [
    ({"listen": "127.0.0.1:1"}, "listen"),
    ({"mode": "http"}, "mode"),
    ({"buffer_size": "64k"}, "buffer_size"),
])
def test_what_needs_a_restart_is_refused(gatehouse, backend, ctx, change, key):
    a = backend(backends.Echo, banner=b"A")
    gh = gatehouse(a, buffer_size="32k")
    rewrite(gh, **change)
    mark = gh.mark()
    gh.send_signal(signal.SIGHUP)
    gh.wait_event("reload_refused", since=mark)
    errors = [e["error"] for e in gh.events("reload_failed", since=mark)]
    assert any(re.match(rf"{re.escape(str(gh.ini_path))}:\d+: {key}: .*restart", e)
               for e in errors), errors
    with tls_connect(gh.port, ctx) as s:
        assert recv_exact(s, 1) == b"A"


def line_of(path, pattern):
    lines = path.read_text().splitlines()
    return next(i + 1 for i, l in enumerate(lines) if re.match(pattern, l))


@pytest.mark.parametrize("what", ["workers", "listener"])
def test_refused_restart_keys_name_their_line(gatehouse, backend, ctx, what):
    """workers changed, or a listener added: the error names the line of the
    key or of the new section, not line 0."""
    a = backend(backends.Echo, banner=b"A")
    gh = gatehouse(a, global_opts={"workers": 1})
    if what == "workers":
        rewrite(gh, workers=2)
        line = line_of(gh.ini_path, r"workers = 2$")
    else:
        text = gh.ini_path.read_text()
        cert = re.search(r"(?m)^cert = (.*)$", text).group(1)
        key = re.search(r"(?m)^key = (.*)$", text).group(1)
        gh.ini_path.write_text(text + f"\n[listener:extra]\nlisten = 127.0.0.1:{free_port()}\n"
                               f"backend = 127.0.0.1:9\ncert = {cert}\nkey = {key}\n")
        line = line_of(gh.ini_path, r"\[listener:extra\]$")
    mark = gh.mark()
    gh.send_signal(signal.SIGHUP)
    gh.wait_event("reload_refused", since=mark)
    errors = [e["error"] for e in gh.events("reload_failed", since=mark)]
    assert f"{gh.ini_path}:{line}: {what}: " in "\n".join(errors), errors
    with tls_connect(gh.port, ctx) as s:
        assert recv_exact(s, 1) == b"A"


def test_missing_certificate_is_refused(gatehouse, backend, ctx, tmp_path):
    a = backend(backends.Echo, banner=b"A")
    gh = gatehouse(a)
    rewrite(gh, cert=str(tmp_path / "gone.pem"))
    mark = gh.mark()
    gh.send_signal(signal.SIGHUP)
    gh.wait_event("reload_refused", since=mark)
    errors = [e["error"] for e in gh.events("reload_failed", since=mark)]
    assert any(re.match(rf"{re.escape(str(gh.ini_path))}:\d+: cert: .*gone\.pem", e)
               for e in errors), errors
    with tls_connect(gh.port, ctx) as s:
        assert recv_exact(s, 1) == b"A"


@pytest.mark.timeout_s(120)
def test_new_certificate_mid_transfer(gatehouse, backend, certs):
    """A large upload runs while the certificate changes from ECDSA to RSA:
    the upload completes intact, and the next handshake shows the new
    certificate."""
    n = STREAM_MB << 20
    payload = os.urandom(n)
    sink = backend(backends.SinkHash, expect=n, reply=True)
    gh = gatehouse(sink)
    ctx = client_context(certs.ca)
    first_cert = None
    done = threading.Event()
    result = {}

    def upload():
        nonlocal first_cert
        with tls_connect(gh.port, ctx, timeout=60) as s:
            first_cert = s.getpeercert(binary_form=True)
            view = memoryview(payload)
            for off in range(0, n, 1 << 18):
                s.sendall(view[off:off + (1 << 18)])
                if off == (n // 2) - (n // 2) % (1 << 18):
                    done.set()  # half way: time to reload
            result["digest"] = recv_exact(s, 65).decode().strip()

    t = threading.Thread(target=upload)
    t.start()
    assert done.wait(scaled(60))
    rewrite(gh, cert=str(certs.rsa_crt), key=str(certs.rsa_key))
    reload(gh, "reloaded")
    t.join(scaled(90))
    assert not t.is_alive()
    assert result.get("digest") == sha256(payload)
    res = sink.get_result(timeout=scaled(60))
    assert res["n"] == n and res["sha256"] == sha256(payload)
    with tls_connect(gh.port, ctx) as s:
        new_cert = s.getpeercert(binary_form=True)
    assert first_cert == ssl.PEM_cert_to_DER_cert(certs.ec_crt.read_text())
    assert new_cert == ssl.PEM_cert_to_DER_cert(certs.rsa_crt.read_text())


def test_workers_reload_through_the_supervisor(gatehouse, backend, ctx):
    a = backend(backends.Echo, banner=b"A")
    b = backend(backends.Echo, banner=b"B")
    gh = gatehouse(a, global_opts={"workers": 2})
    rewrite(gh, backend=b.addr)
    mark = gh.mark()
    gh.send_signal(signal.SIGHUP)
    wait_until(lambda: len(gh.events("reloaded", since=mark)) == 2, scaled(5),
               what="both workers reloaded")
    for _ in range(6):
        with tls_connect(gh.port, ctx) as s:
            assert recv_exact(s, 1) == b"B"
    gh.send_signal(signal.SIGTERM)
    assert gh.wait() == 0
