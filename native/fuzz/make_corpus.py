#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_core (native/fuzz/corpus/): op sequences
that reach the paths random bytes find slowly - fds closed while a dup keeps
their file open, numbers reused, select with a closed fd, one-shot and
edge-triggered registrations, the hub - as a starting point for mutation.
The encoding is fuzz_core.cc's: one op byte (op % 16; bit 7 picks poller 1),
then its argument bytes."""
import os

PAIR, PIPE, DEVNULL, CLOSE, DUP, DUP2, WRITE, READ, SHUT = range(9)
ADD, MOD, DEL, WAIT, CHECK, NEWP, HUB = range(9, 16)
LAST_CLOSED, OTHER_FD, OWN_FD, NOT_OPEN = 0xF3, 0xF2, 0xF4, 0xF1
EPOLL, POLL, SELECT = 0, 1, 2  # fuzz_core's kBackends (0: the default)
R, W, RW, ONESHOT, EDGE = 1, 2, 3, 4, 8


def p1(op):
    return op | 0x80


def stale(count):
    """A live readable fd, then `count` fds registered, made readable, kept
    open by a dup, closed and removed (epoll left-overs); pool: [live, peer,
    dup, peer, dup, peer, ...]."""
    ops = [NEWP, EPOLL, PAIR, ADD, 0, R, WRITE, 1, 1]
    for i in range(count):
        n = 2 + 2 * i  # the new pair lands at n, n + 1
        ops += [PAIR, ADD, n, R, WRITE, n + 1, 1, DUP, n, CLOSE, n, DEL, LAST_CLOSED]
    return ops + [WAIT, 2, WAIT, 8, CHECK]


SEEDS = {
    'stale-reregister': [NEWP, EPOLL, PAIR, PAIR, ADD, 2, R, WRITE, 3, 1, DUP, 2, CLOSE, 2,
                         DEL, LAST_CLOSED, PAIR, ADD, 4, R, WAIT, 8, CHECK],
    'stale-many': stale(12),
    'modify-after-dup2': [NEWP, EPOLL, PAIR, PAIR, ADD, 0, R, DUP, 0, WRITE, 1, 5, DUP2, 2, 0,
                          MOD, 0, RW, WAIT, 8, WAIT, 8, CHECK],
    'closed-registered': [NEWP, EPOLL, p1(NEWP), SELECT, PAIR, PAIR, ADD, 0, RW, p1(ADD), 0, RW,
                          p1(ADD), 2, R, WRITE, 3, 1, DUP, 0, CLOSE, 0, WAIT, 8, p1(WAIT), 8,
                          p1(DEL), LAST_CLOSED, DEL, LAST_CLOSED, WAIT, 8, p1(WAIT), 8, CHECK,
                          p1(CHECK)],
    'poll-select-closed': [p1(NEWP), POLL, NEWP, SELECT, PAIR, PAIR, ADD, 0, RW, ADD, 2, R,
                           p1(ADD), 0, RW, p1(ADD), 2, R, WRITE, 3, 1, CLOSE, 0, WAIT, 1, WAIT,
                           8, p1(WAIT), 8, CHECK, p1(CHECK)],
    'oneshot-edge': [NEWP, EPOLL, PAIR, PIPE, ADD, 0, R | ONESHOT, ADD, 2, R | EDGE, WRITE, 1, 3,
                     WRITE, 3, 3, WAIT, 8, WAIT, 8, MOD, 0, R | ONESHOT, WAIT, 8, READ, 2, 1,
                     WRITE, 3, 1, WAIT, 8, CHECK],
    'devnull-and-pollers': [DEVNULL, PAIR, ADD, 0, RW, ADD, OWN_FD, R, p1(NEWP), POLL,
                            p1(ADD), 0, RW, p1(ADD), OTHER_FD, R, p1(ADD), NOT_OPEN, R,
                            p1(WAIT), 8, NEWP, EPOLL, p1(WAIT), 8, p1(CHECK)],
    'shutdown-hup': [NEWP, EPOLL, PAIR, ADD, 0, RW, SHUT, 1, 1, WAIT, 8, CLOSE, 1, WAIT, 8,
                     MOD, 0, R, WAIT, 8, CHECK],
    'hub': [PAIR, PAIR, HUB, 0, EPOLL, HUB, 1, 0, 0, 0, 1, HUB, 1, 1, 2, 1, 2, WRITE, 1, 3,
            HUB, 3, HUB, 3, HUB, 7, 1, HUB, 3, HUB, 5, 0, HUB, 3, HUB, 6, 1, HUB, 3, HUB, 3],
    'hub-poll-close': [PAIR, HUB, 0, POLL, HUB, 1, 0, 0, 2, 2, HUB, 1, 1, 0, 0, 2, HUB, 3,
                       CLOSE, 0, HUB, 3, HUB, 3, HUB, 0, SELECT, HUB, 1, 2, 0, 2, 0, HUB, 3],
}


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus')
    os.makedirs(out, exist_ok=True)
    for name, ops in SEEDS.items():
        with open(os.path.join(out, name), 'wb') as f:
            f.write(bytes(ops))


if __name__ == '__main__':
    main()
