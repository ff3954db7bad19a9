"""Helpers for the gatehouse integration tests: ports, logfmt, the running
gatehouse process, TLS clients (including a memory-BIO client that can
half-close) and bounded waits. Stdlib only."""

import errno
import hashlib
import os
import re
import select
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GATEHOUSE_BIN = os.environ.get("GATEHOUSE_BIN", str(REPO / "build" / "gatehouse"))
# Multiplies every wait and timeout bound (e.g. 3 under AddressSanitizer).
# GATEHOUSE_SANITIZED=1 (set by scripts/test.sh for the ASan build) means 2.
SCALE = float(os.environ.get("GATEHOUSE_TEST_TIMEOUT_SCALE") or
              ("2" if os.environ.get("GATEHOUSE_SANITIZED") == "1" else "1"))
STREAM_MB = int(os.environ.get("GATEHOUSE_TEST_STREAM_MB", "64"))
HOST = "127.0.0.1"

SANITIZER_RE = re.compile(
    r"ERROR: (AddressSanitizer|LeakSanitizer|MemorySanitizer|ThreadSanitizer)"
    r"|runtime error: |WARNING: ThreadSanitizer")


def scaled(seconds):
    return seconds * SCALE


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def wait_until(pred, timeout, interval=0.02, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.1f}s waiting for {what}")
        time.sleep(interval)


# ---------------------------------------------------------------- logfmt

_LOGFMT_PAIR = re.compile(r'([A-Za-z_][A-Za-z0-9_.\-]*)=("(?:[^"\\]|\\.)*"|\S*)')


def parse_logfmt(line):
    out = {}
    for k, v in _LOGFMT_PAIR.findall(line):
        if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
            v = re.sub(r'\\(.)', r'\1', v[1:-1])
        out[k] = v
    return out


# ------------------------------------------------------------------ ini


def addr_text(backend):
    if isinstance(backend, str):
        return backend
    if isinstance(backend, tuple):
        return f"{backend[0]}:{backend[1]}"
    return backend.addr


def render_ini(global_opts, listeners):
    lines = ["; written by tests/integration", "[global]"]
    for k, v in global_opts.items():
        lines.append(f"{k} = {v}")
    for name, opts in listeners.items():
        lines.append("")
        lines.append(f"[listener:{name}]")
        for k, v in opts.items():
            if v is None:
                continue
            lines.append(f"{k} = {v}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------- the process


class GatehouseDied(AssertionError):
    pass


class Gatehouse:
    """One running `gatehouse -c INI`, stderr captured to a file."""

    def __init__(self, ini_path, log_path, out_path, ports):
        self.ini_path = Path(ini_path)
        self.log_path = Path(log_path)
        self.out_path = Path(out_path)
        self.ports = dict(ports)           # listener name -> port
        self.port = next(iter(self.ports.values())) if self.ports else None
        self._log = open(self.log_path, "wb")
        self._out = open(self.out_path, "wb")
        self.proc = subprocess.Popen(
            [GATEHOUSE_BIN, "-c", str(self.ini_path)],
            stdin=subprocess.DEVNULL, stdout=self._out, stderr=self._log,
            start_new_session=True)
        self.pid = self.proc.pid

    # -- log access
    def text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def lines(self):
        return self.text().splitlines()

    def mark(self):
        """Index to pass as since= to only look at later lines."""
        return len(self.lines())

    def events(self, event=None, since=0, **fields):
        out = []
        for line in self.lines()[since:]:
            d = parse_logfmt(line)
            if event is not None and d.get("event") != event:
                continue
            if all(d.get(k) == str(v) for k, v in fields.items()):
                out.append(d)
        return out

    def tail(self, n=40):
        return "\n".join(self.lines()[-n:])

    def wait_for_log(self, regex, timeout=5.0, since=0, count=1):
        """Waits until `count` lines (from index since) match regex; returns the
        last match. Fails with the log if gatehouse exits or time runs out."""
        rx = re.compile(regex)
        deadline = time.monotonic() + scaled(timeout)
        while True:
            found = [m for m in (rx.search(l) for l in self.lines()[since:]) if m]
            if len(found) >= count:
                return found[count - 1]
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"no {count} log line(s) matching /{regex}/ within {timeout}s; "
                    f"gatehouse log tail:\n{self.tail()}")
            time.sleep(0.02)

    def wait_event(self, event, timeout=5.0, since=0, **fields):
        parts = [rf"\bevent={re.escape(event)}\b"]
        rx_all = [re.compile(p) for p in parts] + [
            re.compile(rf"\b{re.escape(k)}={re.escape(str(v))}(\s|$)") for k, v in fields.items()]
        deadline = time.monotonic() + scaled(timeout)
        while True:
            for line in self.lines()[since:]:
                if all(r.search(line) for r in rx_all):
                    return parse_logfmt(line)
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"no event={event} {fields} within {timeout}s; gatehouse log tail:\n{self.tail()}")
            time.sleep(0.02)

    def wait_ready(self, timeout=15.0, count=1):
        """Waits for event=ready (each worker logs one: count = workers,
        waited for softly once the first is there)."""
        deadline = time.monotonic() + scaled(timeout)
        first = None
        while True:
            n = len(re.findall(r"\bevent=ready\b", self.text()))
            if n >= count:
                return
            if n and first is None:
                first = time.monotonic()
            if first is not None and time.monotonic() - first > scaled(5):
                return
            rc = self.proc.poll()
            if rc is not None:
                raise GatehouseDied(
                    f"gatehouse exited with status {rc} before event=ready; "
                    f"config {self.ini_path}:\n{self.ini_path.read_text()}\nstderr:\n{self.text()}")
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"gatehouse not ready within {timeout}s; stderr:\n{self.text()}")
            time.sleep(0.02)

    # -- process control
    def alive(self):
        return self.proc.poll() is None

    def assert_alive(self):
        rc = self.proc.poll()
        assert rc is None, f"gatehouse exited with status {rc}; stderr tail:\n{self.tail()}"

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout=10.0):
        """Waits for exit and returns the status; fails if it does not exit."""
        try:
            return self.proc.wait(timeout=scaled(timeout))
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"gatehouse (pid {self.pid}) did not exit within {timeout}s; "
                f"stderr tail:\n{self.tail()}") from None

    def stop(self):
        """Teardown: SIGTERM, then SIGKILL to the process group it leads."""
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout=scaled(5))
            except (subprocess.TimeoutExpired, ProcessLookupError):
                pass
        try:
            os.killpg(self.pid, signal.SIGKILL)   # leftover workers, if any
        except (ProcessLookupError, PermissionError):
            pass
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        for f in (self._log, self._out):
            try:
                f.close()
            except Exception:
                pass

    def sanitizer_report(self):
        m = SANITIZER_RE.search(self.text())
        return self.text()[max(0, m.start() - 200):m.start() + 4000] if m else None


