"""Memory after abuse (issue 12): a storm of bad and aborted handshakes
must not leave the worker bigger than it was once the storm is over, and a
second storm must not grow it further.

The storm, against a tcp and an http listener of one worker: random bytes,
truncated ClientHellos, SSLv3 / TLS 1.0 / TLS 1.1 / SSLv2-style hellos,
heartbeat records, records with impossible lengths, handshakes aborted at
random points (after the ClientHello, in the middle of the server's flight,
after Finished; closed or reset) and a burst of many connections open at
once, each holding a ClientHello or a half-done handshake.

Before the fix the worker kept every buffer the burst had taken (up to 1024
blocks of buffer_size per listener) and glibc kept the heap the aborted
wolfSSL sessions had grown: RSS stayed far above the baseline."""

import os
import random
import signal
import socket
import ssl
import struct
import threading
import time

import pytest

import backends
import http_backends
from ghutil import HOST, recv_exact, scaled, tls_connect, wait_until
from test_abuse import children_of

SANITIZED = os.environ.get("GATEHOUSE_SANITIZED") == "1"

# Counts of one storm. The reproduction used 10,000 aborted
# handshakes; the test uses fewer so that two storms fit in ~30 s on a
# shared 2-core machine: what matters for the pool and the heap is how many
# connections were open at once (BURST) and that many sessions were built
# and torn down, not the total. GATEHOUSE_STORM_ABORTS raises it.
ABORTS = int(os.environ.get("GATEHOUSE_STORM_ABORTS", "300" if SANITIZED else "1500"))
BURST = 200 if SANITIZED else 600
BAD_INPUTS = 40 if SANITIZED else 150     # per kind of bad input
STORM_THREADS = 4

# A listener's pool keeps this many free buffers however quiet it is
# (POOL_KEEP_BLOCKS in src/worker.c).
POOL_KEEP_BLOCKS = 4

# The worker frees a pooled buffer once it sat unused for a whole 1 s
# interval of its memory timer, so up to 2 s after the last close; the
# half second more is for the timer firing late on a loaded machine.
SETTLE_S = 2.5

# After a storm the worker's RSS must be back within 20% of the baseline
# (the bound). The second storm may not grow it beyond the first
# by more than SECOND_STORM_SLACK_KIB: glibc places the next storm's
# sessions at slightly different addresses, so a few pages of the heap top
# and of partly used pages stay resident differently from run to run
# (measured: within +-8 KiB); 256 KiB is 5% of a 5 MiB worker, well below
# the 1.4 MiB of the issue and far below one burst's pooled buffers (7+ MiB).
BASELINE_RATIO = 1.20
SECOND_STORM_SLACK_KIB = 256


# ------------------------------------------------------------ measuring

def worker_memory(pid):
    """VmRSS and the private dirty / anonymous figures of smaps_rollup, KiB."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                out["rss"] = int(line.split()[1])
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in ("Private_Dirty", "Anonymous"):
                    out[key.lower()] = int(rest.split()[0])
    except FileNotFoundError:
        pass
    return out


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def settle(gh, idle_fds):
    """Waits until the worker has closed every storm connection (its
    descriptor count is back to what it was idle), then SETTLE_S idle."""
    wait_until(lambda: open_fds(gh.pid) <= idle_fds, scaled(20), interval=0.1,
               what=f"the worker back to {idle_fds} descriptors")
    time.sleep(scaled(SETTLE_S))
    return worker_memory(gh.pid)


# ------------------------------------------------------------ the storm

def hello_from(ctx):
    """A real ClientHello from Python's TLS stack, as bytes on the wire."""
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def old_hello(record_version, client_version):
    """A ClientHello of an old protocol: no extensions, old suites."""
    suites = struct.pack("!5H", 0x002F, 0x0035, 0x000A, 0x0005, 0x0004)
    body = (struct.pack("!H", client_version) + os.urandom(32) + b"\x00" +
            struct.pack("!H", len(suites)) + suites + b"\x01\x00")
    hs = b"\x01" + struct.pack("!I", len(body))[1:] + body
    return b"\x16" + struct.pack("!HH", record_version, len(hs)) + hs


