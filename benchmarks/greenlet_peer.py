#!/usr/bin/env python3
"""Python peer of `looplet bench greenlet`: python-greenlet and gevent.

    python3 benchmarks/greenlet_peer.py '<trial JSON>'

Takes the same trials as the Node worker (benchmarks/src/protocol.ts,
GreenletTrial) and prints one JSON object on stdout, measured the same way:
operations timed in blocks of K, K chosen during a warm-up so that a block
lasts about blockUs; samples are the mean ns per operation of each block.

    switch        ping-pong between the main greenlet and one greenlet looping
                  main.switch(); ns per switch (a round trip is 2 switches)
    ring          main switches to each of 100 greenlets in turn, each switches
                  straight back (a hub's pattern); ns per switch
    spawn         greenlet(f).switch() with a trivial f: create, run, finish
    gevent-spawn  gevent.spawn(f).join()
    gevent-sleep  gevent.sleep(0): a yield to the hub and back
    rss           VmRSS before and after creating `count` greenlets, each
                  suspended by one switch (stackSize does not apply)

A trial whose module does not import answers {"ok": false, "reason": ...}.
Needs python-greenlet (and gevent for the gevent trials); Debian:
apt-get install python3-greenlet python3-gevent.
"""
import gc
import json
import platform
import re
import sys
import time

now_ns = time.perf_counter_ns
RING_SIZE = 100  # benchmarks/src/protocol.ts RING_SIZE


def warm_and_calibrate(run, target_ns, warmup_ms):
    end = now_ns() + int(warmup_ms * 1e6)
    k = 1
    while True:
        per_call = max(run(1, k)[0], 1.0)
        k = min(max(1, round(target_ns / per_call)), 10_000_000)
        if now_ns() >= end:
            return k


def block_runner(op_block, ops_per_iteration=1):
    """A runner over op_block(k), which performs k iterations."""

    def run(blocks, k):
        out = []
        for _ in range(blocks):
            t0 = now_ns()
            op_block(k)
            out.append((now_ns() - t0) / k / ops_per_iteration)
        return out

    return run


def trivial():
    return 1


def greenlet_runner(kind):
    from greenlet import getcurrent, greenlet

    if kind == "switch":
        main = getcurrent()

        def loop():
            while True:
                main.switch()

        partner = greenlet(loop)
        partner.switch()
        switch = partner.switch

        def op_block(k):
            for _ in range(k):
                switch()

        return block_runner(op_block, 2)

    if kind == "ring":
        main = getcurrent()

        def back():
            while True:
                main.switch()

        ring = [greenlet(back) for _ in range(RING_SIZE)]
        for g in ring:
            g.switch()
        state = {"next": 0}

        def op_block(k):
            i = state["next"]
            for _ in range(k):
                ring[i].switch()
                i = i + 1 if i + 1 < RING_SIZE else 0
            state["next"] = i

        return block_runner(op_block, 2)

    def op_block(k):
        for _ in range(k):
            greenlet(trivial).switch()

    return block_runner(op_block)


def gevent_runner(kind):
    import gevent

    if kind == "gevent-spawn":
        spawn = gevent.spawn

        def op_block(k):
            for _ in range(k):
                spawn(trivial).join()

    else:
        sleep = gevent.sleep

        def op_block(k):
            for _ in range(k):
                sleep(0)

    return block_runner(op_block)


def timed(trial):
    kind = trial["kind"]
    run = gevent_runner(kind) if kind.startswith("gevent-") else greenlet_runner(kind)
    k = warm_and_calibrate(run, trial["blockUs"] * 1e3, trial["warmupMs"])
    per_iteration = 2 if kind in ("switch", "ring") else 1
    cpu0 = time.process_time_ns()
    samples = run(trial["blocks"], k)
    cpu_us = (time.process_time_ns() - cpu0) / 1e3
    ops = trial["blocks"] * k * per_iteration
    return {"ok": True, "samples": samples, "k": k * per_iteration, "cpuUsPerOp": cpu_us / ops}


def rss_kib():
    try:
        with open("/proc/self/status") as f:
            m = re.search(r"^VmRSS:\s+(\d+)\s+kB", f.read(), re.M)
        if m:
            return int(m.group(1)), "/proc/self/status VmRSS"
    except OSError:
        pass
    import resource  # no /proc: the peak is the best there is

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return (peak // 1024 if sys.platform == "darwin" else peak), "getrusage ru_maxrss (peak)"


def rss(trial):
    from greenlet import getcurrent, greenlet

    main = getcurrent()

    def suspend():
        main.switch()

    greenlet(trivial).switch()
    count = trial["count"]
    held = [None] * count
    gc.collect()
    before, source = rss_kib()
    t0 = now_ns()
    for i in range(count):
        g = greenlet(suspend)
        g.switch()
        held[i] = g
    create_us = (now_ns() - t0) / count / 1e3
    gc.collect()
    after, _ = rss_kib()
    if not all(held):  # a greenlet is true while started and not dead
        raise RuntimeError("a greenlet is not suspended")
    return {
        "ok": True,
        "count": count,
        "stackSize": trial.get("stackSize"),
        "rssBeforeKiB": before,
        "rssAfterKiB": after,
        "rssSource": source,
        "createUs": create_us,
    }


def versions(kind):
    out = {"python": platform.python_version()}
    import greenlet

    out["greenlet"] = greenlet.__version__
    if kind.startswith("gevent-"):
        import gevent

        out["gevent"] = gevent.__version__
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    trial = json.loads(sys.argv[1])
    kind = trial["kind"]
    try:
        found = versions(kind)
    except ImportError as e:
        out = {"ok": False, "reason": "%s does not import: %s" % (e.name or "a module", e)}
    else:
        out = rss(trial) if kind == "rss" else timed(trial)
        out["versions"] = found
    sys.stdout.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
