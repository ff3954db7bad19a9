"""Where a TLS session may resume (issue 11, item 5).

wolfSSL keeps TLS 1.2 session IDs in one cache per process: a session made
on a listener that allows CHACHA20 resumed on one that allows only
AES-256-GCM, and survived a SIGHUP that took CHACHA20 away. Every session
now resumes only where the listener's name and TLS policy are the same: not
on another listener, not after a reload that changed the policy; still after
a reload that changed nothing TLS-related. Tickets (TLS 1.2 tickets, TLS 1.3
PSKs) are encrypted under keys derived with that scope; session IDs carry a
session ID context derived from it, which wolfSSL compares on the server's
lookup only with gatehouse's patch (subprojects/wolfssl/patches/0001-*).

Python's ssl client: OP_NO_TICKET for session-ID resumption, tickets
otherwise; session_reused says what the server did. The session cache is
one per process: session-ID tests run one worker, so that the second
connection meets the process that made the session."""

import signal
import ssl

import pytest

import backends
from ghutil import scaled, wait_until
from test_tls_features import be, cctx, connect, echo, ghs, pki  # noqa: F401 (fixtures)

ONE_WORKER = {"workers": 1}   # wolfSSL's session cache is one per process

CHACHA = "ECDHE-ECDSA-CHACHA20-POLY1305"
AES256 = "ECDHE-ECDSA-AES256-GCM-SHA384"
AES128 = "ECDHE-ECDSA-AES128-GCM-SHA256"


def tls12(pki, tickets):
    ctx = cctx(pki, min_v=ssl.TLSVersion.TLSv1_2, max_v=ssl.TLSVersion.TLSv1_2,
               ciphers=f"{CHACHA}:{AES256}:{AES128}")
    if not tickets:
        ctx.options |= ssl.OP_NO_TICKET
    return ctx


def tls13(pki):
    return cctx(pki, min_v=ssl.TLSVersion.TLSv1_3)


def handshake(port, ctx, session=None):
    """(session to resume with, reused?, cipher name) of one connection."""
    with connect(port, ctx, session=session) as s:
        echo(s)                       # a TLS 1.3 ticket arrives before the echo
        return s.session, s.session_reused, s.cipher()[0]


def reload(gh, ini_edit):
    ini_edit(gh)
    mark = gh.mark()
    gh.send_signal(signal.SIGHUP)
    gh.wait_event("reloaded", since=mark, timeout=scaled(10))


def replace_in_ini(gh, old, new):
    text = gh.ini_path.read_text()
    assert old in text, text
    gh.ini_path.write_text(text.replace(old, new))


# ================================================== across listeners


def test_tls12_session_id_resumes_on_its_listener(ghs, be, pki):
    """A TLS 1.2 client without tickets (older Java, embedded stacks)
    resumes by session ID where the session was made."""
    gh = ghs({"main": {"backend": be(backends.Echo), "ciphers": f"{CHACHA}:{AES256}"}},
             global_opts=ONE_WORKER)
    ctx = tls12(pki, tickets=False)
    sess, reused, cipher = handshake(gh.port, ctx)
    assert not reused and cipher == CHACHA
    assert sess.has_ticket is False and len(sess.id) == 32, "no session ID to resume with"
    for _ in range(2):
        _, reused, cipher = handshake(gh.port, ctx, sess)
        assert reused, "a TLS 1.2 session ID did not resume on the listener that made it"
        assert cipher == CHACHA
    wait_until(lambda: len(gh.audit.where("tls_ok", resumed=True)) == 2, scaled(5),
               what="two resumed tls_ok entries")


@pytest.mark.parametrize("tickets", [False, True], ids=["session_id", "ticket"])
def test_tls12_session_does_not_cross_listeners(ghs, be, pki, tickets):
    echo_be = be(backends.Echo)
    gh = ghs({"open": {"backend": echo_be, "ciphers": f"{CHACHA}:{AES256}"},
              "strict": {"backend": echo_be, "ciphers": AES256}}, global_opts=ONE_WORKER)
    ctx = tls12(pki, tickets)
    sess, reused, cipher = handshake(gh.ports["open"], ctx)
    assert not reused and cipher == CHACHA, cipher
    # not on the listener that forbids CHACHA20
    _, reused, cipher = handshake(gh.ports["strict"], ctx, sess)
    assert not reused, f"a {CHACHA} session resumed on a listener allowing only {AES256}"
    assert cipher == AES256
    # control: it resumes where it was made
    _, reused, cipher = handshake(gh.ports["open"], ctx, sess)
    assert reused and cipher == CHACHA


