"""Large random streams through gatehouse, each way and both at once,
compared by SHA-256. Size: GATEHOUSE_TEST_STREAM_MB (default 64) MiB."""

import hashlib
import os
import time

import pytest

import backends
from ghutil import STREAM_MB, client_context, duplex_transfer, recv_exact, scaled, \
    sha256, tls_connect

N = STREAM_MB << 20
CHUNK = 1 << 18


@pytest.fixture(scope="module")
def payload_up():
    return os.urandom(N)


@pytest.fixture(scope="module")
def payload_down():
    return os.urandom(N)


@pytest.mark.timeout_s(120)
def test_stream_client_to_backend(gatehouse, backend, certs, payload_up):
    sink = backend(backends.SinkHash, expect=N, reply=True)
    gh = gatehouse(sink)
    t0 = time.monotonic()
    with tls_connect(gh.port, client_context(certs.ca), timeout=60) as s:
        view = memoryview(payload_up)
        for off in range(0, N, CHUNK):
            s.sendall(view[off:off + CHUNK])
        digest = recv_exact(s, 65).decode().strip()
    res = sink.get_result(timeout=scaled(60))
    assert res["n"] == N
    assert res["sha256"] == sha256(payload_up)
    assert digest == sha256(payload_up)
    print(f"upload {STREAM_MB} MiB in {time.monotonic() - t0:.2f}s")


@pytest.mark.timeout_s(120)
def test_stream_backend_to_client(gatehouse, backend, certs, payload_down):
    src = backend(backends.Source, payload_down)
    gh = gatehouse(src)
    t0 = time.monotonic()
    h = hashlib.sha256()
    got = 0
    with tls_connect(gh.port, client_context(certs.ca), timeout=60) as s:
        buf = bytearray(CHUNK)
        while True:
            n = s.recv_into(buf)
            if n == 0:
                break
            h.update(memoryview(buf)[:n])
            got += n
    assert got == N
    assert h.hexdigest() == sha256(payload_down)
    print(f"download {STREAM_MB} MiB in {time.monotonic() - t0:.2f}s")


@pytest.mark.timeout_s(150)
def test_stream_both_ways_at_once(gatehouse, backend, certs, payload_up, payload_down):
    dup = backend(backends.Duplex, payload_down, expect=N)
    gh = gatehouse(dup)
    with tls_connect(gh.port, client_context(certs.ca), timeout=60) as s:
        got_digest = duplex_transfer(s, payload_up, N, timeout=120)
    res = dup.get_result(timeout=scaled(60))
    assert not res["send_error"], res
    assert res["n"] == N
    assert res["sha256"] == sha256(payload_up), "client->backend stream corrupted"
    assert got_digest == sha256(payload_down), "backend->client stream corrupted"


@pytest.mark.timeout_s(60)
def test_small_buffer_size_still_intact(gatehouse, backend, certs):
    """buffer_size = 4k (the minimum) with TLS records of 16k."""
    data = os.urandom(4 << 20)
    sink = backend(backends.SinkHash, expect=len(data), reply=True)
    gh = gatehouse(sink, buffer_size="4k")
    with tls_connect(gh.port, client_context(certs.ca), timeout=30) as s:
        s.sendall(data)
        assert recv_exact(s, 65).decode().strip() == sha256(data)
