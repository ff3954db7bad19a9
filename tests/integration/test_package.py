"""The Debian package from scripts/build-deb.sh: lintian has no error or
warning, the control data is what Debian expects (Depends from the linked
libraries, wolfSSL static, conffiles, md5sums), and the package installs,
checks a config, serves a TLS round trip from /usr/sbin/gatehouse, and
removes cleanly.

The package's meson build dir is cached across runs (GH_DEB_BUILD_DIR,
default /tmp/gatehouse-deb-build-HASH, one per source tree): wolfSSL compiles once (about 25 s on
an idle 2-core machine), later builds take seconds.

Installing needs root (CI runs as root on a throwaway machine): run as
another user, the install test fails rather than skips."""

import os
import re
import subprocess
from pathlib import Path

import pytest

import backends
import ghutil
from ghutil import REPO, recv_exact, scaled, tls_connect

PKG = "gatehouse"
BUILD_DEB = REPO / "scripts" / "build-deb.sh"


def run(cmd, timeout=60, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=scaled(timeout), **kw)


@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    out = tmp_path_factory.mktemp("deb")
    r = run([str(BUILD_DEB), str(out)], timeout=150)
    assert r.returncode == 0, f"build-deb.sh failed:\n{r.stdout}\n{r.stderr}"
    path = Path(r.stdout.strip().splitlines()[-1])
    assert path.is_file() and path.suffix == ".deb", r.stdout
    return path


def field(deb, name):
    r = run(["dpkg-deb", "-f", str(deb), name])
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


@pytest.mark.timeout_s(200)
def test_lintian_is_clean(deb):
    r = run(["lintian", "--allow-root", str(deb)], timeout=120)
    bad = [line for line in r.stdout.splitlines() if re.match(r"^[EW]: ", line)]
    assert not bad, "lintian:\n" + r.stdout
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.timeout_s(200)
def test_control_data(deb):
    depends = field(deb, "Depends")
    for lib in ("libc6", "libev4", "libinih1"):
        assert lib in depends, depends
    assert "wolfssl" not in depends, f"wolfSSL is to be linked statically: {depends}"
    assert field(deb, "Package") == PKG
    listing = run(["dpkg-deb", "-I", str(deb), "conffiles"])
    assert listing.stdout.split() == ["/etc/gatehouse/gatehouse.ini",
                                      "/etc/logrotate.d/gatehouse"], listing.stdout
    contents = run(["dpkg-deb", "-c", str(deb)]).stdout
    for path in ("./usr/sbin/gatehouse", "./usr/bin/gatehouse-audit",
                 "./usr/bin/gatehouse-crypto-speed",
                 "./usr/share/man/man8/gatehouse.8.gz",
                 "./usr/share/man/man5/gatehouse.ini.5.gz",
                 "./usr/share/man/man1/gatehouse-audit.1.gz",
                 "./usr/share/doc/gatehouse/copyright",
                 "./usr/share/doc/gatehouse/changelog.Debian.gz"):
        assert re.search(r"\s" + re.escape(path) + r"$", contents, re.M), f"{path} not packaged"
    owners = {line.split()[1] for line in contents.splitlines()}
    assert owners == {"root/root"}, owners


@pytest.mark.timeout_s(240)
def test_install_check_serve_remove(deb, monkeypatch, gatehouse, backend, certs, tmp_path):
    if os.geteuid() != 0:
        pytest.fail("installing the package needs root (CI runs as root)")
    st = run(["dpkg-query", "-W", "-f=${Status}", PKG])
    assert "installed" not in st.stdout, \
        f"a {PKG} package is installed already: not replacing it ({st.stdout})"
    try:
        r = run(["dpkg", "-i", str(deb)], timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        # files as the md5sums say
        v = run(["dpkg", "--verify", PKG])
        assert v.returncode == 0 and v.stdout == "", v.stdout + v.stderr
        # stripped: no symbol table left
        sect = run(["readelf", "-S", "/usr/sbin/gatehouse"]).stdout
        assert ".text" in sect and ".symtab" not in sect
        w = run(["man", "-w", "gatehouse.ini"])
        assert w.stdout.strip() == "/usr/share/man/man5/gatehouse.ini.5.gz", w.stdout + w.stderr
        ver = run(["/usr/sbin/gatehouse", "-V"])
        assert ver.returncode == 0 and "wolfSSL" in ver.stdout + ver.stderr, ver

        # the installed binary, on a test config (the example names certificates
        # that only an operator has)
        monkeypatch.setattr(ghutil, "GATEHOUSE_BIN", "/usr/sbin/gatehouse")
        echo = backend(backends.Echo)
        gh = gatehouse(echo)
        assert Path(f"/proc/{gh.pid}/exe").resolve() == Path("/usr/sbin/gatehouse")
        chk = run(["/usr/sbin/gatehouse", "-t", "-c", str(gh.ini_path)])
        assert chk.returncode == 0, chk.stdout + chk.stderr
        with tls_connect(gh.port, ghutil.client_context(certs.ca)) as s:
            s.sendall(b"through the package\n")
            assert recv_exact(s, 20) == b"through the package\n"
        gh.stop()
        assert gh.proc.returncode == 0, gh.text()
    finally:
        rm = run(["dpkg", "--purge", PKG], timeout=120)
    assert rm.returncode == 0, rm.stdout + rm.stderr
    assert not Path("/usr/sbin/gatehouse").exists()
    assert not Path("/etc/gatehouse").exists()
