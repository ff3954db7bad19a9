"""OCSP stapling from a response file that an external job refreshes (as
hitch's ocsp-dir): the response is made here by `openssl ocsp` acting as
the CA's responder, gatehouse staples it (checked with `openssl s_client
-status`), notices when the file changes, and never staples a response that
is expired or not for its certificate."""

import re
import subprocess
import time
from pathlib import Path

import pytest

import backends
import ghutil
from ghutil import scaled, wait_until

CA_CNF = """
[ ca ]
default_ca = CA_default
[ CA_default ]
dir = {dir}
database = $dir/index.txt
new_certs_dir = $dir/newcerts
serial = $dir/serial
default_md = sha256
policy = policy_any
default_days = 3
copy_extensions = copy
[ policy_any ]
commonName = supplied
[ srv ]
basicConstraints = CA:FALSE
subjectAltName = DNS:localhost, IP:127.0.0.1
authorityInfoAccess = OCSP;URI:http://127.0.0.1:9/ocsp
"""


def sh(*args, cwd):
    r = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"{' '.join(args)}:\n{r.stdout}\n{r.stderr}"
    return r.stdout


class OcspPki:
    """A CA with an index (so `openssl ocsp` can answer for it), a server
    certificate it issued, and a second certificate for foreign responses."""

    def __init__(self, d: Path):
        self.d = d
        (d / "ca" / "newcerts").mkdir(parents=True)
        (d / "ca" / "index.txt").write_text("")
        (d / "ca" / "serial").write_text("1000\n")
        (d / "ca.cnf").write_text(CA_CNF.format(dir=d / "ca"))
        sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
           "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "3", "-subj",
           "/CN=gatehouse ocsp test CA", "-addext", "basicConstraints=critical,CA:TRUE",
           "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
        for name in ("srv", "other"):
            sh("openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
               "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj",
               f"/CN={'localhost' if name == 'srv' else 'other.localhost'}", cwd=d)
            sh("openssl", "ca", "-batch", "-config", "ca.cnf", "-extensions", "srv", "-cert",
               "ca.crt", "-keyfile", "ca.key", "-in", f"{name}.csr", "-out", f"{name}.crt", cwd=d)
        (d / "srv-chain.crt").write_text((d / "srv.crt").read_text() + (d / "ca.crt").read_text())

    def respond(self, out, cert="srv.crt", validity=("-ndays", "1")):
        """Writes the CA's OCSP response for cert into out (atomically, as a
        refresh job would)."""
        sh("openssl", "ocsp", "-issuer", "ca.crt", "-cert", cert, "-reqout", "req.der",
           "-no_nonce", cwd=self.d)
        tmp = Path(str(out) + ".tmp")
        sh("openssl", "ocsp", "-index", "ca/index.txt", "-rsigner", "ca.crt", "-rkey", "ca.key",
           "-CA", "ca.crt", "-reqin", "req.der", "-respout", str(tmp), *validity, cwd=self.d)
        tmp.rename(out)

    def revoke(self, cert="srv.crt"):
        sh("openssl", "ca", "-config", "ca.cnf", "-cert", "ca.crt", "-keyfile", "ca.key",
           "-revoke", cert, cwd=self.d)


@pytest.fixture
def pki(tmp_path):
    return OcspPki(tmp_path / "pki")


def s_client_status(port, *extra):
    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername",
                        "localhost", "-status", *extra], input="", capture_output=True,
                       text=True, timeout=20)
    out = r.stdout + r.stderr
    assert "Verify return code" in out or "SSL handshake" in out or "Cipher" in out, out
    return out


def staple_status(out):
    """'good' / 'revoked' / ... or None when nothing was stapled."""
    if "OCSP response: no response sent" in out:
        return None
    m = re.search(r"Cert Status: (\w+)", out)
    assert m, f"no OCSP section in s_client output:\n{out}"
    return m.group(1)


def start(gatehouse, backend, pki, resp, **keys):
    be = backend(backends.Echo)
    return gatehouse(be, cert=str(pki.d / "srv-chain.crt"), key=str(pki.d / "srv.key"),
                     ocsp=str(resp), **keys)


@pytest.mark.parametrize("version", ["-tls1_3", "-tls1_2"])
def test_staples_a_good_response(gatehouse, backend, pki, tmp_path, version):
    resp = tmp_path / "srv.ocsp"
    pki.respond(resp)
    gh = start(gatehouse, backend, pki, resp)
    out = s_client_status(gh.port, version)
    assert staple_status(out) == "good", out
    assert "OCSP Response Status: successful" in out


@pytest.mark.timeout_s(60)
def test_a_refreshed_file_is_picked_up(gatehouse, backend, pki, tmp_path):
    resp = tmp_path / "srv.ocsp"
    pki.respond(resp)
    gh = start(gatehouse, backend, pki, resp)
    assert staple_status(s_client_status(gh.port)) == "good"
    pki.revoke()
    mark = gh.mark()
    pki.respond(resp)
    gh.wait_event("ocsp_changed", since=mark, timeout=25)
    gh.wait_event("reloaded", since=mark, timeout=5)
    assert staple_status(s_client_status(gh.port)) == "revoked"


def test_a_response_for_another_certificate_is_not_stapled(gatehouse, backend, pki, tmp_path):
    resp = tmp_path / "other.ocsp"
    pki.respond(resp, cert="other.crt")
    gh = start(gatehouse, backend, pki, resp)
    out = s_client_status(gh.port)
    assert staple_status(out) is None, out
    # the handshake itself still works
    assert "Cipher is" in out or "Cipher    :" in out


@pytest.mark.timeout_s(150)
def test_an_expired_response_is_never_stapled(gatehouse, backend, pki, tmp_path):
    """A response valid for one minute: stapled while valid, not after."""
    resp = tmp_path / "srv.ocsp"
    pki.respond(resp, validity=("-nmin", "1"))
    gh = start(gatehouse, backend, pki, resp)
    assert staple_status(s_client_status(gh.port)) == "good"
    time.sleep(65)
    out = s_client_status(gh.port)
    assert staple_status(out) is None, out


def test_config_errors(tmp_path, pki, gatehouse_bin):
    resp = tmp_path / "srv.ocsp"
    pki.respond(resp)
    cases = [
        ({"cert": pki.d / "srv-chain.crt", "ocsp": tmp_path / "missing.ocsp"}, "ocsp", "missing.ocsp"),
        ({"cert": pki.d / "srv.crt", "ocsp": resp}, "ocsp", "issuer"),
        ({"cert": pki.d / "srv-chain.crt", "ocsp": resp, "client_ca": pki.d / "ca.crt"},
         "ocsp", "client_ca"),
    ]
    for keys, key, text in cases:
        ini = tmp_path / "bad.ini"
        opts = {"listen": f"127.0.0.1:{ghutil.free_port()}", "backend": "127.0.0.1:1",
                "key": str(pki.d / "srv.key")}
        opts.update({k: str(v) for k, v in keys.items()})
        ini.write_text(ghutil.render_ini({}, {"l": opts}))
        r = ghutil.run_gatehouse(["-t", "-c", str(ini)])
        assert r.returncode != 0, r.stdout
        line = next(i for i, l in enumerate(ini.read_text().splitlines(), 1)
                    if l.startswith(f"{key} ="))
        assert re.search(rf"{re.escape(str(ini))}:{line}: {key}: .*{re.escape(text)}", r.stderr), \
            r.stderr
