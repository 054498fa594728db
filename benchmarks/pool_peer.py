#!/usr/bin/env python3
"""Python peer of `looplet bench pool`: concurrent.futures.ThreadPoolExecutor
and gevent's threadpool (gevent.threadpool.ThreadPool).

    python3 benchmarks/pool_peer.py '<trial JSON>'

Takes the trials of benchmarks/src/pool-trial.ts (PoolTrial) with impl
"python-tpe" or "gevent" and prints one JSON object on stdout, measured the
way the Node trials are:

    serial      submit a no-op, wait for its result, repeat: p50/p99/mean us
    throughput  `inflight` tasks kept in flight for about `ms` milliseconds,
                the main thread (the main greenlet for gevent) submitting a new
                one as each completes: tasks/s and the main thread's CPU time
                (time.thread_time) per completed task
    speedup     `tasks` CPU-bound tasks on `threads` threads, all at once:
                wall ms, the best of 3 runs after a warm-up run. The task is hashlib.sha256 over `bytes` bytes, which
                releases the GIL (the FNV loop the Node trials run would hold
                it, and Python threads would not run it in parallel at all)

Tasks: noop; spin10 and spin100 busy-wait 10 / 100 us in Python, holding the
GIL, as a Python task does. A module that does not import answers
{"ok": false, "reason": ...}.
"""
import hashlib
import json
import math
import sys
import threading
import time


def noop():
    return None


def spin(us):
    end = time.perf_counter_ns() + int(us * 1000)
    n = 0
    while time.perf_counter_ns() < end:
        n += 1
    return n


def task_of(name):
    if name == 'noop':
        return noop, ()
    return spin, (10 if name == 'spin10' else 100,)


def percentile(sorted_values, q):
    n = len(sorted_values)
    return sorted_values[min(n - 1, max(0, math.ceil(q * n) - 1))]


def serial_summary(samples):
    samples.sort()
    n = len(samples)
    return {'p50': samples[n // 2], 'p99': percentile(samples, 0.99), 'mean': sum(samples) / n, 'n': n}


def measure(trial, call, start, semaphore, gather):
    """Runs one trial on a pool described by how it runs things:
    call(fn)                 runs fn() and waits for it
    start(fn, args, then)    runs fn(*args); then(_) is called once it is done
    semaphore(n)             a semaphore that then() may release
    gather(fn, arg, count)   runs count fn(arg) at once and waits for all
    """
    kind = trial['kind']
    if kind == 'serial':
        n = trial['n']
        for _ in range(min(2000, n)):
            call(noop)
        out = []
        for _ in range(n):
            t0 = time.perf_counter_ns()
            call(noop)
            out.append((time.perf_counter_ns() - t0) / 1000)
        return serial_summary(out)
    if kind == 'throughput':
        fn, args = task_of(trial['task'])

        def saturate(ms, inflight):
            sem = semaphore(inflight)
            release = lambda _done: sem.release()
            deadline = time.perf_counter() + ms / 1000
            sent = 0
            while time.perf_counter() < deadline:
                sem.acquire()
                start(fn, args, release)
                sent += 1
            for _ in range(inflight):
                sem.acquire()
            return sent

        saturate(trial['warmupMs'], trial['inflight'])
        cpu0 = time.thread_time()
        t0 = time.perf_counter()
        n = saturate(trial['ms'], trial['inflight'])
        secs = time.perf_counter() - t0
        cpu = time.thread_time() - cpu0
        return {'tasksPerSec': n / secs, 'mainCpuUs': cpu * 1e6 / n, 'n': n}
    if kind == 'speedup':
        data = bytes(trial['bytes'])
        run = lambda: gather(hashlib.sha256, data, trial['tasks'])
        run()
        best = float('inf')
        for _ in range(3):
            t0 = time.perf_counter()
            run()
            best = min(best, time.perf_counter() - t0)
        return {'ms': best * 1000}
    raise ValueError('unknown trial kind %r' % kind)


def tpe_trial(trial):
    """concurrent.futures.ThreadPoolExecutor."""
    from concurrent.futures import ThreadPoolExecutor
    ex = ThreadPoolExecutor(max_workers=trial['threads'])
    try:
        return measure(
            trial,
            call=lambda fn: ex.submit(fn).result(),
            start=lambda fn, args, then: ex.submit(fn, *args).add_done_callback(then),
            semaphore=threading.Semaphore,
            gather=lambda fn, arg, count: [f.result() for f in [ex.submit(fn, arg) for _ in range(count)]],
        )
    finally:
        ex.shutdown(wait=True)


def gevent_trial(trial):
    """gevent's threadpool, driven from the main greenlet."""
    from gevent.lock import Semaphore
    from gevent.threadpool import ThreadPool
    pool = ThreadPool(trial['threads'])
    try:
        return measure(
            trial,
            call=pool.apply,
            start=lambda fn, args, then: pool.spawn(fn, *args).rawlink(then),
            semaphore=Semaphore,
            gather=lambda fn, arg, count: [r.get() for r in [pool.spawn(fn, arg) for _ in range(count)]],
        )
    finally:
        pool.kill()


def main():
    trial = json.loads(sys.argv[1])
    impl = trial['impl']
    try:
        if impl == 'python-tpe':
            out = tpe_trial(trial)
        elif impl == 'gevent':
            try:
                import gevent  # noqa: F401
            except ImportError as e:
                print(json.dumps({'ok': False, 'reason': 'gevent does not import: %s' % e}))
                return
            out = gevent_trial(trial)
        else:
            raise ValueError('unknown impl %r' % impl)
    except ImportError as e:
        print(json.dumps({'ok': False, 'reason': str(e)}))
        return
    out['ok'] = True
    print(json.dumps(out))


if __name__ == '__main__':
    main()
