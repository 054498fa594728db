#!/usr/bin/env python3
"""Embedding proof: CPython drives the looplet core through ctypes.

    python3 native/test/test_ctypes.py build-c/liblooplet.so

Loads the shared library (nothing but the C ABI of native/include/looplet.h),
then:
  - creates a poller, registers one end of a socketpair, sees it become
    readable (lp_poller_wait) with the data pointer it registered;
  - plugs lp_poller_fileno into Python's own event loop (selectors) and sees
    the poller's fd become readable there: the foreign-loop integration;
  - runs two C coroutines whose entry functions are Python callbacks
    (ctypes.CFUNCTYPE) and ping-pong values between them both ways, with
    greenlet's parent/return semantics;
  - drives a hub from a Python selectors loop (lp_poller_fileno of the hub's
    poller + lp_hub_timeout), with one hub coroutine (a Python callback) that
    sleeps on the hub's timer heap and then waits for a socket.

Python frames on coroutine stacks. CPython keeps per-thread interpreter state
that a stack switch does not save: since 3.11 Python frames live on a
per-thread stack of their own (datastack), pushed and popped in LIFO order.
python-greenlet saves and restores that state on every switch; a bare C
switch cannot. So this test keeps Python frames LIFO: a coroutine is created
inside the Python code that will outlive it, every switch is called directly
from the body of an entry function (never from a helper that returns while
the other side is suspended), and coroutines finish innermost first. That is
the rule for any interpreter that embeds lp_coro: either keep that order or
switch your own per-thread interpreter state along with the stack.
Prints TAP; exit status 0 when every check passed.
"""

import ctypes
import os
import selectors
import socket
import sys
import time

failures = []
checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        failures.append(what)
        print(f"#   FAIL {what}", flush=True)
    return cond


class Event(ctypes.Structure):
    _fields_ = [("fd", ctypes.c_int), ("events", ctypes.c_uint), ("data", ctypes.c_void_p)]


LP_EVENT_READ = 1
LP_EVENT_WRITE = 2
LP_CORO_INIT, LP_CORO_RUNNING, LP_CORO_SUSPENDED, LP_CORO_DEAD = 0, 1, 2, 3

CORO_FN = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)
HUB_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)


def load(path):
    lib = ctypes.CDLL(path)
    sigs = {
        "lp_version": (ctypes.c_uint, []),
        "lp_backend_name": (ctypes.c_char_p, [ctypes.c_int]),
        "lp_poller_new": (ctypes.c_int, [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int]),
        "lp_poller_free": (None, [ctypes.c_void_p]),
        "lp_poller_backend": (ctypes.c_int, [ctypes.c_void_p]),
        "lp_poller_fileno": (ctypes.c_int, [ctypes.c_void_p]),
        "lp_poller_add": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint, ctypes.c_void_p]),
        "lp_poller_del": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int]),
        "lp_poller_wait": (ctypes.c_int, [ctypes.c_void_p, ctypes.POINTER(Event), ctypes.c_int, ctypes.c_int]),
        "lp_coro_new": (ctypes.c_int, [ctypes.POINTER(ctypes.c_void_p), CORO_FN, ctypes.c_void_p, ctypes.c_size_t]),
        "lp_coro_free": (ctypes.c_int, [ctypes.c_void_p]),
        "lp_coro_switch": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)]),
        "lp_coro_current": (ctypes.c_void_p, []),
        "lp_coro_main": (ctypes.c_void_p, []),
        "lp_coro_status": (ctypes.c_int, [ctypes.c_void_p]),
        "lp_coro_parent": (ctypes.c_void_p, [ctypes.c_void_p]),
        "lp_coro_switch_impl": (ctypes.c_char_p, []),
        "lp_hub_new": (ctypes.c_int, [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int]),
        "lp_hub_free": (ctypes.c_int, [ctypes.c_void_p]),
        "lp_hub_poller": (ctypes.c_void_p, [ctypes.c_void_p]),
        "lp_hub_count": (ctypes.c_size_t, [ctypes.c_void_p]),
        "lp_hub_spawn": (ctypes.c_int, [ctypes.c_void_p, HUB_FN, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]),
        "lp_hub_sleep": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int]),
        "lp_hub_wait_fd": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint, ctypes.c_int]),
        "lp_hub_run_once": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int]),
        "lp_hub_timeout": (ctypes.c_int, [ctypes.c_void_p]),
    }
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args
    return lib


