"""Plaintext TCP backends for the integration tests, each a listening socket
on 127.0.0.1 with an accept thread and one thread per connection.

Every backend has .addr ("127.0.0.1:PORT"), .port, .accepted (count),
.results (a queue.Queue of per-connection reports) and .close()."""

import hashlib
import queue
import socket
import struct
import threading
import time

HOST = "127.0.0.1"


class Backend:
    backlog = 1024

    def __init__(self):
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((HOST, 0))
        self.lsock.listen(self.backlog)
        self.lsock.settimeout(0.1)
        self.port = self.lsock.getsockname()[1]
        self.addr = f"{HOST}:{self.port}"
        self.results = queue.Queue()
        self.accepted = 0
        self.accepted_event = threading.Event()
        self.conns = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = []
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True,
                                          name=f"{type(self).__name__}-accept")
        self._acceptor.start()

    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.settimeout(60)
            with self._lock:
                self.accepted += 1
                self.conns.append(conn)
            self.accepted_event.set()
            t = threading.Thread(target=self._run, args=(conn,), daemon=True)
            with self._lock:
                self._threads.append(t)
            t.start()

    def _run(self, conn):
        try:
            self.handle(conn)
        except OSError as e:
            self.results.put({"error": repr(e)})
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def handle(self, conn):
        raise NotImplementedError

    def get_result(self, timeout=30):
        return self.results.get(timeout=timeout)

    def close(self):
        self._stop.set()
        try:
            self.lsock.close()
        except OSError:
            pass
        with self._lock:
            conns = list(self.conns)
            threads = list(self._threads)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._acceptor.join(timeout=2)
        for t in threads:
            t.join(timeout=2)
        for c in conns:
            try:
                c.close()
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _read_until_eof(conn, sink):
    n = 0
    while True:
        data = conn.recv(1 << 18)
        if not data:
            return n
        sink(data)
        n += len(data)


class Echo(Backend):
    """Echoes everything; optional banner sent first. On EOF from the client
    it shuts its write side and closes."""

    def __init__(self, banner=b""):
        self.banner = banner
        super().__init__()

    def handle(self, conn):
        if self.banner:
            conn.sendall(self.banner)
        total = 0
        while True:
            data = conn.recv(1 << 16)
            if not data:
                break
            total += len(data)
            conn.sendall(data)
        self.results.put({"echoed": total})


class SinkHash(Backend):
    """Reads `expect` bytes (or until EOF when expect is None), reports
    {'n','sha256','eof'} and, if reply, answers with the hex digest."""

    def __init__(self, expect=None, reply=True):
        self.expect = expect
        self.reply = reply
        super().__init__()

    def handle(self, conn):
        h = hashlib.sha256()
        n = 0
        eof = False
        while self.expect is None or n < self.expect:
            want = 1 << 18 if self.expect is None else min(1 << 18, self.expect - n)
            data = conn.recv(want)
            if not data:
                eof = True
                break
            h.update(data)
            n += len(data)
        digest = h.hexdigest()
        self.results.put({"n": n, "sha256": digest, "eof": eof})
        if self.reply:
            conn.sendall(digest.encode() + b"\n")
        if self.expect is not None and not eof:
            # wait for the client to finish, then close
            conn.settimeout(30)
            try:
                _read_until_eof(conn, lambda d: None)
            except OSError:
                pass


class Source(Backend):
    """Sends `data` to each connection, then closes (FIN)."""

    def __init__(self, data):
        self.data = data
        super().__init__()

    def handle(self, conn):
        t0 = time.monotonic()
        conn.sendall(self.data)
        conn.shutdown(socket.SHUT_WR)
        self.results.put({"sent": len(self.data), "seconds": time.monotonic() - t0})
        # keep the read side until the peer closes, so no RST
        conn.settimeout(30)
        try:
            _read_until_eof(conn, lambda d: None)
        except OSError:
            pass


