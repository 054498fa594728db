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

The hub's trials, on gevent, written as looplet's (benchmarks/src/hub-trials.ts);
the driver is the main greenlet:

    hub-event     1000 greenlets loop on event.wait(); an iteration is
                  event.set(); event.clear() and a wait on a second Event that
                  the last waiter to wake sets; ns per woken waiter
    hub-queue     a producer greenlet puts into a Queue(1) without end, the
                  main greenlet gets; ns per item
    hub-sleepers  `count` greenlets spawned at once, each gevent.sleep(sleepMs)
                  once, then joinall: wall time, and VmRSS growth per sleeper
                  read by the last to start; `rounds` rounds in this process

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
HUB_EVENT_WAITERS = 1000  # protocol.ts HUB_EVENT_WAITERS
HUB_QUEUE_SIZE = 1  # protocol.ts HUB_QUEUE_SIZE


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

    run.close = lambda: None
    run.ops_per_sample = 1
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

    if kind == "hub-event":
        return gevent_event_runner()
    if kind == "hub-queue":
        return gevent_queue_runner()
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


def gevent_event_runner():
    # Every waiter loops on event.wait(); set() wakes all of them even though
    # clear() follows at once; the last to wake sets `done`, so when the
    # driver resumes every waiter waits on `event` again.
    import gevent
    from gevent.event import Event

    event = Event()
    done = Event()
    woken = [0]

    def waiter():
        while True:
            event.wait()
            woken[0] += 1
            if woken[0] == HUB_EVENT_WAITERS:
                done.set()

    waiters = [gevent.spawn(waiter) for _ in range(HUB_EVENT_WAITERS)]
    gevent.sleep(0)  # every waiter starts and waits

    def op_block(k):
        for _ in range(k):
            woken[0] = 0
            done.clear()
            event.set()
            event.clear()
            done.wait()
            if woken[0] != HUB_EVENT_WAITERS:
                raise RuntimeError("hub-event: %d of %d waiters woke" % (woken[0], HUB_EVENT_WAITERS))

    # Calibrated on whole iterations (K iterations per block, as the Node
    # worker does); timed() divides the samples by the waiters.
    run = block_runner(op_block)
    run.ops_per_sample = HUB_EVENT_WAITERS
    run.close = lambda: gevent.killall(waiters)
    return run


def gevent_queue_runner():
    # The producer never stops; the main greenlet is the consumer.
    import gevent
    from gevent.queue import Queue

    queue = Queue(HUB_QUEUE_SIZE)

    def producer():
        i = 0
        while True:
            queue.put(i)
            i += 1

    task = gevent.spawn(producer)
    get = queue.get
    expected = [0]

    def op_block(k):
        n = expected[0]
        for _ in range(k):
            if get() != n:
                raise RuntimeError("hub-queue: an item came out of order")
            n += 1
        expected[0] = n

    run = block_runner(op_block)
    run.close = task.kill
    return run


def uses_gevent(kind):
    return kind.startswith("gevent-") or kind.startswith("hub-")


def timed(trial):
    kind = trial["kind"]
    run = gevent_runner(kind) if uses_gevent(kind) else greenlet_runner(kind)
    k = warm_and_calibrate(run, trial["blockUs"] * 1e3, trial["warmupMs"])
    per_iteration = 2 if kind in ("switch", "ring") else run.ops_per_sample
    cpu0 = time.process_time_ns()
    samples = [ns / run.ops_per_sample for ns in run(trial["blocks"], k)]
    cpu_us = (time.process_time_ns() - cpu0) / 1e3
    run.close()
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


def reset_peak_rss():
    """Resets VmHWM to the current RSS (Linux 4.0+); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_kib():
    try:
        with open("/proc/self/status") as f:
            m = re.search(r"^VmHWM:\s+(\d+)\s+kB", f.read(), re.M)
        return int(m.group(1)) if m else None
    except OSError:
        return None


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


def sleepers_round(count, sleep_s):
    import gevent

    state = {"started": 0, "finished": 0, "reading": None}

    def sleeper():
        state["started"] += 1
        if state["started"] == count:
            state["reading"] = (rss_kib()[0], state["started"] - state["finished"])
        gevent.sleep(sleep_s)
        state["finished"] += 1

    peak_reset = reset_peak_rss()
    before, _ = rss_kib()
    t0 = now_ns()
    jobs = [gevent.spawn(sleeper) for _ in range(count)]
    gevent.joinall(jobs)
    wall_ms = (now_ns() - t0) / 1e6
    peak = peak_rss_kib() if peak_reset else None
    if state["finished"] != count or state["reading"] is None or not all(j.successful() for j in jobs):
        raise RuntimeError("hub-sleepers: %d of %d sleepers finished" % (state["finished"], count))
    kib, asleep = state["reading"]
    return {
        "wallMs": wall_ms,
        "rssBeforeKiB": before,
        "rssAsleepKiB": kib,
        "asleep": asleep,
        "kibPerSleeper": (kib - before) / count,
        "rssPeakKiB": peak,
        "peakKibPerSleeper": None if peak is None else (peak - before) / count,
    }


def sleepers(trial):
    import gevent

    gevent.sleep(0)  # the hub exists before the first reading
    rounds = []
    for _ in range(trial["rounds"]):
        gc.collect()
        rounds.append(sleepers_round(trial["count"], trial["sleepMs"] / 1000))
    return {
        "ok": True,
        "count": trial["count"],
        "sleepMs": trial["sleepMs"],
        "rssSource": rss_kib()[1],
        "rounds": rounds,
    }


def versions(kind):
    out = {"python": platform.python_version()}
    import greenlet

    out["greenlet"] = greenlet.__version__
    if uses_gevent(kind):
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
        out = rss(trial) if kind == "rss" else sleepers(trial) if kind == "hub-sleepers" else timed(trial)
        out["versions"] = found
    sys.stdout.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