def sslv2_hello():
    """An SSLv2-compatible ClientHello (the 2-byte header with the top bit)."""
    specs = bytes.fromhex("010080 0700c0 030080 000035 00002f")
    challenge = os.urandom(16)
    body = b"\x01\x00\x02" + struct.pack("!HHH", len(specs), 0, len(challenge)) + specs + challenge
    return struct.pack("!H", 0x8000 | len(body)) + body


def heartbeat(length_claimed=0x4000):
    """A heartbeat request record claiming a payload it does not carry."""
    payload = b"\x01" + struct.pack("!H", length_claimed) + b"hb"
    return b"\x18\x03\x03" + struct.pack("!H", len(payload)) + payload


def bad_inputs(modern_hello, rng):
    """(name, bytes) of inputs that must each end in a refused handshake."""
    n = len(modern_hello)
    return [
        ("random", os.urandom(rng.randrange(1, 3000))),
        ("truncated_hello", modern_hello[:rng.randrange(1, n)]),
        ("sslv3", old_hello(0x0300, 0x0300)),
        ("tls10", old_hello(0x0301, 0x0301)),
        ("tls11", old_hello(0x0301, 0x0302)),
        ("sslv2", sslv2_hello()),
        ("heartbeat_first", heartbeat()),
        ("heartbeat_after_hello", modern_hello + heartbeat()),
        ("record_too_long", b"\x16\x03\x01\xff\xff" + os.urandom(rng.randrange(0, 2000))),
        ("record_over_limit", b"\x16\x03\x03\x48\x01" + os.urandom(600)),
        ("record_empty", b"\x16\x03\x03\x00\x00" * 3),
        ("handshake_length_lies", modern_hello[:5] + b"\x01\xff\xff\xff" + modern_hello[9:]),
        ("hello_then_garbage", modern_hello + os.urandom(rng.randrange(1, 500))),
    ]