@pytest.mark.parametrize("other", [f"{CHACHA}:{AES256}", CHACHA], ids=["same_policy", "suite_allowed"])
def test_tls12_session_id_does_not_cross_listeners_allowing_its_suite(ghs, be, pki, other):
    """Only the session ID context keeps these apart: the other listener
    allows the session's suite, so wolfSSL's own suite check lets it pass
    (as it did before gatehouse's patch to CheckSessionMatch). A listener's
    name is part of its scope: the same policy under another name is
    another scope."""
    echo_be = be(backends.Echo)
    gh = ghs({"a": {"backend": echo_be, "ciphers": f"{CHACHA}:{AES256}"},
              "b": {"backend": echo_be, "ciphers": other}}, global_opts=ONE_WORKER)
    ctx = tls12(pki, tickets=False)
    sess, reused, cipher = handshake(gh.ports["a"], ctx)
    assert not reused and cipher == CHACHA
    _, reused, cipher = handshake(gh.ports["b"], ctx, sess)
    assert not reused, "a session ID made on listener a resumed on listener b"
    assert cipher == CHACHA
    _, reused, _ = handshake(gh.ports["a"], ctx, sess)
    assert reused, "control: the session ID did not resume where it was made"


def test_tls13_ticket_does_not_cross_listeners(ghs, be, pki):
    echo_be = be(backends.Echo)
    gh = ghs({"a": {"backend": echo_be}, "b": {"backend": echo_be,
                                               "ciphersuites": "TLS13-AES256-GCM-SHA384"}})
    ctx = tls13(pki)
    sess, _, _ = handshake(gh.ports["a"], ctx)
    assert handshake(gh.ports["a"], ctx, sess)[1], "control: no resumption at all"
    sess, _, _ = handshake(gh.ports["a"], ctx)
    assert not handshake(gh.ports["b"], ctx, sess)[1]


# ============================================================ reload


@pytest.mark.parametrize("tickets", [False, True], ids=["session_id", "ticket"])
def test_tls12_reload_tightening_ciphers_ends_sessions(ghs, be, pki, tickets):
    gh = ghs({"main": {"backend": be(backends.Echo), "ciphers": f"{CHACHA}:{AES256}"}},
             global_opts=ONE_WORKER)
    ctx = tls12(pki, tickets)
    sess, reused, cipher = handshake(gh.port, ctx)
    assert not reused and cipher == CHACHA
    assert handshake(gh.port, ctx, sess)[1], "control: no resumption before the reload"
    reload(gh, lambda g: replace_in_ini(g, f"ciphers = {CHACHA}:{AES256}",
                                        f"ciphers = {AES256}"))
    _, reused, cipher = handshake(gh.port, ctx, sess)
    assert not reused, f"a {CHACHA} session resumed after a reload that removed {CHACHA}"
    assert cipher == AES256


def test_tls12_reload_changing_ciphers_ends_session_ids(ghs, be, pki):
    """A reload that tightens `ciphers` but keeps the session's suite: only
    the scope (the session ID context) ends the session, wolfSSL's own
    suite check would let it resume."""
    gh = ghs({"main": {"backend": be(backends.Echo),
                       "ciphers": f"{CHACHA}:{AES256}:{AES128}"}}, global_opts=ONE_WORKER)
    ctx = tls12(pki, tickets=False)
    sess, reused, cipher = handshake(gh.port, ctx)
    assert not reused and cipher == CHACHA
    assert handshake(gh.port, ctx, sess)[1], "control: no resumption before the reload"
    reload(gh, lambda g: replace_in_ini(g, f"ciphers = {CHACHA}:{AES256}:{AES128}",
                                        f"ciphers = {CHACHA}:{AES256}"))
    _, reused, cipher = handshake(gh.port, ctx, sess)
    assert not reused, "a session ID resumed after a reload that changed the listener's ciphers"
    assert cipher == CHACHA


def test_tls13_reload_changing_policy_ends_tickets(ghs, be, pki):
    """Any TLS policy change ends the listener's sessions, not only a
    change of the suite the session used (wolfSSL checks that one itself)."""
    gh = ghs({"main": {"backend": be(backends.Echo), "tls_min_version": "1.2"}})
    ctx = tls13(pki)
    sess, _, cipher = handshake(gh.port, ctx)
    assert handshake(gh.port, ctx, sess)[1], "control: no resumption at all"
    sess, _, _ = handshake(gh.port, ctx)
    reload(gh, lambda g: replace_in_ini(g, "tls_min_version = 1.2", "tls_min_version = 1.3"))
    _, reused, cipher2 = handshake(gh.port, ctx, sess)
    assert not reused, "a TLS 1.3 ticket resumed after the listener's TLS policy changed"
    assert cipher2 == cipher


@pytest.mark.parametrize("kind", ["session_id", "ticket", "tls13"])
def test_reload_without_tls_change_keeps_sessions(ghs, be, pki, kind):
    gh = ghs({"main": {"backend": be(backends.Echo), "idle_timeout": "5m"}},
             global_opts=ONE_WORKER)
    ctx = tls13(pki) if kind == "tls13" else tls12(pki, tickets=kind == "ticket")
    sess, reused, _ = handshake(gh.port, ctx)
    assert not reused
    reload(gh, lambda g: replace_in_ini(g, "idle_timeout = 5m", "idle_timeout = 4m"))
    _, reused, _ = handshake(gh.port, ctx, sess)
    assert reused, "a reload that changed no TLS setting ended the session"
    wait_until(lambda: gh.audit.where("tls_ok", resumed=True), scaled(5),
               what="a resumed tls_ok")