def test_poller_readable(lib):
    p = ctypes.c_void_p()
    check(lib.lp_poller_new(ctypes.byref(p), 0) == 0 and p.value, "lp_poller_new(default)")
    a, b = socket.socketpair()
    a.setblocking(False)
    events = (Event * 8)()
    try:
        check(lib.lp_poller_add(p, a.fileno(), LP_EVENT_READ, 0x1234) == 0, "lp_poller_add")
        check(lib.lp_poller_wait(p, events, 8, 0) == 0, "nothing ready before the write")
        b.send(b"x")
        n = lib.lp_poller_wait(p, events, 8, 1000)
        check(n == 1, f"one event after the write (got {n})")
        check(events[0].fd == a.fileno(), "the event names the registered fd")
        check(events[0].events == LP_EVENT_READ, "the fd is readable")
        check(events[0].data == 0x1234, "the data pointer comes back")
        check(lib.lp_poller_del(p, a.fileno()) == 0, "lp_poller_del")
    finally:
        lib.lp_poller_free(p)
        a.close()
        b.close()


def test_fileno_in_python_loop(lib):
    """The poller's own fd, watched by Python's event loop."""
    p = ctypes.c_void_p()
    check(lib.lp_poller_new(ctypes.byref(p), 0) == 0, "lp_poller_new")
    fd = lib.lp_poller_fileno(p)
    name = lib.lp_backend_name(lib.lp_poller_backend(p)).decode()
    if fd < 0:
        print(f"# lp_poller_fileno: none for {name}, foreign-loop check skipped")
        lib.lp_poller_free(p)
        return
    a, b = socket.socketpair()
    sel = selectors.DefaultSelector()
    events = (Event * 8)()
    try:
        sel.register(fd, selectors.EVENT_READ)
        check(lib.lp_poller_add(p, a.fileno(), LP_EVENT_READ, None) == 0, "lp_poller_add")
        check(sel.select(0) == [], f"{name} fd quiet while nothing is ready")
        b.send(b"x")
        ready = sel.select(1.0)
        check(len(ready) == 1 and ready[0][0].fd == fd, f"{name} fd readable in Python's selector")
        check(lib.lp_poller_wait(p, events, 8, 0) == 1 and events[0].fd == a.fileno(),
              "the event is harvested with a zero timeout")
    finally:
        sel.close()
        lib.lp_poller_free(p)
        a.close()
        b.close()


def test_coroutines_ping_pong(lib):
    rounds = 1000
    seen_a, seen_b, notes = [], [], {}
    coros = {}
    main_co = lib.lp_coro_current()
    check(main_co is not None and main_co == lib.lp_coro_main(), "main coroutine")

    def b_entry(self, value):
        # b's parent is a (a created it): its return value goes to a.
        notes["b_parent_is_a"] = lib.lp_coro_parent(self) == coros["a"]
        notes["b_running"] = lib.lp_coro_status(self) == LP_CORO_RUNNING
        got = ctypes.c_void_p()
        for _ in range(rounds):
            seen_b.append(value)
            lib.lp_coro_switch(coros["a"], value + 1, ctypes.byref(got))
            value = got.value
        return value + 1000

    def a_entry(self, value):
        notes["a_first_value"] = value
        b = ctypes.c_void_p()
        if lib.lp_coro_new(ctypes.byref(b), b_cb, None, 256 * 1024) != 0:
            return 0
        coros["b"] = b.value
        got = ctypes.c_void_p()
        for _ in range(rounds):
            lib.lp_coro_switch(coros["b"], value, ctypes.byref(got))
            seen_a.append(got.value)
            value = got.value + 1
        # One more switch: b leaves its loop and returns; that comes back here.
        lib.lp_coro_switch(coros["b"], value, ctypes.byref(got))
        notes["b_result"] = got.value
        notes["b_dead"] = lib.lp_coro_status(coros["b"]) == LP_CORO_DEAD
        return got.value + 1

    a_cb, b_cb = CORO_FN(a_entry), CORO_FN(b_entry)  # kept alive while they run
    a = ctypes.c_void_p()
    check(lib.lp_coro_new(ctypes.byref(a), a_cb, None, 256 * 1024) == 0, "lp_coro_new(a)")
    coros["a"] = a.value
    check(lib.lp_coro_status(a) == LP_CORO_INIT, "a not started")
    got = ctypes.c_void_p()
    t0 = time.perf_counter()
    check(lib.lp_coro_switch(a, 1, ctypes.byref(got)) == 0, "switch to a")
    dt = time.perf_counter() - t0
    check(notes.get("a_first_value") == 1, "a's entry got the first switch's value")
    check(notes.get("b_parent_is_a") is True, "b's parent is a")
    check(notes.get("b_running") is True, "b runs while it runs")
    # a sends 1, b answers 2, a sends 3, ...: every value crossed both ways.
    check(seen_b == list(range(1, 2 * rounds, 2)), "b saw a's values")
    check(seen_a == list(range(2, 2 * rounds + 1, 2)), "a saw b's values")
    check(notes.get("b_result") == 2 * rounds + 1 + 1000, "b's return value went to its parent a")
    check(notes.get("b_dead") is True, "b is dead after returning")
    check(got.value == 2 * rounds + 1 + 1000 + 1, "a's return value came back to main")
    check(lib.lp_coro_status(a) == LP_CORO_DEAD, "a is dead")
    check(lib.lp_coro_current() == main_co, "back on main")
    # A dead coroutine forwards a switch to its parent: here, main itself.
    check(lib.lp_coro_switch(a, 7, ctypes.byref(got)) == 0 and got.value == 7,
          "a switch to dead a comes back to main")
    check(lib.lp_coro_free(coros["b"]) == 0 and lib.lp_coro_free(a) == 0, "lp_coro_free")
    print(f"# {2 * rounds + 2} switches between Python callbacks on C stacks in {dt * 1e3:.1f} ms")