class Duplex(Backend):
    """Sends `data` while reading `expect` bytes at the same time; reports
    the hash of what it read."""

    def __init__(self, data, expect):
        self.data = data
        self.expect = expect
        super().__init__()

    def handle(self, conn):
        err = []

        def sender():
            try:
                conn.sendall(self.data)
            except OSError as e:
                err.append(e)

        t = threading.Thread(target=sender, daemon=True)
        t.start()
        h = hashlib.sha256()
        n = 0
        while n < self.expect:
            data = conn.recv(min(1 << 18, self.expect - n))
            if not data:
                break
            h.update(data)
            n += len(data)
        t.join(timeout=120)
        self.results.put({"n": n, "sha256": h.hexdigest(), "send_error": err})
        conn.shutdown(socket.SHUT_WR)
        conn.settimeout(30)
        try:
            _read_until_eof(conn, lambda d: None)
        except OSError:
            pass


class AnswerAfterEOF(Backend):
    """Reads until EOF from the client, then answers with
    b'got N bytes sha256=...' and closes. Tests the client's half-close."""

    def handle(self, conn):
        h = hashlib.sha256()
        n = _read_until_eof(conn, h.update)
        self.results.put({"n": n, "sha256": h.hexdigest()})
        time.sleep(0.1)   # the answer comes clearly after the EOF
        conn.sendall(b"got %d bytes sha256=%s\n" % (n, h.hexdigest().encode()))


class SendThenRead(Backend):
    """Sends `data`, shuts its write side (FIN) and then keeps reading until
    the client's EOF; reports what it read. Tests the backend's half-close."""

    def __init__(self, data):
        self.data = data
        super().__init__()

    def handle(self, conn):
        conn.sendall(self.data)
        conn.shutdown(socket.SHUT_WR)
        buf = bytearray()
        _read_until_eof(conn, buf.extend)
        self.results.put({"received": bytes(buf)})


class Reset(Backend):
    """Accepts, then closes with SO_LINGER 0 so the kernel sends RST."""

    def __init__(self, delay=0.0):
        self.delay = delay
        super().__init__()

    def handle(self, conn):
        if self.delay:
            time.sleep(self.delay)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.results.put({"reset": True})


class Hang(Backend):
    """Accepts and then never reads nor writes, holding the socket open
    until close()."""

    def handle(self, conn):
        self._stop.wait(120)


class Refuser:
    """A port where TCP connects are refused: bound, never listening (so no
    one else can take the port while the test runs)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((HOST, 0))
        self.port = self.sock.getsockname()[1]
        self.addr = f"{HOST}:{self.port}"

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class FullBacklog:
    """A listening socket with listen(0) whose accept queue is filled with
    connections nobody accepts, so new SYNs are dropped and connect() hangs
    until its timeout: simulates an unreachable backend on 127.0.0.1."""

    def __init__(self, fill=4):
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.bind((HOST, 0))
        self.lsock.listen(0)
        self.port = self.lsock.getsockname()[1]
        self.addr = f"{HOST}:{self.port}"
        self.fillers = []
        for _ in range(fill):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.connect_ex((HOST, self.port))
            self.fillers.append(s)
        time.sleep(0.2)

    def connect_hangs(self, probe=0.5):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(probe)
        try:
            s.connect((HOST, self.port))
            return False
        except socket.timeout:
            return True
        except OSError:
            return False
        finally:
            s.close()

    def close(self):
        for s in self.fillers:
            s.close()
        self.lsock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Trickle(Backend):
    """Sends one byte every `interval` seconds, `count` times, then b'END'
    and closes: traffic in the backend -> client direction only."""

    def __init__(self, interval=0.3, count=10):
        self.interval = interval
        self.count = count
        super().__init__()

    def handle(self, conn):
        for _ in range(self.count):
            if self._stop.wait(self.interval):
                return
            conn.sendall(b".")
        conn.sendall(b"END")
        conn.shutdown(socket.SHUT_WR)
        self.results.put({"done": True})
        conn.settimeout(30)
        try:
            _read_until_eof(conn, lambda d: None)
        except OSError:
            pass
