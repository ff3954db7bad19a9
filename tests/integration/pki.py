"""A throwaway PKI for the TLS feature tests (test_tls_features.py), made
with the openssl CLI in a directory given by the caller (a session tmp dir).

Server side (one CA, "gatehouse test server CA"):
  default      ECDSA P-256, SAN DNS:localhost, IP:127.0.0.1  (the listener's cert/key)
  a_ec         ECDSA P-256, SAN DNS:a.example, DNS:www.a.example
  a_rsa        RSA-2048,    SAN DNS:a.example, DNS:www.a.example
  w_ec         ECDSA P-256, SAN DNS:*.w.example
  badchain     a leaf signed by intermediate 1, in a chain file that holds
               intermediate 2 instead (does not verify)
Client side (CA "gatehouse test client CA", issued with `openssl ca` so a
CRL can revoke one):
  client-ok       CN client-ok, O Example Org, SAN URI
                  spiffe://example.org/ns/prod/sa/api, DNS api.internal and
                  DNS api.prod.example
  client-other    CN other
  client-revoked  CN client-revoked, revoked in client-ca.crl
  client-space    CN "Client Space" (a CN with a space in it)
  client-future   CN client-future, not valid before 2099
  stranger        CN client-ok, but issued by an unrelated CA
  client-leaf     CN client-leaf, issued by an intermediate of the client CA
                  (client-leaf-chain.crt: leaf + intermediate)
OCSP: default.ocsp, a good DER OCSP response for the default certificate,
signed by the server CA.

Every certificate is a SimpleNamespace with crt, key, (chain), der,
sha256 (hex of the DER), subject_rfc4514, serial (lower-case hex).
"""

import hashlib
import ssl
import subprocess
from pathlib import Path
from types import SimpleNamespace

SPIFFE = "spiffe://example.org/ns/prod/sa/api"


def openssl(*args, cwd, input=None):
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True,
                       timeout=60, input=input)
    if r.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(map(str, args))} failed:\n{r.stderr}")
    return r.stdout


def _newkey(kind):
    return (["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] if kind == "ec"
            else ["-newkey", "rsa:2048"])


def _self_signed_ca(d, name, cn):
    openssl("req", "-x509", *_newkey("ec"), "-nodes", "-keyout", f"{name}.key",
            "-out", f"{name}.crt", "-days", "3", "-sha256", "-subj", f"/CN={cn}",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)


def _sign(d, name, kind, subj, ext_lines, ca, days="3", utf8=False):
    """A leaf (or intermediate) signed with `openssl x509 -req`; utf8: the
    subject's bytes are UTF-8 (openssl req -utf8), not Latin-1."""
    (d / f"{name}.ext").write_text("\n".join(ext_lines) + "\n")
    openssl("req", "-new", *_newkey(kind), "-nodes", "-keyout", f"{name}.key",
            "-out", f"{name}.csr", "-subj", subj, *(["-utf8"] if utf8 else []), cwd=d)
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
            "-CAcreateserial", "-days", days, "-sha256", "-extfile", f"{name}.ext",
            "-out", f"{name}.crt", cwd=d)


def _server_leaf(d, name, kind, cn, san, ca="server-ca"):
    ku = "digitalSignature" if kind == "ec" else "digitalSignature, keyEncipherment"
    _sign(d, name, kind, f"/CN={cn}",
          ["basicConstraints = critical, CA:FALSE", f"keyUsage = critical, {ku}",
           "extendedKeyUsage = serverAuth", f"subjectAltName = {san}"], ca)
    (d / f"{name}-chain.crt").write_text((d / f"{name}.crt").read_text() +
                                        (d / f"{ca}.crt").read_text())


def describe(d, name, key=None, chain=None):
    crt = d / f"{name}.crt"
    der = ssl.PEM_cert_to_DER_cert(crt.read_text())
    subject = openssl("x509", "-in", str(crt), "-noout", "-subject", "-nameopt", "RFC2253",
                      cwd=d).strip()
    assert subject.startswith("subject=")
    serial = openssl("x509", "-in", str(crt), "-noout", "-serial", cwd=d).strip()
    fp = openssl("x509", "-in", str(crt), "-noout", "-fingerprint", "-sha256", cwd=d).strip()
    # "sha256 Fingerprint=AB:CD:..." -> "abcd..."
    fp_hex = fp.split("=", 1)[1].replace(":", "").lower()
    assert fp_hex == hashlib.sha256(der).hexdigest()
    return SimpleNamespace(
        name=name, crt=crt, key=key or d / f"{name}.key",
        chain=chain or (d / f"{name}-chain.crt" if (d / f"{name}-chain.crt").exists() else crt),
        der=der, sha256=fp_hex, subject_rfc4514=subject[len("subject="):],
        serial=serial.split("=", 1)[1].lower())


