#!/usr/bin/env python3
"""capture_hello.py - record the first TLS records real clients send, for
tests/unit/test_client_hello.c and the client_hello fuzz corpus.

A TLS server that never answers: it listens on 127.0.0.1, accepts one
connection per client run, reads until the bytes hold complete handshake
records covering one handshake message (the ClientHello), saves exactly
those bytes, and closes. The client then fails its handshake, which is
expected.

    capture_hello.py capture OUT.bin -- CLIENT ARGS...   run one client
        (the string {port} in its arguments is the listening port)
    capture_hello.py all DIR                            every client below
    capture_hello.py header DIR OUT.h                   the .bin files as C arrays
    capture_hello.py corpus DIR OUTDIR                  fuzz seeds: the .bin files, each
        re-split into 2 and 3 records (and the smallest one into 1-byte
        records), and a few hellos that are not (plaintext HTTP, SSLv2)

Nothing here is used at build or test time: the arrays and corpus files
it produced are committed, and it is kept to show how they were made and
to make more.
"""
import os
import socket
import subprocess
import sys
import threading

# name: client command line. Every hello is captured from a client that is
# installed on a Debian 12 build host (OpenSSL 3.0 s_client, curl 7.88,
# CPython's ssl module over OpenSSL 3.0).
CLIENTS = {
    "openssl_tls13_sni_alpn": ["openssl", "s_client", "-connect", "127.0.0.1:{port}",
                               "-servername", "www.Example.com", "-alpn", "h2,http/1.1"],
    "openssl_tls12_sni": ["openssl", "s_client", "-connect", "127.0.0.1:{port}",
                          "-tls1_2", "-servername", "api.example.org"],
    "openssl_tls12_ecdsa_only": ["openssl", "s_client", "-connect", "127.0.0.1:{port}",
                                 "-tls1_2", "-servername", "ecdsa.example.net",
                                 "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305",
                                 "-sigalgs", "ECDSA+SHA256:ECDSA+SHA384"],
    "openssl_tls12_rsa_only": ["openssl", "s_client", "-connect", "127.0.0.1:{port}",
                               "-tls1_2", "-servername", "rsa.example.net",
                               "-cipher", "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305",
                               "-sigalgs", "RSA+SHA256:RSA-PSS+SHA256"],
    "openssl_tls13_rsa_pss": ["openssl", "s_client", "-connect", "127.0.0.1:{port}",
                              "-tls1_3", "-servername", "pss.example.com",
                              "-sigalgs", "rsa_pss_rsae_sha256:rsa_pss_rsae_sha384",
                              "-groups", "P-384:P-521", "-alpn", "http/1.1"],
    "openssl_tls13_ecdsa_groups": ["openssl", "s_client", "-connect", "127.0.0.1:{port}",
                                   "-tls1_3", "-servername", "under_score.example.com",
                                   "-sigalgs", "ecdsa_secp256r1_sha256:ed25519",
                                   "-groups", "X25519:P-256",
                                   "-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"],
    "openssl_no_sni": ["openssl", "s_client", "-connect", "127.0.0.1:{port}", "-noservername"],
    "openssl_ticket_psk": ["openssl", "s_client", "-connect", "127.0.0.1:{port}",
                           "-servername", "psk.example.com", "-psk", "0123456789abcdef",
                           "-psk_identity", "client1"],
    "curl": ["curl", "-sk", "--max-time", "3", "https://localhost:{port}/"],
    "curl_http11": ["curl", "-sk", "--http1.1", "--max-time", "3",
                    "--resolve", "Gatehouse.Test:{port}:127.0.0.1",
                    "https://Gatehouse.Test:{port}/"],
    "python_ssl": [sys.executable, "-c",
                   "import socket, ssl\n"
                   "c = ssl.create_default_context(); c.check_hostname = False\n"
                   "c.verify_mode = ssl.CERT_NONE; c.set_alpn_protocols(['http/1.1'])\n"
                   "s = socket.create_connection(('127.0.0.1', {port}))\n"
                   "try:\n"
                   "    c.wrap_socket(s, server_hostname='py.example.com')\n"
                   "except Exception:\n"
                   "    pass\n"],
}


def hello_len(buf):
    """Bytes of the records that hold the first handshake message, or None
    while they are not all there (or the bytes are not TLS)."""
    off, msg = 0, b""
    while len(buf) >= off + 5:
        if buf[off] != 0x16:
            return None
        n = int.from_bytes(buf[off + 3:off + 5], "big")
        if len(buf) < off + 5 + n:
            return None
        msg += buf[off + 5:off + 5 + n]
        off += 5 + n
        if len(msg) >= 4 and len(msg) >= 4 + int.from_bytes(msg[1:4], "big"):
            return off
    return None


