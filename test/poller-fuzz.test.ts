// Model-based random test of the Poller on every backend: random sequences of
// socketpair / write / read / close / dup2 (fd reuse) / register / modify /
// unregister / select(0), each select checked against a model of the files
// and of the README's contract for closed and reused fds:
//   - a registration whose number still names the file it watches reports
//     exactly that file's readiness within its interest (nothing hidden,
//     nothing extra), and a fired ONESHOT reports nothing until modify();
//   - a registration whose number was closed or dup2'ed over: poll and select
//     watch the number (a closed one is ready for its whole interest); epoll
//     may report the file it watched (while that file is open) or, after it
//     rebuilds its kernel set, a file the number named since, nothing else;
//   - an unregistered number is never reported;
//   - when select(0) reports nothing, the poller's own fd (epoll) is not
//     readable: nothing left over keeps waking a loop that watches it.
// Seeded and reproducible: a failure names its seed; LOOPLET_FUZZ_SEED=<n>
// replays one seed, LOOPLET_FUZZ_OPS=<n> changes the length of a run.
import * as fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { EVENT_READ, EVENT_WRITE, ONESHOT, Poller, sys, type Backend, type SelectorKey } from '../lib/index';
import { openFds, thrown } from './helpers';

const READ_WRITE = EVENT_READ | EVENT_WRITE;
const SEEDS = process.env.LOOPLET_FUZZ_SEED ? [Number(process.env.LOOPLET_FUZZ_SEED)] : [1, 2, 3, 4, 5, 6, 7, 8];
const OPS = Number(process.env.LOOPLET_FUZZ_OPS) > 0 ? Number(process.env.LOOPLET_FUZZ_OPS) : 1500;
const MAX_NUMBERS = 24;
// dup2 targets: numbers below FD_SETSIZE (select) that this process does not use.
const DUP2_RANGE = [700, 760];

