#!/usr/bin/env python3
"""Python peer of `looplet bench poller`: the standard library's selectors.

    python3 benchmarks/poller_selectors.py '<trial JSON>'

Takes the same trial as the Node worker (benchmarks/src/protocol.ts) and
prints one JSON object on stdout, measured the same way: N socketpairs, one
end of each registered for EVENT_READ, `active` peers holding one unread byte;
blocks of K calls of selector.select(0), K chosen so that a block lasts about
blockUs; warm-up and calibration first; samples are the mean ns per call per
block. Then longBatches long batches of longCalls calls (fewer where they would
take longer than longMaxMs at the blocks' median), each timed as one span, so
that whatever the calls cost in garbage collection is inside their mean.
A churn trial times register / modify / unregister of every fd per op.
Standard library only (selectors, socket, resource).
"""
import json
import math
import platform
import selectors
import socket
import sys
import time

try:
    import resource
except ImportError:  # not on every platform
    resource = None

SELECTORS = {
    "epoll": "EpollSelector",
    "kqueue": "KqueueSelector",
    "poll": "PollSelector",
    "select": "SelectSelector",
}
FD_SETSIZE = 1024
now_ns = time.perf_counter_ns


def raise_nofile_limit():
    if resource is None:
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass


def socketpairs(n):
    pairs = []
    for _ in range(n):
        a, b = socket.socketpair()
        a.setblocking(False)
        b.setblocking(False)
        pairs.append((a, b))
    return pairs


def active_indexes(n, active):
    return [int((j + 0.5) * n / active) for j in range(active)]


def warm_and_calibrate(run, target_ns, warmup_ms):
    end = now_ns() + int(warmup_ms * 1e6)
    k = 1
    while True:
        per_call = max(run(1, k)[0], 1.0)
        k = min(max(1, round(target_ns / per_call)), 10_000_000)
        if now_ns() >= end:
            return k


def median(values):
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def long_batch_calls(ns_per_call, max_calls, max_ms):
    """max_calls, or fewer where that many would take longer than max_ms (at least 1)."""
    return max(1, min(max_calls, int(max_ms * 1e6 // max(ns_per_call, 1.0))))


def run_select(trial, selector_cls):
    n, active = trial["n"], trial["active"]
    pairs = socketpairs(n)
    fds = [a.fileno() for a, _ in pairs]
    if trial["backend"] == "select" and max(fds) >= FD_SETSIZE:
        return {"ok": False, "reason": "registered fds reach %d, not below FD_SETSIZE" % max(fds)}
    for i in active_indexes(n, active):
        pairs[i][1].send(b"\x01")
    sel = selector_cls()
    for fd in fds:
        sel.register(fd, selectors.EVENT_READ)
    got = len(sel.select(0))
    if got != active:
        raise RuntimeError("select(0) reported %d ready fds, expected %d" % (got, active))

    select = sel.select

    def run(blocks, k):
        out = []
        for _ in range(blocks):
            t0 = now_ns()
            for _ in range(k):
                select(0)
            out.append((now_ns() - t0) / k)
        return out

    k = warm_and_calibrate(run, trial["blockUs"] * 1e3, trial["warmupMs"])
    samples = run(trial["blocks"], k)
    calls = long_batch_calls(median(samples), trial["longCalls"], trial["longMaxMs"])
    long_ns = [run(1, calls)[0] for _ in range(trial["longBatches"])]
    sel.close()
    return {"ok": True, "js": samples, "k": {"js": k}, "long": {"js": {"calls": calls, "ns": long_ns}}}


def run_churn(trial, selector_cls):
    n = trial["n"]
    pairs = socketpairs(n)  # keep the socket objects alive: they close their fds when collected
    fds = [a.fileno() for a, _ in pairs]
    if trial["backend"] == "select" and max(fds) >= FD_SETSIZE:
        return {"ok": False, "reason": "registered fds reach %d, not below FD_SETSIZE" % max(fds)}
    rounds = max(1, math.ceil(trial["minOpsPerSample"] / n))
    sel = selector_cls()
    read, both = selectors.EVENT_READ, selectors.EVENT_READ | selectors.EVENT_WRITE

    def sample():
        reg = mod = unreg = 0
        for _ in range(rounds):
            t0 = now_ns()
            for fd in fds:
                sel.register(fd, read)
            t1 = now_ns()
            for fd in fds:
                sel.modify(fd, both)
            t2 = now_ns()
            for fd in fds:
                sel.unregister(fd)
            t3 = now_ns()
            reg += t1 - t0
            mod += t2 - t1
            unreg += t3 - t2
        ops = rounds * n
        return reg / ops, mod / ops, unreg / ops

    end = now_ns() + int(trial["warmupMs"] * 1e6)
    while True:
        sample()
        if now_ns() >= end:
            break
    phases = [[], [], []]
    for _ in range(trial["samples"]):
        for i, v in enumerate(sample()):
            phases[i].append(v)
    sel.close()
    return {"ok": True, "js": phases, "roundsPerSample": rounds}


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    trial = json.loads(sys.argv[1])
    selector_cls = getattr(selectors, SELECTORS.get(trial["backend"], ""), None)
    if selector_cls is None:
        out = {"ok": False, "reason": "selectors has no selector for %s here" % trial["backend"]}
    else:
        raise_nofile_limit()
        run = run_select if trial["kind"] == "select" else run_churn
        out = run(trial, selector_cls)
    out["python"] = platform.python_version()
    sys.stdout.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
