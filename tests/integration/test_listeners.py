"""Several listeners in one process; several worker processes."""

import os
import signal
import time

import pytest

import backends
from ghutil import client_context, recv_exact, scaled, tls_connect, wait_until


def test_several_listeners_each_own_backend(gatehouse, backend, certs):
    names = ["alpha", "beta", "gamma"]
    bks = {n: backend(backends.Echo, banner=f"I am {n}\n".encode()) for n in names}
    listeners = {n: {"backend": bks[n]} for n in names}
    listeners["beta"]["cert_kind"] = "rsa"
    gh = gatehouse(listeners=listeners)
    assert len(set(gh.ports.values())) == 3
    for rnd in range(2):
        for n in names:
            mark = gh.mark()
            with tls_connect(gh.ports[n], client_context(certs.ca)) as s:
                banner = f"I am {n}\n".encode()
                assert recv_exact(s, len(banner)) == banner
                s.sendall(b"echo " + n.encode())
                assert recv_exact(s, 5 + len(n)) == b"echo " + n.encode()
                if s.version() == "TLSv1.2":
                    assert ("RSA" if n == "beta" else "ECDSA") in s.cipher()[0]
            cc = gh.wait_event("conn_close", since=mark)
            assert cc.get("listener") == n, cc
    for n in names:
        assert bks[n].accepted == 2


def test_listener_tls_versions_independent(gatehouse, backend, certs):
    import ssl
    echo = backend(backends.Echo)
    gh = gatehouse(listeners={"modern": {"backend": echo, "tls_min_version": "1.3"},
                              "compat": {"backend": echo, "tls_min_version": "1.2"}})
    ctx12 = client_context(certs.ca, max_version=ssl.TLSVersion.TLSv1_2)
    with tls_connect(gh.ports["compat"], ctx12) as s:
        assert s.version() == "TLSv1.2"
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        with tls_connect(gh.ports["modern"], ctx12) as s:
            s.sendall(b"x")
            s.recv(1)


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.timeout_s(60)
def test_two_workers_share_connections(gatehouse, backend, certs):
    echo = backend(backends.Echo)
    gh = gatehouse(echo, global_opts={"workers": 2})
    ctx = client_context(certs.ca)
    n = 40
    for i in range(n):
        with tls_connect(gh.port, ctx) as s:
            msg = b"hello %d" % i
            s.sendall(msg)
            assert recv_exact(s, len(msg)) == msg
    wait_until(lambda: len(gh.events("conn_close")) >= n, scaled(10),
               what=f"{n} conn_close events")
    pids = {int(e["pid"]) for e in gh.events("conn_close")}
    assert len(pids) >= 2, f"all {n} connections served by pid(s) {pids}"
    for pid in pids:
        assert _alive(pid)
    gh.send_signal(signal.SIGTERM)
    assert gh.wait(timeout=10) == 0, gh.tail()
    wait_until(lambda: not any(_alive(p) for p in pids), scaled(3),
               what=f"worker processes {pids} to exit with the master")
    gh.wait_event("shutdown_done", timeout=1)


@pytest.mark.timeout_s(60)
def test_worker_killed_others_keep_serving(gatehouse, backend, certs):
    """With 2 workers, after a worker dies the listener keeps serving
    (the survivor, or a replacement, takes the connections)."""
    echo = backend(backends.Echo)
    gh = gatehouse(echo, global_opts={"workers": 2})
    ctx = client_context(certs.ca)
    for i in range(20):
        with tls_connect(gh.port, ctx) as s:
            s.sendall(b"x")
            assert recv_exact(s, 1) == b"x"
    wait_until(lambda: len(gh.events("conn_close")) >= 20, scaled(10), what="conn_close")
    pids = {int(e["pid"]) for e in gh.events("conn_close")} - {gh.pid}
    assert pids, "no worker process distinct from the main process"
    # gatehouse treats a worker dying within its first second as a start
    # failure; this is about a worker dying later, so wait that out.
    time.sleep(2.1)
    victim = sorted(pids)[0]
    os.kill(victim, signal.SIGKILL)
    time.sleep(0.5)
    gh.assert_alive()
    for i in range(20):
        with tls_connect(gh.port, ctx, timeout=5) as s:
            s.sendall(b"y")
            assert recv_exact(s, 1) == b"y"
