"""How TLS records cross the socket: gatehouse reads several records per
recv (read-ahead in tls.c) and writes each handshake flight in one send
(wolfSSL's grouped messages). These tests check that no byte is lost or
reordered whatever the record boundaries, and that the server's flight
arrives whole."""

import os
import socket
import ssl
import struct
import time

import pytest

import backends
from ghutil import HOST, BioTLS, client_context, scaled, sha256


def records(bio, chunks):
    """TLS records for chunks (one record per chunk), not yet sent."""
    for chunk in chunks:
        bio.obj.write(chunk)
    return bio.out.read()


def assert_delivered(res, data):
    """The backend (SinkHash) got data, in order, then EOF from the close_notify."""
    assert res["n"] == len(data)
    assert res["sha256"] == sha256(data)
    assert res["eof"], "the close_notify did not reach the backend as EOF"


def close_notify_bytes(bio):
    try:
        bio.obj.unwrap()
    except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
        pass
    return bio.out.read()


@pytest.mark.parametrize("buffer_size", ["16k", "4k"])
def test_many_records_and_close_notify_in_one_write(gatehouse, backend, certs, buffer_size):
    """300 small records and the close_notify in one TCP write: one recv
    brings far more than the record wolfSSL asked for."""
    sink = backend(backends.SinkHash, expect=None, reply=False)
    gh = gatehouse(sink, buffer_size=buffer_size)
    chunks = [os.urandom(1 + (i * 37) % 200) for i in range(300)]
    c = BioTLS(gh.port, client_context(certs.ca))
    try:
        wire = records(c, chunks) + close_notify_bytes(c)
        assert len(wire) > 5 * 300  # one record per chunk
        c.sock.sendall(wire)
        res = sink.get_result(timeout=scaled(10))
    finally:
        c.close()
    assert_delivered(res, b"".join(chunks))


def test_records_split_at_every_byte(gatehouse, backend, certs):
    """The same records dribbled one byte per TCP segment: every record
    header and body arrives in pieces."""
    sink = backend(backends.SinkHash, expect=None, reply=False)
    gh = gatehouse(sink)
    chunks = [os.urandom(1 + i % 23) for i in range(12)]
    c = BioTLS(gh.port, client_context(certs.ca))
    try:
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        wire = records(c, chunks) + close_notify_bytes(c)
        for i in range(len(wire)):
            c.sock.sendall(wire[i:i + 1])
            time.sleep(0.001)
        res = sink.get_result(timeout=scaled(20))
    finally:
        c.close()
    assert_delivered(res, b"".join(chunks))


def test_request_after_handshake_in_the_same_segment(gatehouse, backend, certs):
    """A TLS 1.3 client's Finished and its first records in one write (as
    clients that send data right after the handshake do): the records read
    ahead during the handshake still reach the backend."""
    sink = backend(backends.SinkHash, expect=None, reply=False)
    gh = gatehouse(sink)
    ctx = client_context(certs.ca, min_version=ssl.TLSVersion.TLSv1_3)
    sock = socket.create_connection((HOST, gh.port), timeout=scaled(10))
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
    data = os.urandom(3000)
    try:
        while True:
            try:
                obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                sock.sendall(out.read())
                got = sock.recv(1 << 16)
                assert got, "gatehouse closed during the handshake"
                inc.write(got)
        finished = out.read()
        obj.write(data)
        try:
            obj.unwrap()
        except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
            pass
        sock.sendall(finished + out.read())
        res = sink.get_result(timeout=scaled(10))
    finally:
        sock.close()
    assert_delivered(res, data)


def data_segments_in(sock):
    """Segments with data this socket has received (tcp_info's
    tcpi_data_segs_in, Linux 4.6+): on loopback one per send() of the
    peer, as long as a send is below the 64 KiB MSS."""
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    assert len(info) >= 160, "kernel without tcpi_data_segs_in"
    return struct.unpack_from("I", info, 152)[0]


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_server_flight_is_one_segment(gatehouse, backend, certs, version):
    """The server's first flight (ServerHello up to Finished, or up to
    ServerHelloDone in TLS 1.2) comes in one TCP segment, not one per
    message: fewer sends, fewer packets, fewer wake-ups of the client."""
    gh = gatehouse(backend(backends.Echo))
    tls = ssl.TLSVersion.TLSv1_3 if version == "1.3" else ssl.TLSVersion.TLSv1_2
    ctx = client_context(certs.ca, min_version=tls, max_version=tls)
    sock = socket.create_connection((HOST, gh.port), timeout=scaled(10))
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
    try:
        with pytest.raises(ssl.SSLWantReadError):
            obj.do_handshake()
        sock.sendall(out.read())  # the ClientHello
        while out.pending == 0:   # until the client can answer the flight
            got = sock.recv(1 << 16)
            assert got, "gatehouse closed during the handshake"
            inc.write(got)
            try:
                obj.do_handshake()  # TLS 1.3: done with the server's Finished
            except ssl.SSLWantReadError:
                pass
        assert data_segments_in(sock) == 1
        if version == "1.3":
            assert obj.version() == "TLSv1.3"  # 1.2 ends with the second flight
    finally:
        sock.close()
