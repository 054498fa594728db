// Greenlets inside Node: timers, promises, nextTick, fs and net used from
// inside a greenlet, and greenlets switched from inside Node callbacks.
// Node's async-id stack must stay balanced: the scenarios that could end the
// process ("async hook stack has become corrupted") run in a child process.
import { spawnSync } from 'node:child_process';
import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Greenlet, asyncContextPerGreenlet, getcurrent } from '../lib/greenlet';
import { ensureDist, withTimeout } from './helpers';

const main = getcurrent();

/** Suspends the running greenlet until the callback given to register is called. */
function waitFor<T>(register: (resume: (value: T) => void) => void): T {
  const self = getcurrent();
  register((value) => self.switch(value));
  return main.switch() as T;
}

const sleep = (ms: number): string => waitFor((resume) => setTimeout(() => resume(`slept ${ms}`), ms));

/** Runs fn in a new greenlet started now; resolves with its return value once it finishes. */
function spawn<T>(fn: () => T): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const g = new Greenlet(() => {
      try {
        resolve(fn());
      } catch (err) {
        reject(err);
      }
    });
    g.switch();
  });
}

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const fn of cleanups.splice(0)) fn();
});

describe('Node APIs used from inside a greenlet', () => {
  it('fires a setTimeout scheduled inside a greenlet after the greenlet ended', async () => {
    let resolveFired!: (v: string) => void;
    const fired = new Promise<string>((resolve) => {
      resolveFired = resolve;
    });
    const g = new Greenlet(() => {
      setTimeout(() => resolveFired(`fired, greenlet dead: ${g.dead}`), 5);
      return 'scheduled';
    });
    expect(g.switch()).toBe('scheduled');
    expect(await withTimeout(fired, 5000, 'the timer')).toBe('fired, greenlet dead: true');
  });

  it('resumes greenlets from timer callbacks, each after its own delay', async () => {
    const started = Date.now();
    const done = Promise.all(
      [30, 10, 20].map((ms) =>
        spawn(() => {
          const woke = sleep(ms);
          return [woke, Date.now() - started >= ms - 1];
        }),
      ),
    );
    expect(await withTimeout(done, 5000, 'the sleepers')).toEqual([
      ['slept 30', true],
      ['slept 10', true],
      ['slept 20', true],
    ]);
  });

  it('resolves a promise resolved inside a greenlet, and runs its continuations', async () => {
    const log: string[] = [];
    const g = new Greenlet(() => {
      const p = new Promise<number>((resolve) => resolve(21)).then((v) => {
        log.push(`then in ${getcurrent() === main ? 'main' : 'greenlet'}`);
        return v * 2;
      });
      log.push('greenlet returns');
      return p;
    });
    const p = g.switch() as Promise<number>;
    expect(log).toEqual(['greenlet returns']);
    expect(await p).toBe(42);
    expect(log).toEqual(['greenlet returns', 'then in main']);
  });

  it('settles a promise made by one greenlet and resolved by another', async () => {
    let resolveIt!: (v: string) => void;
    const made = new Greenlet(() => new Promise<string>((resolve) => (resolveIt = resolve)));
    const promise = made.switch() as Promise<string>;
    const resolver = new Greenlet(() => {
      main.switch();
      resolveIt('resolved by the other greenlet');
    });
    resolver.switch();
    resolver.switch();
    expect(await promise).toBe('resolved by the other greenlet');
  });

  it('runs an async function started inside a greenlet to completion', async () => {
    async function work(n: number): Promise<number> {
      await null;
      await new Promise((resolve) => setTimeout(resolve, 2));
      return n + 1;
    }
    const p = new Greenlet(() => work(41)).switch() as Promise<number>;
    expect(await p).toBe(42);
  });

  it('waits for a promise inside a greenlet by switching out until it settles', async () => {
    const result = await spawn(() => {
      const value = waitFor<number>((resume) => {
        void new Promise<number>((resolve) => setTimeout(() => resolve(7), 2)).then(resume);
      });
      return value * 6;
    });
    expect(result).toBe(42);
  });

  it('runs process.nextTick and queueMicrotask callbacks scheduled inside a greenlet', async () => {
    const log: string[] = [];
    const g = new Greenlet(() => {
      process.nextTick(() => log.push('nextTick'));
      queueMicrotask(() => log.push('microtask'));
      log.push('greenlet');
    });
    g.switch();
    await new Promise((resolve) => setImmediate(resolve));
    expect(log.sort()).toEqual(['greenlet', 'microtask', 'nextTick']);

    const ticked = await spawn(() => waitFor<string>((resume) => process.nextTick(() => resume('resumed from nextTick'))));
    expect(ticked).toBe('resumed from nextTick');
  });

  it('uses synchronous fs inside a greenlet', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'looplet-greenlet-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'sync.txt');
    const g = new Greenlet(() => {
      fs.writeFileSync(file, 'written in a greenlet');
      main.switch();
      return fs.readFileSync(file, 'utf8');
    });
    g.switch();
    expect(fs.readFileSync(file, 'utf8')).toBe('written in a greenlet');
    fs.appendFileSync(file, ', appended in main');
    expect(g.switch()).toBe('written in a greenlet, appended in main');
  });

  it('completes fs.promises.readFile started inside a greenlet', async () => {
    const g = new Greenlet(() => fs.promises.readFile(__filename, 'utf8'));
    const pending = g.switch() as Promise<string>;
    expect(g.dead).toBe(true);
    const text = await withTimeout(pending, 5000, 'readFile');
    expect(text).toContain('completes fs.promises.readFile started inside a greenlet');
  });

  it('resumes a greenlet from an fs callback', async () => {
    const size = await spawn(() => {
      const stat = waitFor<fs.Stats>((resume) =>
        fs.stat(__filename, (err, st) => {
          if (err) throw err;
          resume(st);
        }),
      );
      const text = waitFor<string>((resume) => fs.readFile(__filename, 'utf8', (_err, data) => resume(data)));
      return [stat.size, Buffer.byteLength(text)];
    });
    expect(size[0]).toBe(size[1]);
  });

  it('serves a net.Server created inside a greenlet once the event loop runs', async () => {
    const g = new Greenlet(() => {
      const server = net.createServer((socket) => socket.pipe(socket));
      server.listen(0, '127.0.0.1');
      return server;
    });
    const server = g.switch() as net.Server;
    cleanups.push(() => server.close());
    expect(g.dead).toBe(true);
    await withTimeout(new Promise((resolve) => (server.listening ? resolve(null) : server.once('listening', resolve))), 5000, 'listening');
    const { port } = server.address() as net.AddressInfo;
    const echoed = await withTimeout(
      new Promise<string>((resolve, reject) => {
        const client = net.connect(port, '127.0.0.1', () => client.end('hello greenlet'));
        let data = '';
        client.on('data', (chunk) => (data += chunk));
        client.on('end', () => resolve(data));
        client.on('error', reject);
      }),
      5000,
      'the echo',
    );
    expect(echoed).toBe('hello greenlet');
  });

  it('serves each connection from its own greenlet, blocking-style (a gevent echo server)', async () => {
    /** Reads the next chunk of a socket, or '' at its end, from inside a greenlet. */
    const recv = (socket: net.Socket): string =>
      waitFor<string>((resume) => {
        const onData = (chunk: Buffer): void => {
          socket.off('end', onEnd);
          socket.pause();
          resume(chunk.toString());
        };
        const onEnd = (): void => {
          socket.off('data', onData);
          resume('');
        };
        socket.once('data', onData);
        socket.once('end', onEnd);
        socket.resume();
      });
    const handlers: Greenlet[] = [];
    const server = net.createServer((socket) => {
      socket.pause();
      const handler = new Greenlet(() => {
        for (;;) {
          const chunk = recv(socket);
          if (chunk === '') break;
          socket.write(chunk.toUpperCase());
        }
        socket.end();
      });
      handlers.push(handler);
      handler.switch();
    });
    cleanups.push(() => server.close());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    const talk = (text: string): Promise<string> =>
      new Promise((resolve, reject) => {
        const client = net.connect(port, '127.0.0.1', () => client.end(text));
        let data = '';
        client.on('data', (chunk) => (data += chunk));
        client.on('end', () => resolve(data));
        client.on('error', reject);
      });
    const replies = await withTimeout(Promise.all(['one', 'two', 'three', 'four', 'five'].map(talk)), 10000, 'the replies');
    expect(replies).toEqual(['ONE', 'TWO', 'THREE', 'FOUR', 'FIVE']);
    expect(handlers.length).toBe(5);
    await withTimeout(
      (async () => {
        while (!handlers.every((h) => h.dead)) await new Promise((resolve) => setTimeout(resolve, 5));
      })(),
      5000,
      'the handlers to end',
    );
  });

  it('keeps the stack of an error thrown inside a greenlet run from a timer', async () => {
    function failingInsideGreenlet(): never {
      throw new Error('failed in a timer greenlet');
    }
    const err = await new Promise<Error>((resolve) => {
      setTimeout(() => {
        try {
          new Greenlet(function greenletStartedByTimer() {
            failingInsideGreenlet();
          }).switch();
        } catch (e) {
          resolve(e as Error);
        }
      }, 1);
    });
    expect(err.message).toBe('failed in a timer greenlet');
    const frames = err.stack!.split('\n');
    expect(frames[1]).toContain('failingInsideGreenlet');
    expect(frames[2]).toContain('greenletStartedByTimer');
  });
});

