#!/usr/bin/env python3
"""The gatehouse demo backend: a tiny threaded HTTP/1.1 server that answers
every request with 200 and a short text body naming itself and echoing the
request line. Plaintext, meant to sit behind gatehouse (README quick start).

    python3 demo/backend.py               # 127.0.0.1:8080
    python3 demo/backend.py --port 9000 --quiet

Stdlib only."""

import argparse
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 1 << 20  # request bodies up to 1 MiB are read and discarded


class DemoHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "gatehouse-demo-backend/1.0"
    quiet = False

    def version_string(self):
        return self.server_version

    def _discard_body(self):
        """Reads the request body so keep-alive stays in sync; returns False
        when the connection must be closed after the answer."""
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if te:
            if te != "chunked":
                return False
            total = 0
            while True:
                line = self.rfile.readline(1024)
                try:
                    size = int(line.split(b";")[0].strip() or b"x", 16)
                except ValueError:
                    return False
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return True
                total += size
                if total > MAX_BODY:
                    return False
                self.rfile.read(size + 2)
        length = self.headers.get("Content-Length")
        if length is None:
            return True
        try:
            n = int(length)
        except ValueError:
            return False
        if n < 0 or n > MAX_BODY:
            return False
        self.rfile.read(n)
        return True

    def _answer(self):
        keep = self._discard_body()
        body = ("Hello from the gatehouse demo backend.\n"
                f"Request: {self.requestline}\n").encode("utf-8", "replace")
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        if not keep:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def __getattr__(self, name):
        # BaseHTTPRequestHandler dispatches to do_<METHOD>: answer them all.
        if name.startswith("do_"):
            return self._answer
        raise AttributeError(name)

    def log_message(self, fmt, *args):
        if not self.quiet:
            sys.stderr.write("demo-backend: %s - %s\n" % (self.address_string(), fmt % args))


def main(argv=None):
    ap = argparse.ArgumentParser(description="gatehouse demo HTTP backend")
    ap.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    ap.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    ap.add_argument("--quiet", action="store_true", help="do not log requests")
    args = ap.parse_args(argv)

    DemoHandler.quiet = args.quiet
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.allow_reuse_address = True
    try:
        server = ThreadingHTTPServer((args.host, args.port), DemoHandler)
    except OSError as e:
        print(f"demo-backend: cannot listen on {args.host}:{args.port}: {e}", file=sys.stderr)
        return 1

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    print(f"demo-backend: listening on http://{args.host}:{server.server_address[1]}",
          file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
