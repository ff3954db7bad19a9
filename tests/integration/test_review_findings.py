"""Findings of the outside review of the backend-reuse resend (commit
6b2fb92) and the memory give-back (commits 1575d0b, 4447aab).

Each test fails on the code before its fix."""

import time

import http_backends as hb
from ghutil import scaled
from test_http import HttpClient
from test_http_conformance import get, read_answers


def ctxt_switches(pid):
    """Voluntary context switches of every thread of pid: a process blocked
    in epoll_wait with nothing to do makes none."""
    total = 0
    import os
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/status") as f:
            for line in f:
                if line.startswith("voluntary_ctxt_switches:"):
                    total += int(line.split()[1])
    return total


def test_memory_timer_stops_on_an_idle_worker_with_open_connections(gatehouse, backend, ctx):
    """The memory timer (1 s) stops once the pools are at their floor and
    nothing closed during an interval. Two keep-alive connections stay
    open and idle, a third closes: the worker then has nothing to do and
    must block in epoll_wait. Before the fix the close count was only reset
    by a heap trim, which needs the worker to be "quieter" (half or fewer of
    its peak open): with 2 of a peak of 3 open it never was, and the timer
    woke the idle worker every second for as long as the two stayed open."""
    be = backend(hb.RecordingBackend)
    gh = gatehouse(be, mode="http", idle_timeout="5m")   # keepalive_timeout: 15 s
    stay = [HttpClient(gh.port, ctx), HttpClient(gh.port, ctx)]
    try:
        for c in stay:
            c.send(get("/keep"))
            assert read_answers(c, 1)[0].status == 200
        with HttpClient(gh.port, ctx) as c:
            c.send(get("/once"))
            assert read_answers(c, 1)[0].status == 200
        # the close starts the timer; let its intervals run their course
        # (pool shrink, then a quiet interval)
        time.sleep(scaled(4))
        before = ctxt_switches(gh.pid)
        time.sleep(scaled(3.5))
        woke = ctxt_switches(gh.pid) - before
        assert woke <= 1, f"idle worker woke {woke} times in {scaled(3.5):.1f} s"
    finally:
        for c in stay:
            c.close()
