"""Many connections open at the same time."""

import os
import resource
import threading

import pytest

import backends
from ghutil import client_context, recv_exact, scaled, tls_connect, wait_until

CONNS = 500


@pytest.mark.timeout_s(120)
def test_500_concurrent_echo_connections(gatehouse, backend, certs):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 2 * CONNS + 200       # client side + echo backend side, one process
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    echo = backend(backends.Echo)
    gh = gatehouse(echo)
    ctx = client_context(certs.ca)
    barrier = threading.Barrier(CONNS, timeout=scaled(60))
    errors = []
    ok = []
    lock = threading.Lock()

    def worker(i):
        try:
            with tls_connect(gh.port, ctx, timeout=60) as s:
                barrier.wait()          # all CONNS are open at this point
                msg = b"conn %d %s\n" % (i, os.urandom(8).hex().encode())
                s.sendall(msg)
                assert recv_exact(s, len(msg)) == msg
                barrier.wait()          # still all open after the round trip
            with lock:
                ok.append(i)
        except Exception as e:  # noqa: BLE001
            with lock:
                errors.append(f"{i}: {e!r}")
            barrier.abort()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True,
                                name=f"client-{i}") for i in range(CONNS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=scaled(90))
    assert not errors, f"{len(errors)} failures, first: {errors[:5]}"
    assert len(ok) == CONNS
    assert echo.accepted >= CONNS
    gh.assert_alive()
    # every connection is closed and accounted for in the log
    wait_until(lambda: len(gh.events("conn_close")) >= CONNS, scaled(15),
               what=f"{CONNS} conn_close events")


def test_max_connections_limit_queues_instead_of_failing(gatehouse, backend, certs):
    """max_connections = 2: a third client is not served while two are
    open, and is served as soon as one closes."""
    echo = backend(backends.Echo)
    gh = gatehouse(echo, max_connections=2)
    ctx = client_context(certs.ca)
    a = tls_connect(gh.port, ctx)
    b = tls_connect(gh.port, ctx)
    try:
        for s in (a, b):
            s.sendall(b"x")
            assert recv_exact(s, 1) == b"x"
        result = {}

        def third():
            try:
                with tls_connect(gh.port, ctx, timeout=20) as c:
                    c.sendall(b"third")
                    result["data"] = recv_exact(c, 5)
            except Exception as e:  # noqa: BLE001
                result["error"] = repr(e)

        t = threading.Thread(target=third, daemon=True)
        t.start()
        t.join(timeout=1.0)
        assert t.is_alive(), f"third connection was served beyond max_connections: {result}"
        a.close()
        t.join(timeout=scaled(15))
        assert result.get("data") == b"third", result
    finally:
        a.close()
        b.close()