CA_CNF = """\
[ ca ]
default_ca = client_ca
[ client_ca ]
dir = {dir}
database = $dir/index.txt
new_certs_dir = $dir/newcerts
serial = $dir/serial
crlnumber = $dir/crlnumber
certificate = $dir/client-ca.crt
private_key = $dir/client-ca.key
default_md = sha256
default_days = 3
default_crl_days = 3
policy = anything
unique_subject = no
copy_extensions = none
[ anything ]
commonName = supplied
organizationName = optional
[ client_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
"""


def _client(d, cnf, name, subj, extra_ext=(), startdate=None, enddate=None):
    section = f"ext_{name.replace('-', '_')}"
    with open(cnf, "a") as f:
        f.write(f"[ {section} ]\n"
                "basicConstraints = critical, CA:FALSE\n"
                "keyUsage = critical, digitalSignature\n"
                "extendedKeyUsage = clientAuth\n")
        for line in extra_ext:
            f.write(line + "\n")
    openssl("req", "-new", *_newkey("ec"), "-nodes", "-keyout", f"{name}.key",
            "-out", f"{name}.csr", "-subj", subj, cwd=d)
    args = ["ca", "-batch", "-config", str(cnf), "-extensions", section, "-in", f"{name}.csr",
            "-out", f"{name}.crt", "-notext"]
    if startdate:
        args += ["-startdate", startdate]
    if enddate:
        args += ["-enddate", enddate]
    openssl(*args, cwd=d)