describe('async context across switches', () => {
  beforeAll(() => ensureDist());

  const fixture = path.join(__dirname, 'fixtures', 'greenlet-async.js');
  const run = (...args: string[]) => spawnSync(process.execPath, [fixture, ...args], { encoding: 'utf8', timeout: 20000 });

  it('switches from timers, immediates, nextTick, promise continuations and fs callbacks (exit 0)', () => {
    const child = run('plain');
    expect(child.stderr).toBe('');
    expect({ status: child.status, signal: child.signal }).toEqual({ status: 0, signal: null });
    expect(child.stdout).toMatch(/^OK \{"finished":8,"mode":"plain"/m);
  });

  it('does the same with async hooks enabled, which wrap every promise reaction (exit 0)', () => {
    const child = run('hooks');
    expect(child.stderr).not.toContain('async hook stack has become corrupted');
    expect({ status: child.status, signal: child.signal }).toEqual({ status: 0, signal: null });
    expect(child.stdout).toMatch(/^OK \{"finished":8,"mode":"hooks"/m);
  });

  it('refuses to switch out of an AsyncResource scope the greenlet opened, and the process lives on', () => {
    // Suspending inside runInAsyncScope would leave the scope open on the
    // async-id stack of the greenlet switched to ("async hook stack has
    // become corrupted" ends the process), so the switch throws instead.
    const script = `
      const { AsyncResource } = require('node:async_hooks');
      const { Greenlet, getcurrent } = require(${JSON.stringify(path.join(__dirname, '../dist/cjs/greenlet.js'))});
      const main = getcurrent();
      const g = new Greenlet(() => {
        try {
          new AsyncResource('SCOPE').runInAsyncScope(() => main.switch('inside scope'));
        } catch (err) {
          console.log(err.code);
        }
        return main.switch('outside scope') + ' then done';
      });
      setTimeout(() => console.log(g.switch()), 1);
      setTimeout(() => console.log(g.switch('resumed')), 5);
    `;
    const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20000 });
    expect(child.stderr).toBe('');
    expect({ status: child.status, signal: child.signal }).toEqual({ status: 0, signal: null });
    expect(child.stdout).toBe('ERR_LOOPLET_GREENLET_ASYNC_SCOPE\noutside scope\nresumed then done\n');
  });

  // Node 24+ keeps AsyncLocalStorage stores in V8's continuation-preserved
  // embedder data (AsyncContextFrame; Node 22 with a flag), which the runtime
  // saves and restores per greenlet. Earlier, stores live on Node's async
  // resource stack, which a greenlet cannot own (docs/greenlets.md).
  const contextFrames = asyncContextPerGreenlet();
  const major = Number(process.versions.node.split('.')[0]);

  it('knows whether this Node keeps async context in V8 (AsyncContextFrame)', () => {
    const flagged = process.execArgv.includes('--experimental-async-context-frame') || /--experimental-async-context-frame/.test(process.env.NODE_OPTIONS ?? '');
    const off = process.execArgv.includes('--no-async-context-frame') || /--no-async-context-frame/.test(process.env.NODE_OPTIONS ?? '');
    expect(contextFrames).toBe(major >= 24 ? !off : major >= 22 && flagged);
  });

  it(`runs a greenlet in ${contextFrames ? 'the AsyncLocalStorage context it was created in' : "its switcher's AsyncLocalStorage context"}`, () => {
    const als = new AsyncLocalStorage<string>();
    const seen: unknown[] = [];
    const g = als.run('creator', () =>
      new Greenlet(() => {
        seen.push(als.getStore());
        main.switch();
        seen.push(als.getStore());
        als.run('inside', () => {
          main.switch();
          seen.push(als.getStore());
        });
        seen.push(als.getStore());
      }),
    );
    als.run('first switcher', () => {
      g.switch();
      seen.push(`main: ${als.getStore()}`);
    });
    als.run('second switcher', () => g.switch());
    als.run('third switcher', () => g.switch());
    seen.push(`main: ${als.getStore()}`);
    expect(g.dead).toBe(true);
    expect(seen).toEqual(
      contextFrames
        ? ['creator', 'main: first switcher', 'creator', 'inside', 'creator', 'main: undefined']
        : // Without frames the store lives on the resource of the callback that
          // resumed the greenlet; an als.run() spanning a switch writes into it.
          ['first switcher', 'main: first switcher', 'second switcher', 'third switcher', 'second switcher', 'main: undefined'],
    );
  });

  it('binds a function to its async resource across greenlets', () => {
    const resource = new AsyncResource('BOUND');
    const seen: number[] = [];
    const bound = resource.bind(() => seen.push(resource.asyncId()));
    const g = new Greenlet(() => {
      bound();
      main.switch();
      bound();
    });
    g.switch();
    g.switch();
    expect(seen).toEqual([resource.asyncId(), resource.asyncId()]);
  });
});