def run_gatehouse(args, timeout=20.0, cwd=None):
    """Runs the binary to completion; returns CompletedProcess (text)."""
    return subprocess.run([GATEHOUSE_BIN, *args], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=scaled(timeout),
                          cwd=cwd)


# ----------------------------------------------------------- TLS clients


def client_context(ca, min_version=ssl.TLSVersion.TLSv1_2, max_version=None,
                   ciphers=None, verify=True):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # Python sets this by default; without it a TCP EOF that is not
    # preceded by close_notify is reported as such (SSLEOFError), which the
    # half-close tests need to tell apart.
    ctx.options &= ~getattr(ssl, "OP_IGNORE_UNEXPECTED_EOF", 0)
    if verify:
        ctx.load_verify_locations(cafile=str(ca))
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if ciphers is not None:
        ctx.set_ciphers(ciphers)
    if min_version is not None:
        ctx.minimum_version = min_version
    if max_version is not None:
        ctx.maximum_version = max_version
    return ctx


def tls_connect(port, ctx, timeout=10.0, server_hostname="localhost"):
    raw = socket.create_connection((HOST, port), timeout=scaled(timeout))
    try:
        return ctx.wrap_socket(raw, server_hostname=server_hostname)
    except BaseException:
        raw.close()
        raise


def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(n - len(buf), 1 << 16))
        if not chunk:
            raise AssertionError(f"EOF after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


def recv_all(sock):
    """Reads until EOF (close_notify or TCP FIN); returns bytes."""
    buf = bytearray()
    while True:
        chunk = sock.recv(1 << 16)
        if not chunk:
            return bytes(buf)
        buf += chunk


def wait_closed(sock, timeout):
    """Reads from a (TLS or TCP) socket until the peer closes. Returns
    (seconds, data, how) with how in {'eof', 'reset', 'tls_error'}. Fails if
    still open after timeout."""
    start = time.monotonic()
    sock.settimeout(scaled(timeout))
    data = bytearray()
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                how = "eof"
                break
            data += chunk
    except socket.timeout:
        raise AssertionError(
            f"connection still open after {timeout}s (received {len(data)} bytes)") from None
    except (ConnectionResetError, BrokenPipeError):
        how = "reset"
    except ssl.SSLError:
        how = "tls_error"
    return time.monotonic() - start, bytes(data), how


class BioTLS:
    """A TLS client over a plain socket through memory BIOs, so the test
    controls close_notify and TCP shutdown separately and can keep reading
    after sending close_notify."""

    def __init__(self, port, ctx, timeout=10.0, server_hostname="localhost"):
        ctx.options &= ~getattr(ssl, "OP_IGNORE_UNEXPECTED_EOF", 0)
        self.sock = socket.create_connection((HOST, port), timeout=scaled(timeout))
        self.inc = ssl.MemoryBIO()
        self.out = ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.inc, self.out, server_hostname=server_hostname)
        self.tcp_eof = False
        try:
            while True:
                try:
                    self.obj.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    self._flush()
                    self._fill()
            self._flush()
        except BaseException:
            self.sock.close()
            raise

    def _flush(self):
        data = self.out.read()
        if data:
            self.sock.sendall(data)

    def _fill(self):
        if self.tcp_eof:
            raise ssl.SSLEOFError("TCP EOF")
        data = self.sock.recv(1 << 16)
        if data:
            self.inc.write(data)
        else:
            self.tcp_eof = True
            self.inc.write_eof()

    def version(self):
        return self.obj.version()

    def write(self, data):
        view = memoryview(data)
        for off in range(0, len(view), 1 << 16):
            self.obj.write(view[off:off + (1 << 16)])
            self._flush()

    def read(self, n=1 << 16):
        """Returns bytes; b'' means close_notify was received. Raises
        ssl.SSLEOFError (or SSLError UNEXPECTED_EOF) on a TCP EOF without
        close_notify."""
        while True:
            try:
                return self.obj.read(n)
            except ssl.SSLWantReadError:
                self._flush()
                self._fill()
            except ssl.SSLZeroReturnError:
                return b""

    def read_exact(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self.read(n - len(buf))
            if not chunk:
                raise AssertionError(f"close_notify after {len(buf)} of {n} bytes")
            buf += chunk
        return bytes(buf)

    def read_to_end(self):
        """Reads until the peer ends the stream; returns (data, how) with how
        'close_notify', 'tcp_eof' (no close_notify) or 'reset'."""
        buf = bytearray()
        try:
            while True:
                chunk = self.read()
                if not chunk:
                    return bytes(buf), "close_notify"
                buf += chunk
        except ssl.SSLEOFError:
            return bytes(buf), "tcp_eof"
        except ssl.SSLError as e:
            if "UNEXPECTED_EOF" in str(e) or "EOF occurred" in str(e):
                return bytes(buf), "tcp_eof"
            raise
        except ConnectionResetError:
            return bytes(buf), "reset"

    def send_close_notify(self):
        try:
            self.obj.unwrap()
        except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
            pass
        self._flush()

    def shutdown_tcp_write(self):
        self.sock.shutdown(socket.SHUT_WR)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def duplex_transfer(sslsock, payload, expect_n, timeout):
    """Sends payload and receives expect_n bytes at the same time over one
    TLS connection (non-blocking, single thread). Returns sha256 hex of
    what was received."""
    sslsock.setblocking(False)
    view = memoryview(payload)
    off = 0
    got = 0
    h = hashlib.sha256()
    chunk = 1 << 16
    deadline = time.monotonic() + scaled(timeout)
    while got < expect_n or off < len(view):
        if time.monotonic() > deadline:
            raise AssertionError(f"duplex transfer stalled: sent {off}/{len(view)}, "
                                 f"received {got}/{expect_n}")
        want_w = off < len(view)
        r, w, _ = select.select([sslsock], [sslsock] if want_w else [], [], 1.0)
        # read everything available (including what OpenSSL has buffered)
        while got < expect_n:
            try:
                data = sslsock.recv(1 << 18)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                break
            if not data:
                raise AssertionError(f"EOF after {got} of {expect_n} bytes")
            h.update(data)
            got += len(data)
        while off < len(view):
            try:
                n = sslsock.send(view[off:off + chunk])
            except (ssl.SSLWantWriteError, ssl.SSLWantReadError):
                break
            off += n
    sslsock.setblocking(True)
    return h.hexdigest()


def tcp_connect_refused(port, timeout=1.0):
    """True when a TCP connect to port is refused (nobody listening)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((HOST, port))
        return False
    except ConnectionRefusedError:
        return True
    except OSError as e:
        return e.errno == errno.ECONNREFUSED
    finally:
        s.close()
