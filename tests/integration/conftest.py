"""Fixtures for the gatehouse integration tests.

Environment:
  GATEHOUSE_BIN                  binary under test (default build/gatehouse)
  GATEHOUSE_TEST_STREAM_MB       size of the large-stream tests (default 64)
  GATEHOUSE_TEST_TIMEOUT_SCALE   multiplies waits and bounds (e.g. 3 for ASan)
"""

import os
import resource
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ghutil  # noqa: E402
from ghutil import Gatehouse, addr_text, free_port, render_ini  # noqa: E402


# ------------------------------------------------------------ time bound

class TestTimeout(Exception):
    pass


@pytest.fixture(autouse=True)
def _time_bound(request):
    """Every test is bounded: SIGALRM after timeout_s (marker) seconds."""
    m = request.node.get_closest_marker("timeout_s")
    seconds = ghutil.scaled(m.args[0] if m else 60)

    def on_alarm(signum, frame):
        raise TestTimeout(f"test exceeded {seconds:.0f}s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def pytest_sessionstart(session):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 8192 if hard == resource.RLIM_INFINITY else min(hard, 8192)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


# ------------------------------------------------------------ certificates

def _openssl(*args, cwd):
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True,
                       timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed:\n{r.stderr}")


def _leaf(d, name, newkey, ca_crt, ca_key, key_usage):
    ext = d / f"{name}.ext"
    ext.write_text(
        "basicConstraints = critical, CA:FALSE\n"
        f"keyUsage = critical, {key_usage}\n"
        "extendedKeyUsage = serverAuth\n"
        "subjectAltName = IP:127.0.0.1, DNS:localhost\n")
    _openssl("req", "-new", "-newkey", *newkey, "-nodes", "-keyout", f"{name}.key",
             "-out", f"{name}.csr", "-subj", f"/CN=gatehouse test {name}", cwd=d)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", ca_crt, "-CAkey", ca_key,
             "-CAcreateserial", "-days", "3", "-sha256", "-extfile", f"{name}.ext",
             "-out", f"{name}.crt", cwd=d)
    (d / f"{name}-chain.crt").write_text((d / f"{name}.crt").read_text() +
                                        (d / ca_crt).read_text())


@pytest.fixture(scope="session")
def certs(tmp_path_factory):
    """Throwaway PKI: a test CA, an ECDSA P-256 leaf and an RSA-2048 leaf
    (SAN 127.0.0.1 and localhost), a second EC key that matches neither."""
    d = tmp_path_factory.mktemp("pki")
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "3", "-sha256",
             "-subj", "/CN=gatehouse test CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    _leaf(d, "ec", ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"], "ca.crt", "ca.key",
          "digitalSignature")
    _leaf(d, "rsa", ["rsa:2048"], "ca.crt", "ca.key", "digitalSignature, keyEncipherment")
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-out", "other.key", cwd=d)
    # the same keys in the traditional (non-PKCS#8) PEM formats
    _openssl("ec", "-in", "ec.key", "-out", "ec-sec1.key", cwd=d)
    _openssl("rsa", "-in", "rsa.key", "-traditional", "-out", "rsa-pkcs1.key", cwd=d)
    return SimpleNamespace(
        dir=d, ca=d / "ca.crt",
        ec_crt=d / "ec.crt", ec_key=d / "ec.key", ec_chain=d / "ec-chain.crt",
        ec_key_sec1=d / "ec-sec1.key",
        rsa_crt=d / "rsa.crt", rsa_key=d / "rsa.key", rsa_chain=d / "rsa-chain.crt",
        rsa_key_pkcs1=d / "rsa-pkcs1.key",
        other_key=d / "other.key")


@pytest.fixture(scope="session")
def ctx(certs):
    """Default client context: verifies against the test CA, TLS >= 1.2."""
    return ghutil.client_context(certs.ca)


# ------------------------------------------------------------ binary

@pytest.fixture(scope="session")
def gatehouse_bin():
    p = Path(ghutil.GATEHOUSE_BIN)
    if not (p.is_file() and os.access(p, os.X_OK)):
        pytest.fail(f"gatehouse binary not found at {p} (set GATEHOUSE_BIN or build it)")
    return p


def listener_defaults(certs, cert="ec"):
    crt, key = {"ec": (certs.ec_crt, certs.ec_key),
                "rsa": (certs.rsa_crt, certs.rsa_key)}[cert]
    return {"mode": "tcp", "cert": str(crt), "key": str(key)}


@pytest.fixture
def gatehouse(gatehouse_bin, certs, tmp_path):
    """Factory: gatehouse(backend, **listener_keys) or
    gatehouse(listeners={name: {...}}, global_opts={...}). Listen ports are
    picked free, cert/key default to the ECDSA pair (cert_kind="rsa" for
    the RSA pair; cert=/key= override the files).
    Returns a started, ready ghutil.Gatehouse; all are stopped on teardown
    and their logs checked for sanitizer reports."""
    started = []
    counter = [0]

    def start(backend=None, *, listeners=None, global_opts=None, cert_kind="ec",
              wait_ready=True, **overrides):
        counter[0] += 1
        n = counter[0]
        if listeners is None:
            assert backend is not None, "need a backend or listeners="
            listeners = {"main": dict(backend=backend, **overrides)}
        g = {"workers": 1, "shutdown_grace": "3s", "log_level": "info"}
        g.update(global_opts or {})
        rendered = {}
        ports = {}
        for name, opts in listeners.items():
            opts = dict(opts)
            o = listener_defaults(certs, opts.pop("cert_kind", cert_kind))
            o["listen"] = f"127.0.0.1:{free_port()}"
            o.update(opts)
            o["backend"] = addr_text(o["backend"])
            rendered[name] = o
            ports[name] = int(o["listen"].rsplit(":", 1)[1])
        ini = tmp_path / f"gatehouse-{n}.ini"
        ini.write_text(render_ini(g, rendered))
        gh = Gatehouse(ini, tmp_path / f"gatehouse-{n}.stderr",
                       tmp_path / f"gatehouse-{n}.stdout", ports)
        started.append(gh)
        if wait_ready:
            gh.wait_ready(count=int(g.get("workers", 1)))
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
def backend():
    """Factory for backends.* objects, all closed on teardown:
    backend(backends.Echo) / backend(backends.SinkHash, expect=N)."""
    made = []

    def make(cls, *args, **kwargs):
        b = cls(*args, **kwargs)
        made.append(b)
        return b

    yield make
    for b in made:
        b.close()


@pytest.fixture
def demo_backend(tmp_path):
    """demo/backend.py started on a free port; yields its address."""
    port = free_port()
    log = open(tmp_path / "demo-backend.log", "wb")
    proc = subprocess.Popen([sys.executable, str(ghutil.REPO / "demo" / "backend.py"),
                             "--port", str(port)],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    try:
        def up():
            if proc.poll() is not None:
                raise AssertionError(
                    f"demo backend exited {proc.returncode}:\n"
                    f"{(tmp_path / 'demo-backend.log').read_text()}")
            return not ghutil.tcp_connect_refused(port, timeout=0.5)
        ghutil.wait_until(up, ghutil.scaled(10), interval=0.05, what="demo backend")
        yield SimpleNamespace(addr=f"127.0.0.1:{port}", port=port, proc=proc,
                              log=tmp_path / "demo-backend.log")
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        log.close()