def reset_close(sock):
    """Closes with a RST instead of a FIN, as an aborting client may."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def send_and_drop(port, data, rng):
    try:
        s = socket.create_connection((HOST, port), timeout=scaled(5))
    except OSError:
        return
    try:
        s.sendall(data)
        if rng.random() < 0.25:     # sometimes wait for the server's answer
            s.settimeout(0.1)
            try:
                s.recv(4096)
            except OSError:
                pass
    except OSError:
        pass
    finally:
        (reset_close if rng.random() < 0.5 else socket.socket.close)(s)


def aborted_handshake(port, ctx, rng):
    """One handshake abandoned after the ClientHello, during the server's
    flight, or after Finished."""
    point = rng.choice(("after_hello", "mid_handshake", "after_finished"))
    try:
        s = socket.create_connection((HOST, port), timeout=scaled(5))
    except OSError:
        return
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
    try:
        try:
            obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        s.sendall(out.read())
        if point == "after_hello":
            return
        if point == "mid_handshake":
            recv_exact(s, rng.randrange(1, 200))   # a part of the server's flight
            return
        while True:
            try:
                obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                data = out.read()
                if data:
                    s.sendall(data)
                chunk = s.recv(1 << 16)
                if not chunk:
                    return
                inc.write(chunk)
        s.sendall(out.read())   # the client's Finished
    except (OSError, ssl.SSLError, AssertionError):
        pass
    finally:
        (reset_close if rng.random() < 0.5 else socket.socket.close)(s)


def burst(port, ctx, hello, count):
    """count connections open at once, each with a ClientHello (whole or
    cut) in the worker, then all dropped."""
    held = []
    try:
        for i in range(count):
            try:
                s = socket.create_connection((HOST, port), timeout=scaled(5))
            except OSError:
                break
            held.append(s)
            try:
                s.sendall(hello if i % 2 else hello[: len(hello) // 2])
            except OSError:
                pass
        time.sleep(0.5)   # the worker reads them all and builds the sessions
    finally:
        for i, s in enumerate(held):
            (reset_close if i % 2 else socket.socket.close)(s)
    return len(held)


def storm(ports, ctx, seed):
    """One storm against every port; returns the number of burst connections."""
    rng = random.Random(seed)
    hello = hello_from(ctx)
    jobs = []
    for port in ports:
        for _ in range(BAD_INPUTS):
            for _, data in bad_inputs(hello, rng):
                jobs.append(("bad", port, data))
        for _ in range(ABORTS // len(ports)):
            jobs.append(("abort", port, None))
    rng.shuffle(jobs)
    lock = threading.Lock()

    def run(thread_seed):
        trng = random.Random(thread_seed)
        while True:
            with lock:
                if not jobs:
                    return
                kind, port, data = jobs.pop()
            if kind == "bad":
                send_and_drop(port, data, trng)
            else:
                aborted_handshake(port, ctx, trng)

    threads = [threading.Thread(target=run, args=(seed * 100 + i,), daemon=True)
               for i in range(STORM_THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=scaled(120))
    assert not any(t.is_alive() for t in threads), "storm threads did not finish"
    return sum(burst(port, ctx, hello, BURST // len(ports)) for port in ports)


# ------------------------------------------------------------ the test

def good_traffic(gh, ctx):
    """A few ordinary connections on each listener, every one answered."""
    for _ in range(3):
        with tls_connect(gh.ports["tcp"], ctx) as c:
            c.sendall(b"ping\n")
            assert recv_exact(c, 5) == b"ping\n"
        with tls_connect(gh.ports["web"], ctx) as c:
            c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            c.settimeout(scaled(5))
            head = c.recv(4096)
            assert head.startswith(b"HTTP/1.1 200"), head


def start_two_listeners(gatehouse, backend):
    echo = backend(backends.Echo)
    web = backend(http_backends.RecordingBackend)
    return gatehouse(listeners={"tcp": {"backend": echo},
                                "web": {"backend": web, "mode": "http"}})


def pools_given_back(gh, since):
    """Whether each listener's pool logged that it gave the burst's buffers
    back (nothing in use, no more than the floor kept): None, or what is
    wrong. These are gatehouse's own counters, so this holds under
    AddressSanitizer too, where RSS does not mean what it means otherwise."""
    for name in ("tcp", "web"):
        released = gh.events("buffers_released", since=since, listener=name)
        if not released:
            return f"listener {name} never logged buffers_released"
        last = released[-1]
        if int(last["in_use"]) != 0 or int(last["kept"]) > POOL_KEEP_BLOCKS:
            return f"listener {name} still holds buffers: {last}"
    return None


@pytest.mark.timeout_s(120)
def test_memory_returns_after_a_storm_of_bad_handshakes(gatehouse, backend, ctx):
    gh = start_two_listeners(gatehouse, backend)
    ports = [gh.ports["tcp"], gh.ports["web"]]
    good_traffic(gh, ctx)
    idle_fds = open_fds(gh.pid)
    base = settle(gh, idle_fds)

    pools = []
    for seed in (1, 2):
        held = storm(ports, ctx, seed=seed)
        # storm() returns just after the burst's closes: a pool frees those
        # buffers a whole timer interval later, so this mark is before that
        mark = gh.mark()
        assert held >= BURST * 9 // 10, f"only {held} of {BURST} burst connections opened"
        after = settle(gh, idle_fds)
        gh.assert_alive()
        pools.append(pools_given_back(gh, mark))
        good_traffic(gh, ctx)      # still serving
        if seed == 1:
            first = after
        else:
            second = after

    figures = f"baseline {base}, after storm 1 {first}, after storm 2 {second} (KiB)"
    print(figures)
    if not SANITIZED:
        # Under AddressSanitizer freed memory sits in its quarantine (256 MiB
        # by default) and every block carries redzones: RSS after a storm
        # says nothing about what gatehouse holds. What still holds there is
        # checked below: the worker survived, serves, closed every storm
        # connection (settle() waited for its descriptors) and its pools gave
        # their buffers back; LeakSanitizer checks at exit that nothing it
        # allocated was lost.
        assert first["rss"] <= base["rss"] * BASELINE_RATIO, \
            f"RSS after the storm is {first['rss'] / base['rss']:.0%} of the baseline: {figures}"
        assert second["rss"] <= base["rss"] * BASELINE_RATIO, \
            f"RSS after the second storm is {second['rss'] / base['rss']:.0%} of the baseline: " \
            f"{figures}"
        assert second["rss"] <= first["rss"] + SECOND_STORM_SLACK_KIB, \
            f"the second storm grew RSS by {second['rss'] - first['rss']} KiB: {figures}"
    assert pools == [None, None], f"after storm 1, 2: {pools}; log tail:\n{gh.tail()}"


# ------------------------------------------- replacement workers after reloads

@pytest.mark.timeout_s(90)
def test_replacement_worker_after_reloads_is_no_bigger(gatehouse, backend, ctx):
    """The soak (tests/soak) found workers started after a few reloads
    settling 1.4 MB above those started at launch: the supervisor loads
    each new configuration (certificates, TLS contexts) and frees the old
    one, glibc kept those pages, and a replacement forked from it started
    with them. The supervisor gives them back after each reload: its RSS
    and a replacement's stay within 20% of what they were at launch."""
    echo = backend(backends.Echo)
    gh = gatehouse(echo, global_opts={"workers": 2})
    wait_until(lambda: len(children_of(gh.pid)) == 2, scaled(5), what="two workers")
    time.sleep(1.2)                      # past the first start's fail-fast window
    launch_workers = children_of(gh.pid)
    supervisor_before = worker_memory(gh.pid)["rss"]
    worker_before = min(worker_memory(p)["rss"] for p in launch_workers)
    good = gh.ini_path.read_text()
    for i in range(8):
        mark = gh.mark()
        if i % 2:
            gh.ini_path.write_text(good + "bogus_key = 1\n")
            gh.send_signal(signal.SIGHUP)
            gh.wait_event("reload_failed", since=mark)
        else:
            gh.ini_path.write_text(good)
            gh.send_signal(signal.SIGHUP)
            gh.wait_event("reloaded", since=mark)
    gh.ini_path.write_text(good)
    time.sleep(0.5)                      # every process has handled the last one
    supervisor_after = worker_memory(gh.pid)["rss"]
    victim = min(launch_workers)
    os.kill(victim, signal.SIGKILL)
    wait_until(lambda: len(children_of(gh.pid) - launch_workers) == 1, scaled(10),
               what="a replacement worker")
    replacement = (children_of(gh.pid) - launch_workers).pop()
    time.sleep(1.0)                      # it has loaded and listens
    replacement_rss = worker_memory(replacement)["rss"]
    gh.assert_alive()
    print(f"supervisor {supervisor_before} -> {supervisor_after} KiB, "
          f"launch worker {worker_before} KiB, replacement {replacement_rss} KiB")
    # the replacement serves, with the configuration the reloads left
    with tls_connect(gh.port, ctx, timeout=scaled(5)) as s:
        s.sendall(b"ping\n")
        assert recv_exact(s, 5) == b"ping\n"
    # Under ASan its quarantine keeps freed memory resident: RSS says
    # nothing there, so only the plain build checks the figures (what still
    # holds under ASan, the reloads and a replacement that serves, is above).
    if not SANITIZED:
        assert supervisor_after <= supervisor_before * BASELINE_RATIO, \
            (supervisor_before, supervisor_after)
        assert replacement_rss <= worker_before * BASELINE_RATIO, (worker_before, replacement_rss)