def make_pki(d):
    d = Path(d)
    # ---- server side
    _self_signed_ca(d, "server-ca", "gatehouse test server CA")
    _server_leaf(d, "default", "ec", "gatehouse default", "DNS:localhost, IP:127.0.0.1")
    _server_leaf(d, "a_ec", "ec", "a.example", "DNS:a.example, DNS:www.a.example")
    _server_leaf(d, "a_rsa", "rsa", "a.example", "DNS:a.example, DNS:www.a.example")
    _server_leaf(d, "w_ec", "ec", "*.w.example", "DNS:*.w.example")
    # an RSA certificate for localhost too, for RSA-only clients without SNI
    _server_leaf(d, "default_rsa", "rsa", "gatehouse default rsa", "DNS:localhost, IP:127.0.0.1")
    # two intermediates; the leaf is signed by the first, its chain file
    # carries the second
    ica = ["basicConstraints = critical, CA:TRUE", "keyUsage = critical, keyCertSign, cRLSign"]
    _sign(d, "inter1", "ec", "/CN=gatehouse test intermediate 1", ica, "server-ca")
    _sign(d, "inter2", "ec", "/CN=gatehouse test intermediate 2", ica, "server-ca")
    _server_leaf(d, "badchain", "ec", "badchain.example", "DNS:badchain.example", ca="inter1")
    (d / "badchain-wrong-chain.crt").write_text((d / "badchain.crt").read_text() +
                                               (d / "inter2.crt").read_text())
    (d / "badchain-good-chain.crt").write_text((d / "badchain.crt").read_text() +
                                              (d / "inter1.crt").read_text())

    # ---- client side
    _self_signed_ca(d, "client-ca", "gatehouse test client CA")
    (d / "newcerts").mkdir()
    (d / "index.txt").write_text("")
    (d / "serial").write_text("1001\n")
    (d / "crlnumber").write_text("01\n")
    cnf = d / "client-ca.cnf"
    cnf.write_text(CA_CNF.format(dir=d))
    _client(d, cnf, "client-ok", "/O=Example Org/CN=client-ok",
            [f"subjectAltName = URI:{SPIFFE}, DNS:api.internal, DNS:api.prod.example"])
    _client(d, cnf, "client-other", "/CN=other")
    _client(d, cnf, "client-revoked", "/CN=client-revoked")
    _client(d, cnf, "client-space", "/CN=Client Space")
    _client(d, cnf, "client-future", "/CN=client-future",
            startdate="20990101000000Z", enddate="20991231000000Z")
    openssl("ca", "-batch", "-config", str(cnf), "-revoke", "client-revoked.crt", cwd=d)
    openssl("ca", "-batch", "-config", str(cnf), "-gencrl", "-crldays", "3",
            "-out", "client-ca.crl", cwd=d)
    # an unrelated CA issuing a certificate with the same CN as client-ok
    _self_signed_ca(d, "stranger-ca", "gatehouse unrelated CA")
    _sign(d, "stranger", "ec", "/O=Example Org/CN=client-ok",
          ["basicConstraints = critical, CA:FALSE", "keyUsage = critical, digitalSignature",
           "extendedKeyUsage = clientAuth", f"subjectAltName = URI:{SPIFFE}"], "stranger-ca")

    # a client certificate under an intermediate of the client CA
    ica = ["basicConstraints = critical, CA:TRUE", "keyUsage = critical, keyCertSign, cRLSign"]
    _sign(d, "client-inter", "ec", "/CN=gatehouse test client intermediate", ica, "client-ca")
    _sign(d, "client-leaf", "ec", "/CN=client-leaf",
          ["basicConstraints = critical, CA:FALSE", "keyUsage = critical, digitalSignature",
           "extendedKeyUsage = clientAuth", "subjectAltName = URI:spiffe://example.org/leaf"],
          "client-inter")
    (d / "client-leaf-chain.crt").write_text((d / "client-leaf.crt").read_text() +
                                            (d / "client-inter.crt").read_text())

    # identity headers (test_http_identity.py): subjects that differ only in
    # a non-ASCII letter, one over GH_CERT_INFO_NAME_MAX (512) bytes, and
    # several URI SANs, one with a comma in it
    leaf = ["basicConstraints = critical, CA:FALSE", "keyUsage = critical, digitalSignature",
            "extendedKeyUsage = clientAuth"]
    _sign(d, "client-utf8-a", "ec", "/O=Example Org/CN=caf\u00e9", leaf, "client-ca", utf8=True)
    _sign(d, "client-utf8-b", "ec", "/O=Example Org/CN=caf\u00e8", leaf, "client-ca", utf8=True)
    _sign(d, "client-long", "ec",
          "".join(f"/OU={i}{'u' * 60}" for i in range(9)) + "/CN=client-long", leaf, "client-ca")
    _sign(d, "client-uris", "ec", "/CN=client-uris",
          leaf + ["subjectAltName = @uris", "[ uris ]", "URI.1 = spiffe://example.org/first",
                  "URI.2 = https://example.org/a,b", "URI.3 = spiffe://example.org/third"],
          "client-ca")

    # an OCSP response for the default certificate ("good"), signed by the CA
    serial = openssl("x509", "-in", "default.crt", "-noout", "-serial", cwd=d).strip()
    serial = serial.split("=", 1)[1]
    subj = openssl("x509", "-in", "default.crt", "-noout", "-subject", "-nameopt", "compat",
                   cwd=d).strip().split("=", 1)[1].strip()
    (d / "server-index.txt").write_text(f"V\t491231235959Z\t\t{serial}\tunknown\t{subj}\n")
    openssl("ocsp", "-issuer", "server-ca.crt", "-cert", "default.crt", "-no_nonce",
            "-reqout", "default.ocspreq", cwd=d)
    openssl("ocsp", "-index", "server-index.txt", "-rsigner", "server-ca.crt", "-rkey",
            "server-ca.key", "-CA", "server-ca.crt", "-reqin", "default.ocspreq",
            "-respout", "default.ocsp", "-ndays", "3", cwd=d)

    # a key that matches none of the certificates
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-out", "unmatched.key", cwd=d)

    return SimpleNamespace(
        dir=d,
        server_ca=d / "server-ca.crt",
        client_ca=d / "client-ca.crt",
        crl=d / "client-ca.crl",
        default=describe(d, "default"),
        default_rsa=describe(d, "default_rsa"),
        a_ec=describe(d, "a_ec"),
        a_rsa=describe(d, "a_rsa"),
        w_ec=describe(d, "w_ec"),
        badchain=describe(d, "badchain", chain=d / "badchain-wrong-chain.crt"),
        badchain_good=d / "badchain-good-chain.crt",
        client_ok=describe(d, "client-ok"),
        client_other=describe(d, "client-other"),
        client_revoked=describe(d, "client-revoked"),
        client_space=describe(d, "client-space"),
        client_future=describe(d, "client-future"),
        stranger=describe(d, "stranger"),
        client_leaf=describe(d, "client-leaf", chain=d / "client-leaf-chain.crt"),
        client_utf8_a=describe(d, "client-utf8-a"),
        client_utf8_b=describe(d, "client-utf8-b"),
        client_long=describe(d, "client-long"),
        client_uris=describe(d, "client-uris"),
        ocsp=d / "default.ocsp",
        unmatched_key=d / "unmatched.key",
    )