def capture(out, argv):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(10)
    port = srv.getsockname()[1]
    argv = [a.replace("{port}", str(port)) for a in argv]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    got = {}

    def serve():
        conn, _ = srv.accept()
        conn.settimeout(10)
        buf = b""
        while hello_len(buf) is None:
            chunk = conn.recv(65536)
            if not chunk:
                break
            buf += chunk
        n = hello_len(buf)
        got["hello"] = buf[:n] if n else None
        conn.close()

    t = threading.Thread(target=serve)
    t.start()
    t.join(15)
    try:
        proc.stdin.close()
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    srv.close()
    if not got.get("hello"):
        sys.exit("capture_hello: no ClientHello from " + " ".join(argv))
    with open(out, "wb") as f:
        f.write(got["hello"])
    print(f"{out}: {len(got['hello'])} bytes")


def header(d, out):
    names = sorted(f[:-4] for f in os.listdir(d) if f.endswith(".bin"))
    lines = ["/* client_hello_samples.h - ClientHellos captured from real clients by",
             " * tests/unit/data/capture_hello.py (\"capture_hello.py all DIR\" then",
             " * \"capture_hello.py header DIR client_hello_samples.h\"); the command",
             " * line of each client is in CLIENTS there. Generated: do not edit. */",
             "#ifndef GATEHOUSE_CLIENT_HELLO_SAMPLES_H",
             "#define GATEHOUSE_CLIENT_HELLO_SAMPLES_H", "", "#include <stddef.h>",
             "#include <stdint.h>", ""]
    for n in names:
        b = open(os.path.join(d, n + ".bin"), "rb").read()
        lines.append(f"static const uint8_t hello_{n}[{len(b)}] = {{")
        for i in range(0, len(b), 16):
            lines.append("    " + ", ".join(f"0x{x:02x}" for x in b[i:i + 16]) + ",")
        lines.append("};")
        lines.append("")
    lines.append("struct hello_sample {")
    lines.append("    const char *name;")
    lines.append("    const uint8_t *bytes;")
    lines.append("    size_t len;")
    lines.append("};")
    lines.append("")
    lines.append("static const struct hello_sample hello_samples[] = {")
    for n in names:
        lines.append(f"    {{ \"{n}\", hello_{n}, sizeof hello_{n} }},")
    lines.append("};")
    lines.append("")
    lines.append("#endif")
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")


def records(msg, sizes, version=b"\x03\x01"):
    """msg (a handshake message) in records of the given fragment sizes;
    the last takes what is left."""
    out, at = b"", 0
    for i, n in enumerate(sizes + [len(msg)]):
        n = min(n, len(msg) - at)
        if n <= 0 and i > 0:
            break
        out += b"\x16" + version + n.to_bytes(2, "big") + msg[at:at + n]
        at += n
    return out


def padded(msg, size):
    """msg (a ClientHello with extensions and no padding) grown to size
    bytes, header included, with a padding extension (RFC 7685)."""
    body = msg[4:]
    p = 34 + 1 + body[34]
    p += 2 + int.from_bytes(body[p:p + 2], "big")
    p += 1 + body[p]
    exts = body[p + 2:]
    pad = size - len(msg) - 4
    exts += (21).to_bytes(2, "big") + pad.to_bytes(2, "big") + bytes(pad)
    body = body[:p] + len(exts).to_bytes(2, "big") + exts
    return b"\x01" + len(body).to_bytes(3, "big") + body


def corpus(d, out):
    os.makedirs(out, exist_ok=True)
    names = sorted(f[:-4] for f in os.listdir(d) if f.endswith(".bin"))
    seeds = {}
    for n in names:
        b = open(os.path.join(d, n + ".bin"), "rb").read()
        msg = b[5:]
        seeds[n] = b
        seeds[n + "-2rec"] = records(msg, [len(msg) // 2])
        seeds[n + "-3rec"] = records(msg, [3, len(msg) // 3], b"\x03\x03")
    # the largest hello that fits (one full record), and the same one in
    # two records, which does not
    if "openssl_tls13_sni_alpn" in names:
        big = padded(seeds["openssl_tls13_sni_alpn"][5:], 16384)
        seeds["max-16384"] = records(big, [])
        seeds["max-16384-2rec-too-large"] = records(big, [8000])
    smallest = min(names, key=lambda n: len(seeds[n]))
    msg = seeds[smallest][5:]
    seeds[smallest + "-1byte"] = records(msg, [1] * len(msg))
    seeds["plaintext-http"] = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"
    seeds["sslv2-hello"] = bytes.fromhex("802e0103010015000000100000390000380000350000"
                                         "160000130000") + bytes(16)
    for n, b in seeds.items():
        with open(os.path.join(out, n + ".bin"), "wb") as f:
            f.write(b)
    print(f"{out}: {len(seeds)} seeds")


def main():
    a = sys.argv[1:]
    if len(a) >= 3 and a[0] == "capture" and a[2] == "--":
        capture(a[1], a[3:])
    elif len(a) == 2 and a[0] == "all":
        os.makedirs(a[1], exist_ok=True)
        for name, argv in CLIENTS.items():
            capture(os.path.join(a[1], name + ".bin"), argv)
    elif len(a) == 3 and a[0] == "header":
        header(a[1], a[2])
    elif len(a) == 3 and a[0] == "corpus":
        corpus(a[1], a[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
