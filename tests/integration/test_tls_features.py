"""The TLS features end to end: certificates chosen by SNI and key type
([cert:NAME], names, sni_unknown), ALPN, session resumption with shared
ticket keys (ticket_key_file, workers), client certificates (client_ca,
crl, client_verify, client_allow_*; X-Client-* fields and PROXY v2 TLVs),
the PROXY protocol out (proxy_protocol) and in (accept_proxy,
proxy_trusted), and the configuration errors of these keys.

The PKI is tests/integration/pki.py (openssl CLI, session scoped)."""

import json
import os
import re
import socket
import signal
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest

import backends
import http_backends as hb
import proxyproto as pp
from ghutil import (Gatehouse, free_port, recv_exact, run_gatehouse, scaled, wait_until)
from pki import SPIFFE, make_pki

HOST = "127.0.0.1"
FAKE_CLIENT = ("203.0.113.7", 4242)


# =================================================================== fixtures

@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("tls-features-pki"))


def render(global_opts, cert_sections, listeners):
    lines = ["; written by test_tls_features.py", "[global]"]
    lines += [f"{k} = {v}" for k, v in global_opts.items()]
    for name, opts in cert_sections.items():
        lines += ["", f"[cert:{name}]"]
        lines += [f"{k} = {v}" for k, v in opts.items() if v is not None]
    for name, opts in listeners.items():
        lines += ["", f"[listener:{name}]"]
        lines += [f"{k} = {v}" for k, v in opts.items() if v is not None]
    return "\n".join(lines) + "\n"


class Audit:
    """The audit file(s) of one gatehouse run (several with workers > 1)."""

    def __init__(self, pattern):
        self.pattern = Path(pattern)

    def files(self):
        if "%w" in self.pattern.name:
            return sorted(self.pattern.parent.glob(self.pattern.name.replace("%w", "*")))
        return [self.pattern] if self.pattern.exists() else []

    def entries(self):
        out = []
        for f in self.files():
            for raw in f.read_bytes().split(b"\n")[:-1]:
                try:
                    out.append(json.loads(raw))
                except ValueError:
                    pass
        return out

    def where(self, event=None, **fields):
        return [e for e in self.entries()
                if (event is None or e.get("event") == event) and
                all(e.get(k) == v for k, v in fields.items())]

    def wait(self, event, timeout=5.0, **fields):
        return wait_until(lambda: self.where(event, **fields), scaled(timeout), interval=0.03,
                          what=f"audit {event} {fields} in {self.files()}")[-1]


@pytest.fixture
def ghs(gatehouse_bin, tmp_path, pki):
    """start(listeners, global_opts=, cert_sections=) -> a running gatehouse
    (ghutil.Gatehouse) with .audit (Audit) and .ports; listeners get a free
    listen port, mode tcp and the default certificate unless given. Every
    instance is stopped on teardown and its stderr checked for sanitizer
    reports."""
    started = []
    counter = [0]

    def start(listeners, global_opts=None, cert_sections=None, wait_ready=True, audit=True):
        counter[0] += 1
        n = counter[0]
        g = {"workers": 1, "shutdown_grace": "2s", "log_level": "info"}
        g.update(global_opts or {})
        audit_path = None
        if audit:
            name = f"audit-{n}-%w.jsonl" if int(g["workers"]) > 1 else f"audit-{n}.jsonl"
            audit_path = tmp_path / name
            g.setdefault("audit_file", str(audit_path))
            g.setdefault("audit_flush_interval", "50ms")
        rendered, ports = {}, {}
        for lname, opts in listeners.items():
            o = {"mode": "tcp", "cert": str(pki.default.chain), "key": str(pki.default.key),
                 "listen": f"{HOST}:{free_port()}"}
            o.update(opts)
            if not isinstance(o.get("backend"), str):
                o["backend"] = o["backend"].addr
            rendered[lname] = o
            ports[lname] = int(o["listen"].rsplit(":", 1)[1])
        ini = tmp_path / f"gh-{n}.ini"
        ini.write_text(render(g, cert_sections or {}, rendered))
        gh = Gatehouse(ini, tmp_path / f"gh-{n}.stderr", tmp_path / f"gh-{n}.stdout", ports)
        gh.audit = Audit(audit_path) if audit_path else None
        started.append(gh)
        if wait_ready:
            gh.wait_ready(count=int(g["workers"]))
        return gh

    yield start
    reports = []
    for gh in started:
        gh.stop()
        rep = gh.sanitizer_report()
        if rep:
            reports.append(f"{gh.log_path}:\n{rep}")
    if reports:
        pytest.fail("sanitizer report in gatehouse stderr:\n" + "\n".join(reports))


@pytest.fixture
def be():
    """Backend factory, closed on teardown."""
    made = []

    def make(cls, *args, **kwargs):
        b = cls(*args, **kwargs)
        made.append(b)
        return b

    yield make
    for b in made:
        b.close()


# ============================================================ client helpers