/** mulberry32: a small, fast, seedable PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface File {
  id: number;
  peer: number;
  refs: number; // fd numbers that name it
  unread: number; // bytes the peer wrote that nobody read yet
}

interface Registration {
  key: SelectorKey<number>;
  // The file the number named at register / modify, then every file it has
  // named since: the ones epoll may be watching once the number moved.
  files: number[];
  moved: boolean; // the number was closed or dup2'ed over since register / modify
  disarmed: boolean; // a fired ONESHOT
}

class Run {
  readonly rand: () => number;
  readonly poller: Poller<number>;
  readonly outer: Poller | null; // watches poller.fileno() where there is one
  readonly files = new Map<number, File>();
  readonly numbers = new Map<number, number>(); // fd number -> file id
  readonly regs = new Map<number, Registration>();
  readonly log: string[] = [];
  readonly free: number[];
  nextFile = 1;
  nextData = 1;

  constructor(
    readonly backend: Backend,
    readonly seed: number,
  ) {
    this.rand = prng(seed);
    this.poller = new Poller<number>({ backend });
    this.outer = null;
    if (this.poller.fileno() >= 0) {
      this.outer = new Poller({ backend: 'poll' });
      this.outer.register(this.poller.fileno(), EVENT_READ);
    }
    const used = openFds();
    this.free = [];
    for (let fd = DUP2_RANGE[0]; fd < DUP2_RANGE[1]; fd++) if (!used.has(fd)) this.free.push(fd);
  }

  int(n: number): number {
    return Math.floor(this.rand() * n);
  }

  pick<T>(items: T[]): T | undefined {
    return items.length ? items[this.int(items.length)] : undefined;
  }

  where(): string {
    return `seed ${this.seed} (replay: LOOPLET_FUZZ_SEED=${this.seed}), ${this.backend}, after:\n  ${this.log.slice(-25).join('\n  ')}`;
  }

  isOpen(file: number): boolean {
    return (this.files.get(file)?.refs ?? 0) > 0;
  }

  readiness(file: number): number {
    const f = this.files.get(file)!;
    const peerGone = !this.isOpen(f.peer);
    return (f.unread > 0 || peerGone ? EVENT_READ : 0) | EVENT_WRITE;
  }

  // The number stops naming its file (close, or dup2 onto it).
  release(fd: number): void {
    const id = this.numbers.get(fd)!;
    this.numbers.delete(fd);
    this.files.get(id)!.refs--;
    const reg = this.regs.get(fd);
    if (reg) reg.moved = true;
  }

  // The number names a file again (a reused number, or a dup2 target).
  bind(fd: number, file: number): void {
    this.numbers.set(fd, file);
    this.files.get(file)!.refs++;
    const reg = this.regs.get(fd);
    if (reg) {
      reg.moved = true;
      reg.files.push(file);
    }
  }

  socketpair(): void {
    if (this.numbers.size >= MAX_NUMBERS) return;
    const [a, b] = sys.socketpair();
    const fa = { id: this.nextFile++, peer: 0, refs: 0, unread: 0 };
    const fb = { id: this.nextFile++, peer: fa.id, refs: 0, unread: 0 };
    fa.peer = fb.id;
    this.files.set(fa.id, fa).set(fb.id, fb);
    this.bind(a, fa.id);
    this.bind(b, fb.id);
    this.log.push(`socketpair -> ${a}, ${b}`);
  }

  close(): void {
    const fd = this.pick([...this.numbers.keys()]);
    if (fd === undefined) return;
    sys.close(fd);
    this.release(fd);
    if (fd >= DUP2_RANGE[0] && fd < DUP2_RANGE[1]) this.free.push(fd);
    this.log.push(`close ${fd}`);
  }

  dup2(): void {
    const from = this.pick([...this.numbers.keys()]);
    if (from === undefined) return;
    let to: number | undefined;
    const r = this.rand();
    if (r < 0.3) to = this.pick([...this.regs.keys()].filter((fd) => fd !== from && this.numbers.has(fd)));
    else if (r < 0.6) to = this.pick([...this.numbers.keys()].filter((fd) => fd !== from));
    if (to === undefined) {
      if (this.free.length === 0) return;
      to = this.free.splice(this.int(this.free.length), 1)[0];
    } else {
      this.release(to);
    }
    expect(sys.dup2(from, to), this.where()).toBe(to);
    this.bind(to, this.numbers.get(from)!);
    this.log.push(`dup2 ${from} -> ${to}`);
  }

  write(): void {
    const fd = this.pick([...this.numbers.keys()]);
    if (fd === undefined) return;
    const f = this.files.get(this.numbers.get(fd)!)!;
    const n = 1 + this.int(3);
    try {
      expect(fs.writeSync(fd, Buffer.alloc(n, 'w')), this.where()).toBe(n);
    } catch (err) {
      // The peer is closed: EPIPE. Anything else is a failure.
      expect({ code: (err as NodeJS.ErrnoException).code, peerOpen: this.isOpen(f.peer) }, this.where()).toEqual({
        code: 'EPIPE',
        peerOpen: false,
      });
      return;
    }
    expect(this.isOpen(f.peer), this.where()).toBe(true);
    this.files.get(f.peer)!.unread += n;
    this.log.push(`write ${fd} ${n}`);
  }

  read(): void {
    const fd = this.pick([...this.numbers.keys()]);
    if (fd === undefined) return;
    const f = this.files.get(this.numbers.get(fd)!)!;
    const buf = Buffer.alloc(256);
    let total = 0;
    for (;;) {
      try {
        const n = fs.readSync(fd, buf, 0, buf.length, null);
        if (n === 0) break;
        total += n;
      } catch (err) {
        // ECONNRESET: the peer was closed with data of ours unread; it comes
        // once, after the data queued for us.
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ECONNRESET' && !this.isOpen(f.peer)) continue;
        expect(code, this.where()).toBe('EAGAIN');
        break;
      }
    }
    expect(total, this.where()).toBe(f.unread);
    f.unread = 0;
    this.log.push(`read ${fd} ${total}`);
  }

  events(): number {
    return (1 + this.int(3)) | (this.rand() < 0.2 ? ONESHOT : 0);
  }

  register(): void {
    // Mostly open numbers; sometimes a registered one or a closed one.
    const fd = this.rand() < 0.8 ? this.pick([...this.numbers.keys()]) : this.pick([...this.regs.keys()]);
    if (fd === undefined) return;
    const events = this.events();
    const data = this.nextData++;
    this.log.push(`register ${fd} ${events}`);
    if (this.regs.has(fd)) {
      expect(thrown(() => this.poller.register(fd, events, data)).code, this.where()).toBe('ERR_LOOPLET_ALREADY_REGISTERED');
      return;
    }
    if (!this.numbers.has(fd)) {
      expect(thrown(() => this.poller.register(fd, events, data)).code, this.where()).toBe('EBADF');
      return;
    }
    const key = this.poller.register(fd, events, data);
    this.regs.set(fd, { key, files: [this.numbers.get(fd)!], moved: false, disarmed: false });
  }

  modify(): void {
    const fd = this.pick([...this.regs.keys()]);
    if (fd === undefined) return;
    const reg = this.regs.get(fd)!;
    const events = this.rand() < 0.3 ? reg.key.events : this.events();
    const data = this.nextData++;
    // Only a change of events, or the re-arming of a fired ONESHOT, reaches
    // the kernel (and then watches the file the number names now).
    const reachesKernel = events !== reg.key.events || reg.disarmed;
    this.log.push(`modify ${fd} ${events}`);
    let key: SelectorKey<number>;
    try {
      key = this.poller.modify(fd, events, data);
    } catch (err) {
      // epoll cannot modify a number that is closed (the kernel has no file
      // for it); the registration stays as it was.
      expect(
        { code: (err as NodeJS.ErrnoException).code, backend: this.backend, open: this.numbers.has(fd) },
        this.where(),
      ).toEqual({ code: 'EBADF', backend: 'epoll', open: false });
      expect(this.poller.getKey(fd), this.where()).toBe(reg.key);
      return;
    }
    reg.key = key;
    if (reachesKernel) {
      reg.disarmed = false;
      if (this.numbers.has(fd)) {
        reg.moved = false;
        reg.files = [this.numbers.get(fd)!];
      }
    }
  }

  unregister(): void {
    const fd = this.pick([...this.regs.keys()]);
    if (fd === undefined) return;
    const reg = this.regs.get(fd)!;
    expect(this.poller.unregister(fd), this.where()).toBe(reg.key);
    this.regs.delete(fd);
    this.log.push(`unregister ${fd}`);
  }

  /** [must, may]: the events that must and that may be reported for reg. */
  expected(fd: number, reg: Registration): [number, number] {
    const interest = reg.key.events & READ_WRITE;
    if (reg.disarmed) return [0, 0];
    if (!reg.moved) {
      const ready = this.readiness(reg.files[0]) & interest;
      return [ready, ready];
    }
    if (this.backend === 'poll' || this.backend === 'select') {
      const now = this.numbers.get(fd);
      const ready = now === undefined ? interest : this.readiness(now) & interest;
      return [ready, ready];
    }
    let may = 0;
    for (const file of reg.files) if (this.isOpen(file)) may |= this.readiness(file);
    return [0, may & interest];
  }

  select(): void {
    const ready = this.poller.select(0);
    this.log.push(`select -> ${JSON.stringify(ready.map(([key, ev]) => [key.fd, ev]))}`);
    const seen = new Set<number>();
    for (const [key, events] of ready) {
      const reg = this.regs.get(key.fd);
      expect(reg, `fd ${key.fd} reported but not registered; ${this.where()}`).toBeDefined();
      expect(key, this.where()).toBe(reg!.key);
      expect(seen.has(key.fd), `fd ${key.fd} reported twice; ${this.where()}`).toBe(false);
      seen.add(key.fd);
      const [, may] = this.expected(key.fd, reg!);
      expect(events !== 0 && (events & ~may) === 0, `fd ${key.fd}: ${events} reported, at most ${may} allowed; ${this.where()}`).toBe(true);
    }
    for (const [fd, reg] of this.regs) {
      const [must] = this.expected(fd, reg);
      const got = ready.find(([key]) => key.fd === fd)?.[1] ?? 0;
      expect((got & must) === must, `fd ${fd}: ${must} ready, ${got} reported; ${this.where()}`).toBe(true);
      if (got !== 0 && (reg.key.events & ONESHOT) !== 0) reg.disarmed = true;
    }
    if (ready.length === 0 && this.outer) {
      expect(this.outer.select(0), `the poller's fd is readable with nothing to report; ${this.where()}`).toEqual([]);
    }
  }

  step(): void {
    const r = this.rand();
    if (r < 0.1) this.socketpair();
    else if (r < 0.18) this.close();
    else if (r < 0.25) this.dup2();
    else if (r < 0.37) this.write();
    else if (r < 0.45) this.read();
    else if (r < 0.57) this.register();
    else if (r < 0.65) this.modify();
    else if (r < 0.72) this.unregister();
    else this.select();
  }

  dispose(): void {
    this.outer?.close();
    this.poller.close();
    for (const fd of this.numbers.keys()) sys.close(fd);
    this.numbers.clear();
  }
}

let current: Run | null = null;
afterEach(() => {
  current?.dispose();
  current = null;
});

describe.each(Poller.backends())('model-based random test with the %s backend', (backend) => {
  it.each(SEEDS)(`seed %i, ${OPS} operations`, (seed) => {
    const run = (current = new Run(backend, seed));
    for (let i = 0; i < 8; i++) run.socketpair();
    for (let i = 0; i < OPS; i++) run.step();
    run.select();
  });
});