def test_hub_in_python_loop(lib):
    """A Python selectors loop drives a hub: fileno + lp_hub_timeout."""
    hub = ctypes.c_void_p()
    check(lib.lp_hub_new(ctypes.byref(hub), 0) == 0, "lp_hub_new")
    poller = lib.lp_hub_poller(hub)
    fd = lib.lp_poller_fileno(poller)
    if fd < 0:
        print("# no pollable hub fd here: hub-in-Python check skipped")
        lib.lp_hub_free(hub)
        return
    a, b = socket.socketpair()
    a.setblocking(False)
    result = {}

    def task(h, arg):
        t0 = time.monotonic()
        result["sleep"] = lib.lp_hub_sleep(h, 20)
        result["slept_ms"] = (time.monotonic() - t0) * 1e3
        result["wait"] = lib.lp_hub_wait_fd(h, a.fileno(), LP_EVENT_READ, 2000)
        result["data"] = a.recv(16)

    task_cb = HUB_FN(task)
    check(lib.lp_hub_spawn(hub, task_cb, None, 256 * 1024, None) == 0, "lp_hub_spawn")
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ)
    sent = False
    deadline = time.monotonic() + 5
    # The foreign loop: everything in this one frame until the hub is empty.
    while lib.lp_hub_count(hub) > 0 and time.monotonic() < deadline:
        if not sent and "slept_ms" in result:
            b.send(b"ping")  # the coroutine waits for this now
            sent = True
        timeout_ms = lib.lp_hub_timeout(hub)
        sel.select(None if timeout_ms < 0 else timeout_ms / 1000)
        lib.lp_hub_run_once(hub, 0)
    sel.close()
    check(lib.lp_hub_count(hub) == 0, "the hub coroutine finished")
    check(result.get("sleep") == 0 and result.get("slept_ms", 0) >= 19, "it slept on the hub's timer")
    check(result.get("wait") == LP_EVENT_READ, "lp_hub_wait_fd saw the socket readable")
    check(result.get("data") == b"ping", "and read what was sent")
    check(lib.lp_hub_free(hub) == 0, "lp_hub_free")
    a.close()
    b.close()


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "build-c", "liblooplet.so")
    try:
        lib = load(path)
    except OSError as err:
        print(f"1..0 # SKIP cannot load {path}: {err}")
        return 77
    v = lib.lp_version()
    print(f"# looplet {v >> 16}.{(v >> 8) & 255}.{v & 255} via ctypes from Python "
          f"{sys.version.split()[0]}; switch: {lib.lp_coro_switch_impl().decode()}")
    tests = [test_poller_readable, test_fileno_in_python_loop, test_coroutines_ping_pong,
             test_hub_in_python_loop]
    failed = 0
    for i, t in enumerate(tests, 1):
        before = len(failures)
        t(lib)
        ok = len(failures) == before
        failed += not ok
        print(f"{'ok' if ok else 'not ok'} {i} - {t.__name__}", flush=True)
    print(f"1..{len(tests)}\n# {len(tests) - failed} passed, {failed} failed ({checks} checks)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