def cctx(pki, client=None, min_v=None, max_v=None, alpn=None, ciphers=None):
    """A client context trusting the server CA (chain verified, host name
    not: the tests compare the served certificate themselves)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=str(pki.server_ca))
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_REQUIRED
    if client is not None:
        ctx.load_cert_chain(str(client.crt), str(client.key))
    if min_v:
        ctx.minimum_version = min_v
    if max_v:
        ctx.maximum_version = max_v
    if alpn:
        ctx.set_alpn_protocols(alpn)
    if ciphers:
        ctx.set_ciphers(ciphers)
    return ctx


def connect(port, ctx, sni="localhost", session=None, timeout=10, sock=None):
    raw = sock or socket.create_connection((HOST, port), timeout=scaled(timeout))
    raw.settimeout(scaled(timeout))
    try:
        return ctx.wrap_socket(raw, server_hostname=sni, session=session)
    except BaseException:
        raw.close()
        raise


def served_cert(port, ctx, sni):
    """(DER of the leaf served for this SNI, the client's local port)."""
    with connect(port, ctx, sni) as s:
        return s.getpeercert(binary_form=True), s.getsockname()[1]


def echo(s, payload=b"ping\n"):
    s.sendall(payload)
    assert recv_exact(s, len(payload)) == payload


def attempt(port, ctx, sni="localhost", payload=b"hello\n", session=None):
    """Handshake, send payload, read one reply. Returns ('ok', data, s_info)
    or ('fail', error text, local port). TLS 1.3 clients finish their side
    of the handshake before the server has checked their certificate, so
    a refusal may only show on the first read."""
    raw = socket.create_connection((HOST, port), timeout=scaled(10))
    raw.settimeout(scaled(10))
    lport = raw.getsockname()[1]
    try:
        s = ctx.wrap_socket(raw, server_hostname=sni, session=session)
    except (ssl.SSLError, OSError) as e:
        raw.close()
        return "fail", f"{type(e).__name__}: {e}", lport
    try:
        s.sendall(payload)
        data = s.recv(65536)
        if not data:
            return "fail", "EOF", lport
        return "ok", data, lport
    except (ssl.SSLError, OSError) as e:
        return "fail", f"{type(e).__name__}: {e}", lport
    finally:
        s.close()


def http_get(port, ctx, sni="localhost", target="/", extra=b"", session=None):
    """One GET on a new connection. Returns (status, body, sslsocket info)."""
    s = connect(port, ctx, sni, session=session)
    try:
        s.sendall(b"GET " + target.encode() + b" HTTP/1.1\r\nHost: example.com\r\n" + extra +
                  b"\r\n")
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            assert chunk, f"closed before a response head: {buf!r}"
            buf += chunk
        head, body = buf.split(b"\r\n\r\n", 1)
        m = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
        n = int(m.group(1)) if m else 0
        while len(body) < n:
            chunk = s.recv(65536)
            assert chunk
            body += chunk
        info = {"alpn": s.selected_alpn_protocol(), "reused": s.session_reused,
                "session": s.session, "lport": s.getsockname()[1], "version": s.version()}
        return int(head.split(b" ", 2)[1]), body, info
    finally:
        s.close()


def s_client(port, pki, *args, servername="localhost", input=b"", timeout=15):
    cmd = ["openssl", "s_client", "-connect", f"{HOST}:{port}", "-CAfile", str(pki.server_ca)]
    cmd += ["-servername", servername] if servername else ["-noservername"]
    r = subprocess.run(cmd + list(args), input=input, capture_output=True,
                       timeout=scaled(timeout))
    return r.returncode, (r.stdout + r.stderr).decode(errors="replace")


PEM_RX = re.compile(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", re.S)


def s_client_leaf(out):
    m = PEM_RX.search(out)
    assert m, f"no server certificate in s_client output:\n{out}"
    return ssl.PEM_cert_to_DER_cert(m.group(0))


def name_of(pki, der):
    for n in ("default", "default_rsa", "a_ec", "a_rsa", "w_ec"):
        if getattr(pki, n).der == der:
            return n
    return "unknown certificate"


# ====================================================================== SNI

def sni_listener(pki, backend, **extra):
    o = {"backend": backend, "certs": "a_ec,a_rsa,w_ec"}
    o.update(extra)
    return o


def cert_sections(pki, *names, **overrides):
    secs = {n: {"cert": str(getattr(pki, n).chain), "key": str(getattr(pki, n).key)}
            for n in names}
    for n, extra in overrides.items():
        secs[n].update(extra)
    return secs


SNI_CASES = [
    ("a.example", "a_ec"),
    ("www.a.example", "a_ec"),
    ("WWW.A.Example", "a_ec"),          # names are case-insensitive
    ("x.w.example", "w_ec"),
    (None, "default"),
    ("unknown.example", "default"),
    ("y.x.w.example", "default"),       # *.w.example covers one label only
    ("w.example", "default"),           # ... and not the bare parent
    ("localhost", "default"),
]


def test_sni_chooses_the_certificate(ghs, be, pki):
    gh = ghs({"main": sni_listener(pki, be(backends.Echo))},
             cert_sections=cert_sections(pki, "a_ec", "a_rsa", "w_ec"))
    ctx = cctx(pki)
    got, ports = {}, {}
    for sni, want in SNI_CASES:
        der, lport = served_cert(gh.port, ctx, sni)
        got[sni] = name_of(pki, der)
        ports[sni] = lport
    assert got == {sni: want for sni, want in SNI_CASES}
    # the audit names the [cert:NAME] served ("default" for cert/key)
    labels = {}
    for sni, _ in SNI_CASES:
        e = gh.audit.wait("tls_ok", client_port=ports[sni])
        labels[sni] = e.get("cert")
    assert labels == {sni: want for sni, want in SNI_CASES}


def test_sni_key_type_ecdsa_or_rsa(ghs, be, pki):
    """Among the certificates for a name, ECDSA for a client that takes
    ECDSA, RSA for one that does not (TLS 1.3 signature algorithms, TLS 1.2
    cipher suites); the default group holds every [cert] with the default's
    names."""
    gh = ghs({"main": sni_listener(pki, be(backends.Echo), certs="a_ec,a_rsa,w_ec,default_rsa")},
             cert_sections=cert_sections(pki, "a_ec", "a_rsa", "w_ec", "default_rsa"))
    results = {}
    for label, args, sni in [
        ("tls13 any", ["-tls1_3"], "a.example"),
        ("tls13 rsa-only", ["-tls1_3", "-sigalgs", "rsa_pss_rsae_sha256"], "a.example"),
        ("tls12 ecdsa", ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"], "a.example"),
        ("tls12 rsa-only", ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"], "a.example"),
        ("tls13 rsa-only no sni", ["-tls1_3", "-sigalgs", "rsa_pss_rsae_sha256"], None),
        ("tls12 rsa-only no sni", ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"], None),
    ]:
        rc, out = s_client(gh.port, pki, *args, "-verify_return_error", servername=sni)
        results[label] = name_of(pki, s_client_leaf(out)) if rc == 0 else f"rc={rc}"
    assert results == {
        "tls13 any": "a_ec", "tls13 rsa-only": "a_rsa",
        "tls12 ecdsa": "a_ec", "tls12 rsa-only": "a_rsa",
        "tls13 rsa-only no sni": "default_rsa", "tls12 rsa-only no sni": "default_rsa",
    }
    wait_until(lambda: len(gh.audit.where("tls_ok")) >= 6, scaled(5), what="6 tls_ok")
    labels = [e.get("cert") for e in gh.audit.where("tls_ok")]
    assert labels == ["a_ec", "a_rsa", "a_ec", "a_rsa", "default_rsa", "default_rsa"]


def test_sni_unknown_refuse(ghs, be, pki):
    echo_be = be(backends.Echo)
    gh = ghs({"main": sni_listener(pki, echo_be, sni_unknown="refuse")},
             cert_sections=cert_sections(pki, "a_ec", "a_rsa", "w_ec"))
    # Python: the alert text
    with pytest.raises(ssl.SSLError) as ei:
        connect(gh.port, cctx(pki), "nobody.example")
    assert "UNRECOGNIZED_NAME" in str(ei.value).upper(), ei.value
    # openssl: alert number 112
    rc, out = s_client(gh.port, pki, "-tls1_3", servername="nobody.example")
    assert rc != 0 and re.search(r"alert number 112|unrecognized name", out), out
    rc, out = s_client(gh.port, pki, "-tls1_2", servername="y.x.w.example")
    assert rc != 0 and re.search(r"alert number 112|unrecognized name", out), out
    e = gh.audit.wait("tls_fail", reason="unknown_sni")
    assert e["listener"] == "main" and e["client"] == HOST
    wait_until(lambda: len(gh.audit.where("tls_fail", reason="unknown_sni")) >= 3, scaled(5),
               what="three unknown_sni entries")
    # names that are covered still work
    with connect(gh.port, cctx(pki), "x.w.example") as s:
        assert s.getpeercert(binary_form=True) == pki.w_ec.der
        echo(s)
    assert echo_be.accepted == 1
    gh.assert_alive()


def test_sni_unknown_refuse_no_sni(ghs, be, pki):
    """No SNI at all is an unknown name too when sni_unknown = refuse."""
    gh = ghs({"main": sni_listener(pki, be(backends.Echo), sni_unknown="refuse")},
             cert_sections=cert_sections(pki, "a_ec", "a_rsa", "w_ec"))
    with pytest.raises(ssl.SSLError) as ei:
        connect(gh.port, cctx(pki), None)
    assert "UNRECOGNIZED_NAME" in str(ei.value).upper(), ei.value
    gh.audit.wait("tls_fail", reason="unknown_sni")


def test_sni_exact_name_beats_wildcard(ghs, be, pki):
    """x.w.example is named exactly by [cert:exact] (listed after the
    wildcard) and covered by *.w.example: the exact one wins; other names
    under w.example get the wildcard."""
    gh = ghs({"main": sni_listener(pki, be(backends.Echo), certs="w_ec,exact")},
             cert_sections={"w_ec": {"cert": str(pki.w_ec.chain), "key": str(pki.w_ec.key)},
                            "exact": {"cert": str(pki.a_ec.chain), "key": str(pki.a_ec.key),
                                      "names": "x.w.example"}})
    ctx = cctx(pki)
    got = {sni: name_of(pki, served_cert(gh.port, ctx, sni)[0])
           for sni in ("x.w.example", "z.w.example")}
    assert got == {"x.w.example": "a_ec", "z.w.example": "w_ec"}
    wait_until(lambda: len(gh.audit.where("tls_ok")) >= 2, scaled(5), what="2 tls_ok")
    assert [e["cert"] for e in gh.audit.where("tls_ok")] == ["exact", "w_ec"]


def test_sni_refuse_not_bypassed_by_a_hello_gatehouse_cannot_parse(ghs, be, pki):
    """SNI "nobody.example." (trailing dot: RFC 6066 says without one, so
    gatehouse's parser calls the hello malformed, while wolfSSL accepts
    it). With sni_unknown = refuse the default certificate must not be
    served for a name nobody covers."""
    gh = ghs({"main": sni_listener(pki, be(backends.Echo), sni_unknown="refuse")},
             cert_sections=cert_sections(pki, "a_ec", "a_rsa", "w_ec"))
    try:
        der, lport = served_cert(gh.port, cctx(pki), "nobody.example.")
    except ssl.SSLError:
        return
    e = gh.audit.wait("tls_ok", client_port=lport)
    pytest.fail(f"sni_unknown = refuse bypassed: {name_of(pki, der)} served for SNI "
                f"{e.get('sni')!r} (audit cert {e.get('cert')!r})")


def test_cert_names_override_san(ghs, be, pki):
    """names = ... replaces the certificate's own names for choosing it
    (a list with spaces after the commas, as the documentation writes it)."""
    gh = ghs({"main": sni_listener(pki, be(backends.Echo), certs="alias")},
             cert_sections={"alias": {"cert": str(pki.a_ec.chain), "key": str(pki.a_ec.key),
                                      "names": "one.example, *.two.example"}})
    ctx = cctx(pki)
    got = {sni: name_of(pki, served_cert(gh.port, ctx, sni)[0])
           for sni in ("one.example", "x.two.example", "a.example")}
    # a.example is no longer one of its names: the default serves it
    assert got == {"one.example": "a_ec", "x.two.example": "a_ec", "a.example": "default"}


def test_certs_list_with_spaces(ghs, be, pki):
    """`certs = NAME, NAME` (the documented form, spaces after commas) must
    name the sections, not ' NAME'."""
    gh = ghs({"main": sni_listener(pki, be(backends.Echo), certs="a_ec, a_rsa, w_ec")},
             cert_sections=cert_sections(pki, "a_ec", "a_rsa", "w_ec"), wait_ready=False)
    try:
        gh.wait_ready()
    except AssertionError as e:
        pytest.fail(f"certs = 'a_ec, a_rsa, w_ec' refused:\n{e}")
    assert name_of(pki, served_cert(gh.port, cctx(pki), "x.w.example")[0]) == "w_ec"


def big_alpn(n=20):
    """A ClientHello of about n * 250 bytes: n long ALPN protocol names."""
    return [(f"p{i:02d}-" + "x" * 245) for i in range(n)]


@pytest.mark.parametrize("buffer_size,sni_unknown", [("16k", "default"), ("4k", "default"),
                                                     ("4k", "refuse")])
def test_sni_choice_with_a_client_hello_larger_than_the_buffer(ghs, be, pki, buffer_size,
                                                               sni_unknown):
    """A ClientHello that does not fit one read buffer (buffer_size = 4k,
    a 5 KB hello) is still read whole before the certificate is chosen:
    SNI a.example gets a_ec, and with sni_unknown = refuse an unknown name
    is still refused."""
    gh = ghs({"main": sni_listener(pki, be(backends.Echo), buffer_size=buffer_size,
                                   sni_unknown=sni_unknown)},
             cert_sections=cert_sections(pki, "a_ec", "a_rsa", "w_ec"))
    ctx = cctx(pki, alpn=big_alpn())
    # (the small-hello control works)
    assert name_of(pki, served_cert(gh.port, cctx(pki), "a.example")[0]) == "a_ec"
    der, _ = served_cert(gh.port, ctx, "a.example")
    assert name_of(pki, der) == "a_ec", "a large ClientHello lost its SNI: the default served"
    if sni_unknown == "refuse":
        try:
            der, _ = served_cert(gh.port, ctx, "nobody.example")
        except ssl.SSLError as e:
            assert "UNRECOGNIZED_NAME" in str(e).upper(), e
        else:
            pytest.fail(f"sni_unknown = refuse bypassed by a large ClientHello: "
                        f"{name_of(pki, der)} served for nobody.example")


# ===================================================================== ALPN

def alpn_of(out):
    m = re.search(r"ALPN protocol: (\S+)", out)
    if m:
        return m.group(1)
    assert "No ALPN negotiated" in out, out
    return None


def test_alpn_http_mode(ghs, be, pki):
    rec = be(hb.RecordingBackend)
    gh = ghs({"web": {"backend": rec, "mode": "http"}})
    rc, out = s_client(gh.port, pki, "-alpn", "h2,http/1.1")
    assert rc == 0, out
    assert alpn_of(out) == "http/1.1"
    rc, out = s_client(gh.port, pki, "-alpn", "h2")
    assert rc == 0, out                      # CONTINUE_ON_MISMATCH: no alert
    assert alpn_of(out) is None
    # Python: h2 only still gets HTTP/1.1 service; http/1.1 is agreed
    status, _, info = http_get(gh.port, cctx(pki, alpn=["h2"]))
    assert status == 200 and info["alpn"] is None
    lport_h2 = info["lport"]
    status, _, info = http_get(gh.port, cctx(pki, alpn=["h2", "http/1.1"]))
    assert status == 200 and info["alpn"] == "http/1.1"
    e = gh.audit.wait("tls_ok", client_port=info["lport"])
    assert e.get("alpn") == "http/1.1"
    e = gh.audit.wait("tls_ok", client_port=lport_h2)
    assert "alpn" not in e


def test_alpn_tcp_mode_none_by_default(ghs, be, pki):
    gh = ghs({"raw": {"backend": be(backends.Echo)}})
    rc, out = s_client(gh.port, pki, "-alpn", "h2,http/1.1")
    assert rc == 0, out
    assert alpn_of(out) is None
    with connect(gh.port, cctx(pki, alpn=["http/1.1"])) as s:
        assert s.selected_alpn_protocol() is None
        echo(s)
        lport = s.getsockname()[1]
    assert "alpn" not in gh.audit.wait("tls_ok", client_port=lport)


def test_alpn_off_in_http_mode(ghs, be, pki):
    gh = ghs({"web": {"backend": be(hb.RecordingBackend), "mode": "http", "alpn": "off"}})
    status, _, info = http_get(gh.port, cctx(pki, alpn=["http/1.1"]))
    assert status == 200 and info["alpn"] is None


@pytest.mark.parametrize("value", ["h2,http/1.1", "h2, http/1.1"])
def test_alpn_tcp_mode_list(ghs, be, pki, value):
    """tcp mode may offer a list; each protocol is matched as written, with
    or without a space after the comma."""
    gh = ghs({"raw": {"backend": be(backends.Echo), "alpn": value}})
    got = {}
    for offer in (["h2", "http/1.1"], ["http/1.1"], ["h2"], ["spdy/3"]):
        with connect(gh.port, cctx(pki, alpn=offer)) as s:
            got[",".join(offer)] = s.selected_alpn_protocol()
            echo(s)
    assert got == {"h2,http/1.1": "h2", "http/1.1": "http/1.1", "h2": "h2", "spdy/3": None}


# ============================================================== resumption

def tls13_resume_pair(port, ctx, sni="localhost", payload=b"x"):
    """A full TLS 1.3 handshake, then one with its ticket. Returns
    (first reused?, second reused?, second's local port)."""
    with connect(port, ctx, sni) as s:
        echo(s, payload)         # the ticket arrives before the echo
        first = s.session_reused
        sess = s.session
    assert sess is not None and sess.has_ticket, "no TLS 1.3 ticket was received"
    with connect(port, ctx, sni, session=sess) as s:
        echo(s, payload)
        return first, s.session_reused, s.getsockname()[1]


def test_resume_tls13_python(ghs, be, pki):
    gh = ghs({"main": {"backend": be(backends.Echo)}})
    ctx = cctx(pki, min_v=ssl.TLSVersion.TLSv1_3)
    first, second, lport = tls13_resume_pair(gh.port, ctx)
    assert (first, second) == (False, True)
    e = gh.audit.wait("tls_ok", client_port=lport)
    assert e["resumed"] is True and e["tls_version"] == "TLSv1.3"
    assert [x["resumed"] for x in gh.audit.where("tls_ok")] == [False, True]


def s_client_resume_tls12(port, pki, sess_file, out_or_in):
    return s_client(port, pki, "-tls1_2", out_or_in, str(sess_file))


def reused_line(out):
    m = re.search(r"^(New|Reused), TLSv1\.[23]", out, re.M)
    assert m, out
    return m.group(1)


def test_resume_tls12_openssl(ghs, be, pki, tmp_path):
    gh = ghs({"main": {"backend": be(backends.Echo)}})
    sess = tmp_path / "s12.pem"
    rc, out = s_client_resume_tls12(gh.port, pki, sess, "-sess_out")
    assert rc == 0 and reused_line(out) == "New", out
    assert "TLS session ticket:" in out or "TLS session ticket lifetime" in out, out
    rc, out = s_client_resume_tls12(gh.port, pki, sess, "-sess_in")
    assert rc == 0 and reused_line(out) == "Reused", out
    wait_until(lambda: len(gh.audit.where("tls_ok")) >= 2, scaled(5), what="2 tls_ok")
    assert [(x["tls_version"], x["resumed"]) for x in gh.audit.where("tls_ok")] == [
        ("TLSv1.2", False), ("TLSv1.2", True)]


def test_resume_across_restart_with_ticket_key_file(ghs, be, pki, tmp_path):
    key = tmp_path / "ticket.key"
    key.write_bytes(bytes(range(48)))
    other = tmp_path / "ticket-other.key"
    other.write_bytes(bytes(range(100, 148)))
    echo_be = be(backends.Echo)
    g = {"ticket_key_file": str(key)}
    gh1 = ghs({"main": {"backend": echo_be}}, global_opts=g)
    ctx = cctx(pki, min_v=ssl.TLSVersion.TLSv1_3)
    with connect(gh1.port, ctx) as s:
        echo(s)
        sess13 = s.session
    sess12 = tmp_path / "s12.pem"
    rc, out = s_client_resume_tls12(gh1.port, pki, sess12, "-sess_out")
    assert rc == 0, out
    gh1.stop()

    gh2 = ghs({"main": {"backend": echo_be}}, global_opts=g)      # same key file
    with connect(gh2.port, ctx, session=sess13) as s:
        echo(s)
        assert s.session_reused, "TLS 1.3 ticket not accepted after a restart with the same key"
    rc, out = s_client_resume_tls12(gh2.port, pki, sess12, "-sess_in")
    assert rc == 0 and reused_line(out) == "Reused", out
    wait_until(lambda: len(gh2.audit.where("tls_ok", resumed=True)) >= 2, scaled(5),
               what="2 resumed tls_ok")
    gh2.stop()

    gh3 = ghs({"main": {"backend": echo_be}}, global_opts={"ticket_key_file": str(other)})
    with connect(gh3.port, ctx, session=sess13) as s:
        echo(s)
        assert not s.session_reused, "a ticket from another key file was accepted"
    rc, out = s_client_resume_tls12(gh3.port, pki, sess12, "-sess_in")
    assert rc == 0 and reused_line(out) == "New", out
    wait_until(lambda: len(gh3.audit.where("tls_ok")) >= 2, scaled(5), what="2 tls_ok")
    assert all(e["resumed"] is False for e in gh3.audit.where("tls_ok"))


def test_no_key_file_no_resumption_across_restart(ghs, be, pki):
    echo_be = be(backends.Echo)
    gh1 = ghs({"main": {"backend": echo_be}})
    ctx = cctx(pki, min_v=ssl.TLSVersion.TLSv1_3)
    with connect(gh1.port, ctx) as s:
        echo(s)
        sess = s.session
    gh1.stop()
    gh2 = ghs({"main": {"backend": echo_be}})
    with connect(gh2.port, ctx, session=sess) as s:
        echo(s)
        assert not s.session_reused


@pytest.mark.timeout_s(90)
def test_resume_across_workers_without_key_file(ghs, be, pki):
    gh = ghs({"main": {"backend": be(backends.Echo)}}, global_opts={"workers": 2})
    ctx = cctx(pki, min_v=ssl.TLSVersion.TLSv1_3)
    with connect(gh.port, ctx) as s:
        echo(s)
        sess = s.session
    reused, lports = [], []
    for _ in range(20):
        with connect(gh.port, ctx, session=sess) as s:
            echo(s)
            reused.append(s.session_reused)
            lports.append(s.getsockname()[1])
    assert reused == [True] * 20
    entries = [gh.audit.wait("tls_ok", client_port=p) for p in lports]
    assert all(e["resumed"] is True for e in entries)
    # both workers answered at least once (they share the secret)
    assert len({e["pid"] for e in entries}) == 2, {e["pid"] for e in entries}


def test_ticket_key_file_too_short_refused(pki, tmp_path):
    key = tmp_path / "short.key"
    key.write_bytes(b"x" * 16)
    ini = tmp_path / "t.ini"
    ini.write_text(render({"workers": 1, "ticket_key_file": str(key)}, {}, {
        "main": {"listen": f"{HOST}:{free_port()}", "backend": f"{HOST}:9",
                 "cert": str(pki.default.chain), "key": str(pki.default.key)}}))
    r = run_gatehouse(["-t", "-c", str(ini)])
    assert r.returncode != 0
    assert re.search(rf"{re.escape(str(ini))}:4: ticket_key_file: ", r.stderr), r.stderr


# ==================================================================== mTLS

def mtls(pki, backend, **extra):
    o = {"backend": backend, "mode": "http", "client_ca": str(pki.client_ca)}
    o.update(extra)
    return o


def header_map(req):
    return {k.decode().lower(): v.decode() for k, v in req.headers}


def client_headers(req):
    return {k: v for k, v in header_map(req).items() if k.startswith("x-client-")}


def test_mtls_required_without_certificate_fails(ghs, be, pki):
    rec = be(hb.RecordingBackend)
    gh = ghs({"web": mtls(pki, rec)})
    for v in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
        res = attempt(gh.port, cctx(pki, min_v=v, max_v=v),
                      payload=b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        assert res[0] == "fail", res
        e = gh.audit.wait("tls_fail", client_port=res[2])
        assert e["reason"] == "verify_failed", e
    assert rec.conn_count() == 0


def test_mtls_identity_headers(ghs, be, pki):
    rec = be(hb.RecordingBackend)
    gh = ghs({"web": mtls(pki, rec)})
    c = pki.client_ok
    status, _, info = http_get(gh.port, cctx(pki, client=c),
                               extra=b"X-Client-Verified: NONE\r\nX-Client-Cert-Subject: CN=admin\r\n"
                                     b"x-client-cert-fingerprint: 00\r\nX-Client-Cert-URI: "
                                     b"spiffe://evil\r\n")
    assert status == 200
    req = rec.wait_requests(1)[0]
    assert client_headers(req) == {
        "x-client-verified": "SUCCESS",
        "x-client-cert-subject": c.subject_rfc4514,
        "x-client-cert-fingerprint": c.sha256,
        "x-client-cert-uri": SPIFFE,
    }
    # and each exactly once (the client's copies were dropped)
    names = [k.decode().lower() for k, _ in req.headers]
    for h in ("x-client-verified", "x-client-cert-subject", "x-client-cert-fingerprint",
              "x-client-cert-uri"):
        assert names.count(h) == 1, req.head
    e = gh.audit.wait("tls_ok", client_port=info["lport"])
    assert e["client_cert_subject"] == c.subject_rfc4514
    assert e["client_cert_issuer"] == "CN=gatehouse test client CA"
    assert e["client_cert_serial"].lower().lstrip("0") == c.serial.lstrip("0")
    assert e["client_cert_sha256"] == c.sha256
    assert e["client_cert_uri"] == SPIFFE


@pytest.mark.parametrize("version", ["TLSv1_3", "TLSv1_2"])
def test_mtls_optional_without_certificate(ghs, be, pki, version):
    """client_verify = optional: a client without a certificate is served,
    and the backend is told X-Client-Verified: NONE."""
    rec = be(hb.RecordingBackend)
    gh = ghs({"web": mtls(pki, rec, client_verify="optional")})
    v = getattr(ssl.TLSVersion, version)
    res = attempt(gh.port, cctx(pki, min_v=v, max_v=v),
                  payload=b"GET /anon HTTP/1.1\r\nHost: a\r\n\r\n")
    if res[0] != "ok":
        fail = gh.audit.wait("tls_fail", client_port=res[2])
        pytest.fail(f"optional client verification refused a client without a certificate: "
                    f"{res!r}; audit {fail}")
    assert res[1].startswith(b"HTTP/1.1 200")
    assert client_headers(rec.wait_requests(1)[0]) == {"x-client-verified": "NONE"}
    e = gh.audit.wait("tls_ok", client_port=res[2])
    assert "client_cert_subject" not in e


def test_mtls_optional_forged_headers_replaced(ghs, be, pki):
    """On an optional listener, a client without a certificate cannot claim
    one with forged X-Client-* fields: the backend sees NONE only."""
    rec = be(hb.RecordingBackend)
    gh = ghs({"web": mtls(pki, rec, client_verify="optional")})
    forged = (b"X-Client-Verified: SUCCESS\r\nX-Client-Cert-Subject: CN=admin\r\n"
              b"X-Client-Cert-Fingerprint: " + b"ab" * 32 + b"\r\n"
              b"X-Client-Cert-URI: " + SPIFFE.encode() + b"\r\n")
    status, _, info = http_get(gh.port, cctx(pki), extra=forged)
    assert status == 200
    req = rec.wait_requests(1)[0]
    assert client_headers(req) == {"x-client-verified": "NONE"}
    e = gh.audit.wait("tls_ok", client_port=info["lport"])
    assert "client_cert_subject" not in e


def test_mtls_optional_with_certificate(ghs, be, pki):
    rec = be(hb.RecordingBackend)
    gh = ghs({"web": mtls(pki, rec, client_verify="optional")})
    status, _, _ = http_get(gh.port, cctx(pki, client=pki.client_ok),
                            extra=b"X-Client-Cert-Subject: CN=admin\r\n")
    assert status == 200
    h = client_headers(rec.wait_requests(1)[0])
    assert h["x-client-verified"] == "SUCCESS"
    assert h["x-client-cert-subject"] == pki.client_ok.subject_rfc4514


def test_mtls_client_certificate_under_an_intermediate(ghs, be, pki):
    """The client sends leaf + intermediate; the identity is the leaf's."""
    rec = be(hb.RecordingBackend)
    gh = ghs({"web": mtls(pki, rec, client_allow_cn="client-leaf")})
    ctx = cctx(pki)
    ctx.load_cert_chain(str(pki.client_leaf.chain), str(pki.client_leaf.key))
    status, _, info = http_get(gh.port, ctx)
    assert status == 200
    h = client_headers(rec.wait_requests(1)[0])
    assert h["x-client-cert-subject"] == "CN=client-leaf"
    assert h["x-client-cert-fingerprint"] == pki.client_leaf.sha256
    assert h["x-client-cert-uri"] == "spiffe://example.org/leaf"
    e = gh.audit.wait("tls_ok", client_port=info["lport"])
    assert e["client_cert_issuer"] == "CN=gatehouse test client intermediate"


def test_mtls_allow_dns_wildcard_over_a_single_label(ghs, be, pki, tmp_path):
    """client_allow_dns = *.internal is accepted by the configuration, so
    it must mean something: it either covers api.internal or is refused by
    `gatehouse -t`."""
    rec = be(hb.RecordingBackend)
    gh = ghs({"web": mtls(pki, rec, client_allow_dns="*.internal")}, wait_ready=False)
    try:
        gh.wait_ready()
    except AssertionError:
        return          # refused at start: consistent
    res = attempt(gh.port, cctx(pki, client=pki.client_ok),
                  payload=b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    assert res[0] == "ok", (f"client_allow_dns = *.internal was accepted as configuration but "
                            f"never matches (client-ok has DNS api.internal): {res!r}")


def test_forged_headers_stripped_without_client_ca(ghs, be, pki):
    rec = be(hb.RecordingBackend)
    gh = ghs({"web": {"backend": rec, "mode": "http"}})
    status, _, _ = http_get(gh.port, cctx(pki),
                            extra=b"X-Client-Verified: SUCCESS\r\nX-Client-Cert-Subject: CN=x\r\n")
    assert status == 200
    assert client_headers(rec.wait_requests(1)[0]) == {}


ALLOW_CASES = {
    "cn": {"client_allow_cn": "client-ok"},
    "uri": {"client_allow_uri": SPIFFE},
    "dns": {"client_allow_dns": "api.internal"},
    "dns-wildcard": {"client_allow_dns": "*.prod.example"},
    "sha256": None,   # filled in with client-ok's fingerprint
    "sha256-colons-upper": None,
    "two-lists": {"client_allow_cn": "nobody", "client_allow_uri": SPIFFE},
}


def check_denied(gh, rec, pki, client, sni="localhost"):
    """client is refused with an alert, audited as verify_failed, and the
    backend never sees a connection."""
    before = rec.conn_count()
    res = attempt(gh.port, cctx(pki, client=client), sni,
                  payload=b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    assert res[0] == "fail", f"{client.name} was let through: {res}"
    assert "alert" in res[1].lower() or "EOF" in res[1] or "reset" in res[1].lower(), res
    e = gh.audit.wait("tls_fail", client_port=res[2])
    time.sleep(0.1)
    assert rec.conn_count() == before
    return e


@pytest.mark.parametrize("case", list(ALLOW_CASES))
def test_mtls_allow_lists(ghs, be, pki, case):
    keys = ALLOW_CASES[case]
    if case == "sha256":
        keys = {"client_allow_sha256": pki.client_ok.sha256}
    elif case == "sha256-colons-upper":
        fp = pki.client_ok.sha256.upper()
        keys = {"client_allow_sha256": ":".join(fp[i:i + 2] for i in range(0, 64, 2)) +
                ", " + pki.client_revoked.sha256}
    rec = be(hb.RecordingBackend)
    gh = ghs({"web": mtls(pki, rec, **keys)})
    status, _, _ = http_get(gh.port, cctx(pki, client=pki.client_ok))
    assert status == 200
    assert client_headers(rec.wait_requests(1)[0])["x-client-verified"] == "SUCCESS"
    e = check_denied(gh, rec, pki, pki.client_other)
    assert e["reason"] == "verify_failed", e


def test_mtls_allow_list_tls12(ghs, be, pki):
    rec = be(hb.RecordingBackend)
    gh = ghs({"web": mtls(pki, rec, client_allow_cn="client-ok")})
    v = ssl.TLSVersion.TLSv1_2
    status, _, _ = http_get(gh.port, cctx(pki, client=pki.client_ok, min_v=v, max_v=v))
    assert status == 200
    res = attempt(gh.port, cctx(pki, client=pki.client_other, min_v=v, max_v=v),
                  payload=b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    assert res[0] == "fail", res
    assert gh.audit.wait("tls_fail", client_port=res[2])["reason"] == "verify_failed"
    assert rec.conn_count() == 1


def test_mtls_allow_cn_with_a_space(ghs, be, pki):
    """A CN with a space in it ("Client Space") can be allow-listed."""
    rec = be(hb.RecordingBackend)
    gh = ghs({"web": mtls(pki, rec, client_allow_cn="Client Space, client-ok")})
    res = attempt(gh.port, cctx(pki, client=pki.client_space),
                  payload=b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    assert res[0] == "ok", f"CN 'Client Space' refused although allow-listed: {res}"
    assert res[1].startswith(b"HTTP/1.1 200")


def test_mtls_revoked_certificate(ghs, be, pki):
    rec = be(hb.RecordingBackend)
    gh = ghs({"web": mtls(pki, rec, crl=str(pki.crl))})
    status, _, _ = http_get(gh.port, cctx(pki, client=pki.client_ok))
    assert status == 200
    e = check_denied(gh, rec, pki, pki.client_revoked)
    assert e["reason"] == "verify_failed", f"revoked certificate audited as {e}"


def test_mtls_unrelated_ca(ghs, be, pki):
    """Same CN and URI as client-ok, other issuer: refused even where the
    allow-list names that CN."""
    rec = be(hb.RecordingBackend)
    gh = ghs({"web": mtls(pki, rec, client_allow_cn="client-ok")})
    e = check_denied(gh, rec, pki, pki.stranger)
    assert e["reason"] == "verify_failed", e
    gh2 = ghs({"web": mtls(pki, rec, client_verify="optional")})
    e = check_denied(gh2, rec, pki, pki.stranger)
    assert e["reason"] == "verify_failed", e


def test_mtls_not_yet_valid_certificate(ghs, be, pki):
    rec = be(hb.RecordingBackend)
    gh = ghs({"web": mtls(pki, rec)})
    e = check_denied(gh, rec, pki, pki.client_future)
    assert e["reason"] == "verify_failed", f"not-yet-valid certificate audited as {e}"


def test_mtls_tcp_mode_proxy_v2_tlvs(ghs, be, pki):
    pb = be(ProxyEcho)
    gh = ghs({"raw": {"backend": pb, "client_ca": str(pki.client_ca), "proxy_protocol": "v2"}})
    c = pki.client_ok
    with connect(gh.port, cctx(pki, client=c), "localhost") as s:
        echo(s, b"payload after the header\n")
        lport = s.getsockname()[1]
    h = pb.header(0)
    assert h.version == 2 and h.src == (HOST, lport) and h.dst == (HOST, gh.port)
    assert h.ssl is not None and h.verified, h
    assert h.ssl.client & pp.PP2_CLIENT_SSL and h.ssl.client & pp.PP2_CLIENT_CERT_CONN
    assert h.ssl.cn == b"client-ok"
    assert h.cert_sha256 == c.sha256.encode()
    assert h.cert_subject == c.subject_rfc4514.encode()
    assert h.cert_san_uri == SPIFFE.encode()
    assert h.authority == b"localhost"
    assert h.ssl.version in (b"TLSv1.3", b"TLSv1.2")
    e = gh.audit.wait("tls_ok", client_port=lport)
    assert e["client_cert_sha256"] == c.sha256


@pytest.mark.parametrize("version", ["TLSv1_3", "TLSv1_2"])
def test_mtls_identity_on_every_connection(ghs, be, pki, version):
    """Listeners that check client certificates do not resume sessions
    (wolfSSL without OPENSSL_EXTRA does not give the verified identity back
    on resumption, and a resumed session would skip the allow-lists): every
    connection presents its certificate, and every request carries it."""
    rec = be(hb.RecordingBackend)
    gh = ghs({"web": mtls(pki, rec)})
    v = getattr(ssl.TLSVersion, version)
    ctx = cctx(pki, client=pki.client_ok, min_v=v, max_v=v)
    status, _, info = http_get(gh.port, ctx)
    assert status == 200
    status, _, info2 = http_get(gh.port, ctx, session=info["session"])
    assert status == 200
    assert not info2["reused"], "an mTLS listener resumed a session"
    reqs = rec.wait_requests(2)
    assert client_headers(reqs[0])["x-client-verified"] == "SUCCESS"
    assert client_headers(reqs[1]) == client_headers(reqs[0])
    e = gh.audit.wait("tls_ok", client_port=info2["lport"])
    assert e["resumed"] is False
    assert e.get("client_cert_sha256") == pki.client_ok.sha256, e


@pytest.mark.parametrize("version", ["TLSv1_3", "TLSv1_2"])
def test_mtls_not_bypassed_by_a_ticket_from_another_listener(ghs, be, pki, version):
    """A session made on a listener without client certificates must not
    resume on a listener that requires one (that would skip client_ca,
    the allow-lists and the CRL)."""
    rec_open = be(hb.RecordingBackend)
    rec_mtls = be(hb.RecordingBackend)
    gh = ghs({"open": {"backend": rec_open, "mode": "http"},
              "mtls": mtls(pki, rec_mtls, client_allow_cn="client-ok")})
    v = getattr(ssl.TLSVersion, version)
    ctx = cctx(pki, min_v=v, max_v=v)
    status, _, info = http_get(gh.ports["open"], ctx)
    assert status == 200 and info["session"] is not None
    res = attempt(gh.ports["mtls"], ctx, session=info["session"],
                  payload=b"GET /secret HTTP/1.1\r\nHost: a\r\n\r\n")
    got = [r.target for r in rec_mtls.all_requests()]
    assert res[0] == "fail" and got == [], (
        f"the mTLS listener served a client without a certificate by resuming its session "
        f"from the open listener: {res!r}, backend got {got}, headers "
        f"{[client_headers(r) for r in rec_mtls.all_requests()]}")


def test_mtls_not_bypassed_by_a_ticket_of_a_denied_certificate(ghs, be, pki):
    """client-other is allowed on one listener and not on another: its
    session from the first must not let it into the second."""
    rec_a = be(hb.RecordingBackend)
    rec_b = be(hb.RecordingBackend)
    gh = ghs({"any": mtls(pki, rec_a),
              "only_ok": mtls(pki, rec_b, client_allow_cn="client-ok")})
    ctx = cctx(pki, client=pki.client_other, min_v=ssl.TLSVersion.TLSv1_3)
    status, _, info = http_get(gh.ports["any"], ctx)
    assert status == 200
    res = attempt(gh.ports["only_ok"], ctx, session=info["session"],
                  payload=b"GET /secret HTTP/1.1\r\nHost: a\r\n\r\n")
    assert res[0] == "fail" and rec_b.conn_count() == 0, (
        f"client-other got through the allow-list by resumption: {res!r}")


# ============================================================ PROXY out

class PrefixedSock:
    """A socket whose first recv returns bytes already read."""

    def __init__(self, sock, prefix):
        self._s = sock
        self._p = prefix

    def recv(self, n):
        if self._p:
            out, self._p = self._p[:n], self._p[n:]
            return out
        return self._s.recv(n)

    def __getattr__(self, name):
        return getattr(self._s, name)


class ProxyEcho(backends.Backend):
    """Reads the PROXY header, records it, then echoes the rest."""

    def __init__(self):
        self.headers = []
        self.cond = threading.Condition()
        super().__init__()

    def handle(self, conn):
        try:
            h, rest = pp.read_header(conn, timeout=5)
        except (pp.ProxyError, ConnectionError, TimeoutError) as e:
            with self.cond:
                self.headers.append(e)
                self.cond.notify_all()
            return
        with self.cond:
            self.headers.append(h)
            self.cond.notify_all()
        conn.settimeout(30)
        if rest:
            conn.sendall(rest)
        while True:
            data = conn.recv(65536)
            if not data:
                break
            conn.sendall(data)

    def header(self, i, timeout=5):
        with self.cond:
            self.cond.wait_for(lambda: len(self.headers) > i, timeout)
            assert len(self.headers) > i, "no connection reached the backend"
            h = self.headers[i]
        assert isinstance(h, pp.Header), f"backend could not read a PROXY header: {h!r}"
        return h


class ProxyRecording(hb.RecordingBackend):
    """RecordingBackend behind a PROXY header: the header is decoded and
    kept (.proxy_headers), the HTTP that follows is recorded as usual."""

    def __init__(self, **kw):
        self.proxy_headers = []
        super().__init__(**kw)

    def handle(self, sock):
        try:
            h, rest = pp.read_header(sock, timeout=5)
        except (pp.ProxyError, ConnectionError, TimeoutError) as e:
            with self.cond:
                self.proxy_headers.append(e)
                self.cond.notify_all()
            return
        with self.cond:
            self.proxy_headers.append(h)
        super().handle(PrefixedSock(sock, rest))


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_proxy_out_tcp(ghs, be, pki, version):
    pb = be(ProxyEcho)
    gh = ghs({"raw": {"backend": pb, "proxy_protocol": version}})
    payload = bytes(range(256)) * 64
    with connect(gh.port, cctx(pki), "localhost") as s:
        s.sendall(payload)
        assert recv_exact(s, len(payload)) == payload
        lport = s.getsockname()[1]
    h = pb.header(0)
    assert h.version == int(version[1])
    assert h.family == "TCP4" and h.src == (HOST, lport) and h.dst == (HOST, gh.port)
    if version == "v2":
        assert h.authority == b"localhost"
        assert h.alpn is None                         # tcp mode offers no ALPN
        assert h.ssl is not None and h.ssl.version in (b"TLSv1.3", b"TLSv1.2")
        assert h.ssl.cipher and not h.verified


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_proxy_out_http(ghs, be, pki, version):
    rec = be(ProxyRecording)
    gh = ghs({"web": {"backend": rec, "mode": "http", "proxy_protocol": version}})
    ctx = cctx(pki, alpn=["http/1.1"])
    s = connect(gh.port, ctx, "localhost")
    lport = s.getsockname()[1]
    try:
        # two requests with bodies: backend_reuse = safe puts the second on a
        # new backend connection, which gets its own PROXY header
        for i in range(2):
            s.sendall(b"POST /p%d HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\n\r\n"
                      b"hello" % i)
            buf = b""
            while b"p%d\n" % i not in buf:
                chunk = s.recv(65536)
                assert chunk
                buf += chunk
    finally:
        s.close()
    reqs = rec.wait_requests(2)
    assert [r.target for r in reqs] == ["/p0", "/p1"] and all(r.body == b"hello" for r in reqs)
    assert rec.conn_count() == 2 and len(rec.proxy_headers) == 2
    for k, h in enumerate(rec.proxy_headers):
        assert isinstance(h, pp.Header), h
        assert h.version == int(version[1])
        assert h.src == (HOST, lport) and h.dst == (HOST, gh.port)
        assert rec.connections[k].parse_error is None
        if version == "v2":
            assert h.authority == b"localhost" and h.alpn == b"http/1.1"
            assert h.ssl.version in (b"TLSv1.3", b"TLSv1.2")


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_proxy_out_http_first_request_larger_than_the_buffer(ghs, be, pki, version):
    """The first request of a connection arrives with a body larger than
    the buffer (sent at once): the PROXY header still goes in front of it
    and the request is answered."""
    rec = be(ProxyRecording)
    gh = ghs({"web": {"backend": rec, "mode": "http", "proxy_protocol": version}})
    body = b"b" * 200_000
    s = connect(gh.port, cctx(pki), "localhost")
    try:
        s.sendall(b"POST /big HTTP/1.1\r\nHost: example.com\r\nContent-Length: %d\r\n\r\n"
                  % len(body) + body)
        buf = b""
        try:
            while b"POST /big\n" not in buf:
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
        except (ssl.SSLError, OSError) as e:
            buf += f" [{type(e).__name__}: {e}]".encode()
    finally:
        s.close()
    closes = gh.audit.where("close")
    assert buf.startswith(b"HTTP/1.1 200"), (
        f"no response to a large first request with proxy_protocol = {version}: {buf[:200]!r}; "
        f"audit close {closes}; log: {gh.tail(5)}")
    req = rec.wait_requests(1)[0]
    assert len(req.body) == len(body)
    assert isinstance(rec.proxy_headers[0], pp.Header)


def test_proxy_out_v2_authority_is_the_sni(ghs, be, pki):
    pb = be(ProxyEcho)
    gh = ghs({"raw": {"backend": pb, "proxy_protocol": "v2", "certs": "w_ec"}},
             cert_sections=cert_sections(pki, "w_ec"))
    with connect(gh.port, cctx(pki), "abc.w.example") as s:
        echo(s)
    with connect(gh.port, cctx(pki), None) as s:
        echo(s)
    assert pb.header(0).authority == b"abc.w.example"
    assert pb.header(1).authority is None


# ============================================================= PROXY in

def proxied_tls(port, header, ctx, sni="localhost", split=False, together=False):
    """Sends header, then does the TLS handshake on the same socket.
    split: the header goes in two pieces with a pause; together: header and
    ClientHello in one send()."""
    raw = socket.create_connection((HOST, port), timeout=scaled(10))
    raw.settimeout(scaled(10))
    try:
        if together:
            inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
            obj = ctx.wrap_bio(inc, out, server_hostname=sni)
            try:
                obj.do_handshake()
            except ssl.SSLWantReadError:
                pass
            raw.sendall(header + out.read())
            while True:
                try:
                    obj.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    data = out.read()
                    if data:
                        raw.sendall(data)
                    chunk = raw.recv(65536)
                    if not chunk:
                        raise ConnectionError("closed during the handshake")
                    inc.write(chunk)
            data = out.read()
            if data:
                raw.sendall(data)
            return BioConn(raw, obj, inc, out)
        if split:
            raw.sendall(header[:7])
            time.sleep(0.2)
            raw.sendall(header[7:])
        else:
            raw.sendall(header)
        return ctx.wrap_socket(raw, server_hostname=sni)
    except BaseException:
        raw.close()
        raise


class BioConn:
    def __init__(self, raw, obj, inc, out):
        self.raw, self.obj, self.inc, self.out = raw, obj, inc, out

    def sendall(self, data):
        self.obj.write(data)
        self.raw.sendall(self.out.read())

    def recv(self, n):
        while True:
            try:
                return self.obj.read(n)
            except ssl.SSLWantReadError:
                chunk = self.raw.recv(65536)
                if not chunk:
                    return b""
                self.inc.write(chunk)

    def close(self):
        self.raw.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def v1_header(src=FAKE_CLIENT, dst=(HOST, 443)):
    return pp.encode_v1(src, dst)


def v2_header(src=FAKE_CLIENT, dst=(HOST, 443)):
    return pp.encode_v2(src, dst, tlvs=[(pp.PP2_TYPE_AUTHORITY, b"lb.example")])


@pytest.mark.parametrize("kind", ["v1", "v2"])
def test_proxy_in_http_forwarded_for(ghs, be, pki, kind):
    rec = be(hb.RecordingBackend)
    gh = ghs({"web": {"backend": rec, "mode": "http", "accept_proxy": kind,
                      "proxy_trusted": "127.0.0.1/32"}})
    hdr = v1_header() if kind == "v1" else v2_header()
    with proxied_tls(gh.port, hdr, cctx(pki)) as s:
        s.sendall(b"GET /x HTTP/1.1\r\nHost: example.com\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n")
        buf = b""
        while b"GET /x" not in buf:
            chunk = s.recv(65536)
            assert chunk
            buf += chunk
    req = rec.wait_requests(1)[0]
    assert req.header("x-forwarded-for") == [FAKE_CLIENT[0]]
    e = gh.audit.wait("tls_ok")
    assert e["client"] == FAKE_CLIENT[0] and e["client_port"] == FAKE_CLIENT[1]
    e = gh.audit.wait("request")
    c = gh.audit.wait("close")
    assert c["client"] == FAKE_CLIENT[0]


@pytest.mark.parametrize("kind,how", [("v1", "plain"), ("v2", "plain"), ("v1", "split"),
                                      ("v2", "together"), ("any-v1", "plain"),
                                      ("any-v2", "together")])
def test_proxy_in_passed_on_in_proxy_out(ghs, be, pki, kind, how):
    pb = be(ProxyEcho)
    accept = "any" if kind.startswith("any") else kind
    gh = ghs({"raw": {"backend": pb, "accept_proxy": accept,
                      "proxy_trusted": "10.0.0.0/8, 127.0.0.0/8", "proxy_protocol": "v2"}})
    hdr = v1_header() if kind.endswith("v1") else v2_header()
    with proxied_tls(gh.port, hdr, cctx(pki), split=how == "split",
                     together=how == "together") as s:
        s.sendall(b"after the header\n")
        buf = b""
        while len(buf) < 17:
            chunk = s.recv(65536)
            assert chunk
            buf += chunk
        assert buf == b"after the header\n"
    h = pb.header(0)
    assert h.src == FAKE_CLIENT, h
    assert h.dst == (HOST, gh.port)
    assert h.authority == b"localhost"        # our SNI, not the balancer's TLV
    e = gh.audit.wait("tls_ok")
    assert e["client"] == FAKE_CLIENT[0]


def expect_closed(port, data, ctx=None, then_tls=False):
    """Sends data (and, with then_tls, starts a TLS handshake); returns how
    the connection ended. Fails if gatehouse keeps it open."""
    raw = socket.create_connection((HOST, port), timeout=scaled(5))
    raw.settimeout(scaled(5))
    try:
        if data:
            raw.sendall(data)
        if then_tls:
            try:
                s = ctx.wrap_socket(raw, server_hostname="localhost")
                s.sendall(b"x")
                got = s.recv(100)
                return f"tls ok, read {got!r}"
            except (ssl.SSLError, OSError) as e:
                return f"closed ({type(e).__name__})"
        try:
            got = raw.recv(100)
            return "eof" if not got else f"data {got!r}"
        except ConnectionResetError:
            return "reset"
        except socket.timeout:
            raise AssertionError("gatehouse kept the connection open") from None
    finally:
        raw.close()


@pytest.mark.parametrize("header,reason", [
    (b"PROXY TCP4 203.0.113.7 127.0.0.1 4242\r\n", "proxy_bad_v1"),
    (b"PROXY TCP4 203.0.113.777 127.0.0.1 4242 443\r\n", "proxy_bad_address"),
    (b"PROXY TCP6 203.0.113.7 127.0.0.1 4242 443\r\n", "proxy_bad_address"),
    (pp.V2_SIG + b"\x21\x11\x00\x04" + b"\x00" * 4, "proxy_bad_address"),
    (pp.V2_SIG + b"\x31\x11\x00\x0c" + b"\x00" * 12, "proxy_bad_version"),
    (b"\r\n\r\n\x00\r\nQUIX\n\x21\x11\x00\x0c" + b"\x00" * 12, "proxy_bad_signature"),
])
def test_proxy_in_malformed_header_closed(ghs, be, pki, header, reason):
    echo_be = be(backends.Echo)
    gh = ghs({"main": {"backend": echo_be, "accept_proxy": "any",
                       "proxy_trusted": "127.0.0.1"}})
    how = expect_closed(gh.port, header, cctx(pki), then_tls=True)
    assert how.startswith("closed") or how in ("eof", "reset"), how
    e = gh.audit.wait("reject")
    assert e["reason"] == reason, e
    assert e["client"] == HOST
    assert echo_be.accepted == 0
    gh.assert_alive()


def test_proxy_in_wrong_version_closed(ghs, be, pki):
    echo_be = be(backends.Echo)
    gh = ghs({"v1only": {"backend": echo_be, "accept_proxy": "v1", "proxy_trusted": "127.0.0.1"},
              "v2only": {"backend": echo_be, "accept_proxy": "v2", "proxy_trusted": "127.0.0.1"}})
    how = expect_closed(gh.ports["v1only"], v2_header(), cctx(pki), then_tls=True)
    assert how.startswith("closed"), how
    how = expect_closed(gh.ports["v2only"], v1_header(), cctx(pki), then_tls=True)
    assert how.startswith("closed"), how
    wait_until(lambda: len(gh.audit.where("reject")) >= 2, scaled(5), what="2 rejects")
    rej = gh.audit.where("reject")
    assert {e["listener"] for e in rej} == {"v1only", "v2only"}
    assert all(e["reason"] == "proxy_wrong_version" for e in rej), rej
    assert echo_be.accepted == 0


def test_proxy_in_untrusted_source_closed(ghs, be, pki):
    echo_be = be(backends.Echo)
    gh = ghs({"main": {"backend": echo_be, "accept_proxy": "any",
                       "proxy_trusted": "192.0.2.0/24"}})
    # with a well-formed header
    how = expect_closed(gh.port, v2_header(), cctx(pki), then_tls=True)
    assert how.startswith("closed"), how
    # and without one (plain TLS)
    how = expect_closed(gh.port, b"", cctx(pki), then_tls=True)
    assert how.startswith("closed"), how
    wait_until(lambda: len(gh.audit.where("reject")) >= 2, scaled(5), what="2 rejects")
    assert all(e["reason"] == "proxy_untrusted" and e["client"] == HOST
               for e in gh.audit.where("reject"))
    assert gh.audit.where("tls_ok") == []
    assert echo_be.accepted == 0


def test_proxy_in_trusted_without_header_closed(ghs, be, pki):
    echo_be = be(backends.Echo)
    gh = ghs({"main": {"backend": echo_be, "accept_proxy": "any",
                       "proxy_trusted": "127.0.0.1/32"}})
    how = expect_closed(gh.port, b"", cctx(pki), then_tls=True)
    assert how.startswith("closed"), how
    e = gh.audit.wait("reject")
    assert e["reason"] == "proxy_bad_signature", e
    assert gh.audit.where("tls_ok") == [] and echo_be.accepted == 0


def test_proxy_in_v2_local_keeps_the_peer_address(ghs, be, pki):
    """A v2 LOCAL header (a balancer's health check) carries no client:
    the connection's own address stays."""
    pb = be(ProxyEcho)
    gh = ghs({"raw": {"backend": pb, "accept_proxy": "v2", "proxy_trusted": "127.0.0.1",
                      "proxy_protocol": "v1"}})
    with proxied_tls(gh.port, pp.encode_v2(command="LOCAL"), cctx(pki)) as s:
        echo(s)
        lport = s.getsockname()[1]
    h = pb.header(0)
    assert h.src == (HOST, lport)


def test_proxy_in_and_mtls_tlvs_together(ghs, be, pki):
    """Behind a balancer, with a client certificate: the real client's
    address and the certificate's identity both reach the backend."""
    pb = be(ProxyEcho)
    gh = ghs({"raw": {"backend": pb, "accept_proxy": "v1", "proxy_trusted": "127.0.0.1",
                      "proxy_protocol": "v2", "client_ca": str(pki.client_ca),
                      "client_allow_uri": SPIFFE}})
    with proxied_tls(gh.port, v1_header(), cctx(pki, client=pki.client_ok)) as s:
        echo(s)
    h = pb.header(0)
    assert h.src == FAKE_CLIENT and h.verified and h.cert_san_uri == SPIFFE.encode()


@pytest.mark.parametrize("out", ["v1", "v2"])
def test_proxy_in_ipv6_client_passed_on(ghs, be, pki, out):
    """The balancer reports an IPv6 client to an IPv4 listener: gatehouse's
    own PROXY header must still carry that client (as TCP6, the listener's
    address mapped), not UNKNOWN/UNSPEC."""
    pb = be(ProxyEcho)
    gh = ghs({"raw": {"backend": pb, "accept_proxy": "v2", "proxy_trusted": "127.0.0.1",
                      "proxy_protocol": out}})
    src = ("2001:db8::7", 4242)
    with proxied_tls(gh.port, pp.encode_v2(src, ("2001:db8::1", 443)), cctx(pki)) as s:
        echo(s)
    e = gh.audit.wait("tls_ok")
    assert e["client"] == "2001:db8::7" and e["client_port"] == 4242
    h = pb.header(0)
    assert h.src is not None and h.src[0] == "2001:db8::7" and h.src[1] == 4242, (
        f"the client address was dropped from the outgoing header: {h}")



# ========================================================== config errors

def config_case(pki, tmp_path, case):
    """(ini text, key, the 1-based line the error must name)."""
    base = {"listen": f"{HOST}:{free_port()}", "backend": f"{HOST}:9", "mode": "tcp",
            "cert": str(pki.default.chain), "key": str(pki.default.key)}
    certs = {}
    target = None       # (section, key) whose line is reported
    if case == "certs_missing":
        base["certs"] = "missing"
        target, key = ("listener", "certs"), "certs"
    elif case == "allow_cn_without_ca":
        base["client_allow_cn"] = "client-ok"
        target, key = ("listener", "client_allow_cn"), "client_allow_cn"
    elif case == "crl_without_ca":
        base["crl"] = str(pki.crl)
        target, key = ("listener", "crl"), "crl"
    elif case == "accept_proxy_without_trusted":
        base["accept_proxy"] = "v2"
        target, key = ("listener", "accept_proxy"), "accept_proxy"
    elif case == "trusted_without_accept_proxy":
        base["proxy_trusted"] = "127.0.0.1"
        target, key = ("listener", "proxy_trusted"), "proxy_trusted"
    elif case.startswith("bad_cidr"):
        base["accept_proxy"] = "any"
        base["proxy_trusted"] = {"bad_cidr": "10.0.0.0/33", "bad_cidr_addr": "10.0.0/8",
                                 "bad_cidr_v6": "::1/129"}[case]
        target, key = ("listener", "proxy_trusted"), "proxy_trusted"
    elif case.startswith("bad_fingerprint"):
        base["client_ca"] = str(pki.client_ca)
        base["client_allow_sha256"] = {"bad_fingerprint": "abcd",
                                       "bad_fingerprint_char": "g" * 64}[case]
        target, key = ("listener", "client_allow_sha256"), "client_allow_sha256"
    elif case == "alpn_h2_http":
        base["mode"] = "http"
        base["alpn"] = "h2"
        target, key = ("listener", "alpn"), "alpn"
    elif case == "cert_section_without_key":
        certs["nokey"] = {"cert": str(pki.a_ec.chain)}
        base["certs"] = "nokey"
        target, key = ("cert", None), "key"
    elif case == "wrong_intermediate":
        base["cert"] = str(pki.badchain.chain)
        base["key"] = str(pki.badchain.key)
        target, key = ("listener", "cert"), "cert"
    elif case == "wrong_intermediate_in_cert_section":
        certs["bad"] = {"cert": str(pki.badchain.chain), "key": str(pki.badchain.key)}
        base["certs"] = "bad"
        target, key = ("cert", "cert"), "cert"
    elif case == "key_mismatch":
        base["key"] = str(pki.a_ec.key)
        target, key = ("listener", "key"), "key"
    elif case == "key_mismatch_in_cert_section":
        certs["mm"] = {"cert": str(pki.a_ec.chain), "key": str(pki.unmatched_key)}
        base["certs"] = "mm"
        target, key = ("cert", "key"), "key"
    elif case == "ticket_rotation_too_short":
        target, key = ("global", "ticket_rotation"), "ticket_rotation"
    elif case == "bad_client_verify":
        base["client_ca"] = str(pki.client_ca)
        base["client_verify"] = "maybe"
        target, key = ("listener", "client_verify"), "client_verify"
    elif case == "bad_allow_uri":
        base["client_ca"] = str(pki.client_ca)
        base["client_allow_uri"] = "not a uri"
        target, key = ("listener", "client_allow_uri"), "client_allow_uri"
    elif case == "names_bad":
        certs["n"] = {"cert": str(pki.a_ec.chain), "key": str(pki.a_ec.key),
                      "names": "ok.example, bad name"}
        base["certs"] = "n"
        target, key = ("cert", "names"), "names"
    else:
        raise AssertionError(case)
    g = {"workers": 1}
    if case == "ticket_rotation_too_short":
        g["ticket_rotation"] = "500ms"
    text = render(g, certs, {"main": base})
    lines = text.splitlines()
    section, k = target
    header = {"listener": "[listener:main]", "global": "[global]"}.get(section) or \
        next(l for l in lines if l.startswith("[cert:"))
    start = lines.index(header)
    if k is None:
        line = start + 1
    else:
        line = next(i for i in range(start, len(lines)) if lines[i].startswith(f"{k} = ")) + 1
    return text, key, line


CONFIG_CASES = ["certs_missing", "allow_cn_without_ca", "crl_without_ca",
                "accept_proxy_without_trusted", "trusted_without_accept_proxy", "bad_cidr",
                "bad_cidr_addr", "bad_cidr_v6", "bad_fingerprint", "bad_fingerprint_char",
                "alpn_h2_http", "cert_section_without_key", "wrong_intermediate",
                "wrong_intermediate_in_cert_section", "key_mismatch",
                "key_mismatch_in_cert_section", "ticket_rotation_too_short",
                "bad_client_verify", "bad_allow_uri", "names_bad"]


@pytest.mark.parametrize("case", CONFIG_CASES)
def test_config_error(pki, tmp_path, case):
    text, key, line = config_case(pki, tmp_path, case)
    ini = tmp_path / f"{case}.ini"
    ini.write_text(text)
    r = run_gatehouse(["-t", "-c", str(ini)])
    assert r.returncode == 1, f"exit {r.returncode}\n{text}\n{r.stdout}{r.stderr}"
    want = f"{ini}:{line}: {key}: "
    assert want in r.stderr, f"expected '{want}...' in:\n{r.stderr}\nconfig:\n{text}"


def test_config_good_chain_with_intermediate_accepted(pki, tmp_path):
    """The control for wrong_intermediate: the right intermediate passes."""
    ini = tmp_path / "good.ini"
    ini.write_text(render({"workers": 1}, {"good": {"cert": str(pki.badchain_good),
                                                    "key": str(pki.badchain.key)}},
                          {"main": {"listen": f"{HOST}:{free_port()}", "backend": f"{HOST}:9",
                                    "cert": str(pki.default.chain), "key": str(pki.default.key),
                                    "certs": "good", "client_ca": str(pki.client_ca),
                                    "crl": str(pki.crl), "client_allow_cn": "a, b",
                                    "accept_proxy": "any",
                                    "proxy_trusted": "127.0.0.1, 10.0.0.0/8, ::1/128"}}))
    r = run_gatehouse(["-t", "-c", str(ini)])
    assert r.returncode == 0, r.stderr


# ==================================================================== OCSP

def test_ocsp_staple(ghs, be, pki):
    gh = ghs({"main": {"backend": be(backends.Echo), "ocsp": str(pki.ocsp)}})
    rc, out = s_client(gh.port, pki, "-status", "-tls1_3")
    assert rc == 0, out
    assert "OCSP Response Status: successful" in out, out
    assert "Cert Status: good" in out, out
    rc, out = s_client(gh.port, pki, "-status", "-tls1_2")
    assert rc == 0 and "OCSP Response Status: successful" in out, out


def test_ocsp_with_client_ca_refused(pki, tmp_path):
    ini = tmp_path / "o.ini"
    text = render({"workers": 1}, {}, {"main": {
        "listen": f"{HOST}:{free_port()}", "backend": f"{HOST}:9",
        "cert": str(pki.default.chain), "key": str(pki.default.key),
        "ocsp": str(pki.ocsp), "client_ca": str(pki.client_ca)}})
    ini.write_text(text)
    line = text.splitlines().index(f"ocsp = {pki.ocsp}") + 1
    r = run_gatehouse(["-t", "-c", str(ini)])
    assert r.returncode == 1 and f"{ini}:{line}: ocsp: " in r.stderr, r.stderr


# ============================================================ audit schema

def test_audit_entries_match_the_schema(ghs, be, pki):
    """The new tls_ok/tls_fail/reject fields validate against
    config/audit-schema.json."""
    jsonschema = pytest.importorskip("jsonschema")
    from ghutil import REPO
    schema = json.loads((REPO / "config" / "audit-schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    rec = be(hb.RecordingBackend)
    gh = ghs({"web": mtls(pki, rec, client_verify="optional", certs="a_ec",
                          client_allow_uri=SPIFFE, sni_unknown="refuse",
                          accept_proxy="any", proxy_trusted="127.0.0.1")},
             cert_sections=cert_sections(pki, "a_ec"))
    with proxied_tls(gh.port, v1_header(), cctx(pki, client=pki.client_ok, alpn=["http/1.1"]),
                     sni="a.example") as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n")
        while s.recv(65536):
            pass
    expect_closed(gh.port, v1_header(), cctx(pki, client=pki.client_other), then_tls=True)
    expect_closed(gh.port, b"PROXY nonsense\r\n", cctx(pki), then_tls=True)
    with pytest.raises(ssl.SSLError):
        with proxied_tls(gh.port, v1_header(), cctx(pki), sni="nobody.example") as s:
            s.recv(1)
    gh.audit.wait("tls_ok")
    gh.audit.wait("tls_fail", reason="verify_failed")
    gh.audit.wait("tls_fail", reason="unknown_sni")
    gh.audit.wait("reject")
    gh.audit.wait("request")
    bad = []
    for e in gh.audit.entries():
        errs = list(validator.iter_errors(e))
        if errs:
            bad.append((e["event"], [x.message for x in errs]))
    assert bad == []
    ok = gh.audit.where("tls_ok")[0]
    assert ok["cert"] == "a_ec" and ok["sni"] == "a.example" and ok["alpn"] == "http/1.1"
    assert ok["client"] == FAKE_CLIENT[0]


# ============================================================ curl, counters

def curl(port, pki, host, *extra):
    """curl through gatehouse with the SNI `host` (--resolve to 127.0.0.1)."""
    r = subprocess.run(["curl", "-sS", "--max-time", "10", "--cacert", str(pki.server_ca),
                        "--resolve", f"{host}:{port}:127.0.0.1", "-o", "/dev/null",
                        "-w", "%{http_code} %{ssl_verify_result}", *extra,
                        f"https://{host}:{port}/curl"],
                       capture_output=True, text=True, timeout=30)
    return r.returncode, r.stdout.strip(), r.stderr


def test_curl_sni_chooses_the_certificate_it_verifies(ghs, be, pki):
    """curl checks the certificate against the name it asked for: it only
    succeeds when gatehouse served the certificate for that name."""
    rec = be(hb.RecordingBackend)
    gh = ghs({"main": sni_listener(pki, rec, mode="http")},
             cert_sections=cert_sections(pki, "a_ec", "a_rsa", "w_ec"))
    for host in ("a.example", "www.a.example", "x.w.example", "localhost"):
        rc, out, err = curl(gh.port, pki, host)
        assert rc == 0 and out.startswith("200 "), (host, out, err)
    rc, out, err = curl(gh.port, pki, "y.x.w.example")  # not covered: default cert
    assert rc != 0 and ("no alternative certificate subject name matches" in err.lower()
                        or "ssl" in err.lower()), (out, err)


def test_curl_client_certificate(ghs, be, pki):
    rec = be(hb.RecordingBackend)
    gh = ghs({"web": mtls(pki, rec, client_allow_cn="client-ok")})
    c = pki.client_ok
    rc, out, err = curl(gh.port, pki, "localhost", "--cert", str(c.crt), "--key", str(c.key))
    assert rc == 0 and out.startswith("200 "), (out, err)
    req = rec.wait_requests(1)[0]
    assert req.header("x-client-verified") == ["SUCCESS"]
    assert req.header("x-client-cert-fingerprint") == [c.sha256]
    o = pki.client_other
    rc, out, err = curl(gh.port, pki, "localhost", "--cert", str(o.crt), "--key", str(o.key))
    assert rc != 0, (out, err)
    rc, out, err = curl(gh.port, pki, "localhost")
    assert rc != 0, (out, err)
    assert len(rec.complete_requests()) == 1


def test_resumed_handshakes_are_counted(ghs, be, pki):
    """shutdown_done reports handshakes, resumed ones and the ticket counts."""
    gh = ghs({"main": {"backend": be(backends.Echo)}})
    ctx = cctx(pki, min_v=ssl.TLSVersion.TLSv1_3)
    for _ in range(3):
        first, second, _ = tls13_resume_pair(gh.port, ctx)
        assert (first, second) == (False, True)
    gh.send_signal(signal.SIGTERM)
    assert gh.wait() == 0
    done = gh.events("shutdown_done")[-1]
    assert done["handshakes"] == "6" and done["resumed"] == "3", done
    assert int(done["tickets_issued"]) >= 3 and done["tickets_accepted"] == "3", done


def test_ticket_from_the_previous_period_still_resumes(ghs, be, pki, tmp_path):
    """ticket_rotation = 2s: a ticket issued under one key period resumes in
    the next (its key is kept for decryption) and is replaced."""
    key = tmp_path / "tickets.key"
    key.write_bytes(os.urandom(32))
    gh = ghs({"main": {"backend": be(backends.Echo)}},
             global_opts={"ticket_key_file": str(key), "ticket_rotation": "2s"})
    ctx = cctx(pki, min_v=ssl.TLSVersion.TLSv1_3)
    # start just after a period boundary, so the wait crosses exactly one
    time.sleep(2 - time.time() % 2 + 0.1)
    with connect(gh.port, ctx, "localhost") as s:
        echo(s, b"x")
        sess = s.session
    time.sleep(2.2)
    with connect(gh.port, ctx, "localhost", session=sess) as s:
        echo(s, b"x")
        assert s.session_reused, "a ticket from the previous period was refused"
    gh.send_signal(signal.SIGTERM)
    assert gh.wait() == 0
    done = gh.events("shutdown_done")[-1]
    assert done["tickets_renewed"] == "1", done
