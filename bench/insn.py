#!/usr/bin/env python3
"""bench/insn.py - instructions per workload, old binary vs new, exactly.

Wall-clock rates on a shared 2-vCPU VM vary by +-15% between rounds of the
same binary, so they cannot tell whether a change costs 3%. Instruction
counts can: this runs each gatehouse binary under valgrind's callgrind
(the worker process only is counted: the largest profile of the run), on
the same deterministic workload, and prints new/base ratios.

Workloads (--rows, default all), each on one connection unless said:
  echo   N round trips of 1 KiB through a tcp-mode listener (the pump's
         per-flush cost dominates)
  http   N keep-alive GETs with 1 KiB responses through an http listener
  bulk   N MiB from the backend to the client through tcp mode
  hs     N connections, a full TLS 1.3 handshake and one small echo each

The counts include the first handshake and the start-up of the worker; the
same for both binaries. Everything runs on 127.0.0.1, bounded by the
workload sizes; valgrind makes it about 50x slower than native.

  bench/insn.py --baseline /path/to/old/gatehouse [--gatehouse build/gatehouse]
"""
import argparse
import glob
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROWS = {"echo": 2000, "http": 2000, "bulk": 32, "hs": 200}
RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Length: 1024\r\nContent-Type: text/plain\r\n\r\n"
            + b"y" * 1024)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Backend:
    """A plaintext backend in a thread: echo, http (fixed response per
    request head) or bulk (N MiB after the client's first line)."""

    def __init__(self, kind):
        self.kind = kind
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        try:
            if self.kind == "bulk":
                blob = b"b" * (1 << 20)
                for _ in range(int(c.recv(64).split()[0])):
                    c.sendall(blob)
                c.shutdown(socket.SHUT_WR)
                while c.recv(65536):
                    pass
            elif self.kind == "http":
                buf = b""
                while True:
                    d = c.recv(65536)
                    if not d:
                        break
                    buf += d
                    while b"\r\n\r\n" in buf:
                        _, buf = buf.split(b"\r\n\r\n", 1)
                        c.sendall(RESPONSE)
            else:
                while True:
                    d = c.recv(65536)
                    if not d:
                        break
                    c.sendall(d)
        except OSError:
            pass
        finally:
            c.close()


def client(kind, port, n):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if kind == "hs":
        for _ in range(n):
            with ctx.wrap_socket(socket.create_connection(("127.0.0.1", port))) as t:
                t.sendall(b"hello\n")
                t.recv(100)
        return
    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", port))) as s:
        if kind == "bulk":
            s.sendall(b"%d\n" % n)
            got = 0
            while True:
                d = s.recv(1 << 20)
                if not d:
                    break
                got += len(d)
            if got != n << 20:
                raise SystemExit(f"bulk: got {got} bytes, wanted {n << 20}")
        elif kind == "http":
            req = b"GET /x HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n"
            buf = b""
            for _ in range(n):
                s.sendall(req)
                while len(buf) < len(RESPONSE):
                    d = s.recv(65536)
                    if not d:
                        raise SystemExit("http: the connection ended early")
                    buf += d
                if not buf.startswith(b"HTTP/1.1 200"):
                    raise SystemExit(f"http: unexpected response {buf[:40]!r}")
                buf = buf[len(RESPONSE):]
        else:
            msg = b"x" * 1024 + b"\n"
            for _ in range(n):
                s.sendall(msg)
                got = 0
                while got < len(msg):
                    got += len(s.recv(65536))


def count(binary, kind, n, work):
    """Runs one workload under callgrind; returns the worker's instructions."""
    be = Backend("echo" if kind == "hs" else kind)
    port = free_port()
    ini = os.path.join(work, f"{kind}.ini")
    with open(ini, "w") as f:
        f.write(f"""[global]
workers = 1
log_level = warn
[listener:insn]
listen = 127.0.0.1:{port}
backend = 127.0.0.1:{be.port}
cert = {work}/cert.pem
key = {work}/key.pem
mode = {"http" if kind == "http" else "tcp"}
""")
    out = os.path.join(work, f"cg.{kind}")
    for old in glob.glob(out + ".*"):
        os.unlink(old)
    proc = subprocess.Popen(["valgrind", "-q", "--tool=callgrind", "--trace-children=yes",
                             f"--callgrind-out-file={out}.%p", binary, "-c", ini],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit(f"{binary} did not start listening")
                time.sleep(0.2)
        client(kind, port, n)
        time.sleep(0.5)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        be.sock.close()
    best = 0
    for path in glob.glob(out + ".*"):
        with open(path, errors="replace") as f:
            m = re.search(r"^summary: (\d+)", f.read(), re.M)
        if m:
            best = max(best, int(m.group(1)))
    if best == 0:
        raise SystemExit(f"no callgrind profile from {binary}")
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--baseline", required=True, help="the old gatehouse binary")
    ap.add_argument("--gatehouse", default=os.path.join(ROOT, "build", "gatehouse"))
    ap.add_argument("--rows", default=",".join(ROWS))
    ap.add_argument("--scale", type=float, default=1.0, help="workload size factor")
    a = ap.parse_args()
    rows = a.rows.split(",")
    for r in rows:
        if r not in ROWS:
            ap.error(f"unknown row {r!r} (rows: {', '.join(ROWS)})")
    for tool in ("valgrind", "openssl"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} not found (apt-get install {tool})")
    work = tempfile.mkdtemp(prefix="gh-insn.")
    try:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", f"{work}/key.pem",
                        "-out", f"{work}/cert.pem", "-days", "2", "-subj", "/CN=localhost"],
                       check=True, capture_output=True)
        print(f"{'row':6} {'n':>6} {'base':>14} {'new':>14} {'new/base':>9}")
        for r in rows:
            n = max(1, int(ROWS[r] * a.scale))
            base = count(os.path.abspath(a.baseline), r, n, work)
            new = count(os.path.abspath(a.gatehouse), r, n, work)
            print(f"{r:6} {n:>6} {base:>14,} {new:>14,} {new / base:>9.4f}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
