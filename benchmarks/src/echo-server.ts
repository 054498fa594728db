// The Node servers of `looplet bench echo`, one per process:
//
//   node benchmarks/dist/echo-server.js <impl> [--port N] [--reuse-port]
//
//   streamserver  looplet's StreamServer, one greenlet per connection, the
//                 handler of examples/net-echo-server.mjs (recv, sendAll, loop)
//   poller        a callback server on looplet's Poller (watch(), level-
//                 triggered) making the same syscalls through the addon as
//                 StreamServer, without greenlets
//   net           Node's net module (createServer, 'data' -> write)
//
// Prints "listening <port>" once ready. Each SIGUSR2 prints "mark <n>",
// n the greenlet runtime's switch count (the load generator sends one as
// its timed window opens and one as it closes; the harness waits for both
// marks before it stops the server: a SIGUSR2 delivered to a greenlet
// thread that the kernel has not run yet may reach the event loop after a
// SIGTERM sent later). SIGTERM exits.
// It also exits when its stdin ends: the harness holds the other end of
// that pipe, so a harness that dies, however, leaves no server behind.
import * as net from 'node:net';
import * as os from 'node:os';
import { binding } from '../../dist/cjs/binding';
import { runtimeStats } from '../../dist/cjs/greenlet';
import { Poller, EVENT_READ, EVENT_WRITE } from '../../dist/cjs/poller';
import { StreamServer, listen } from '../../dist/cjs/net';
import { benchAddon } from './native';

const HOST = '127.0.0.1';
const BACKLOG = 4096;

function streamServer(port: number, reusePort: boolean): number {
  const server = new StreamServer({ host: HOST, port, reusePort, backlog: BACKLOG }, (socket) => {
    try {
      for (let data = socket.recv(); data.length > 0; data = socket.recv()) socket.sendAll(data);
    } catch {
      // ECONNRESET when the load generator goes: the connection is over either way
    }
  });
  server.start();
  return (server.address as { port: number }).port;
}

/**
 * Level-triggered Poller with the addon's raw recv/send: on READ, one recv
 * and the echo; what the socket does not take waits in a per-connection
 * buffer with interest WRITE (reading paused) until it drains.
 */
/** The Poller server's listening socket, held for the process's life: a looplet socket
 * that nothing references is closed when collected (Node 26 collected it at once). */
let pollerListener: ReturnType<typeof listen> | undefined;

function pollerServer(port: number, reusePort: boolean): number {
  const sys = binding().net;
  const EAGAIN = -os.constants.errno.EAGAIN;
  const listener = (pollerListener = listen({ host: HOST, port, reusePort, backlog: BACKLOG }));
  const lfd = listener.fileno();
  const poller = new Poller<Buffer | null>();
  const buffer = Buffer.allocUnsafe(65536);
  poller.register(lfd, EVENT_READ, null);
  const drop = (fd: number): void => {
    poller.unregister(fd);
    sys.close(fd);
  };
  poller.watch((ready) => {
    for (const [key, events] of ready) {
      const fd = key.fd;
      if (fd === lfd) {
        for (let conn = sys.accept(lfd); conn >= 0; conn = sys.accept(lfd)) poller.register(conn, EVENT_READ, null);
        continue;
      }
      let pending: Buffer | null = key.data ?? null;
      if (pending !== null && (events & EVENT_WRITE) !== 0) {
        const n = sys.send(fd, pending, 0, pending.length);
        if (n < 0 && n !== EAGAIN) {
          drop(fd);
          continue;
        }
        pending = n === pending.length ? null : n > 0 ? pending.subarray(n) : pending;
        poller.modify(fd, pending === null ? EVENT_READ : EVENT_WRITE, pending);
        continue;
      }
      if ((events & EVENT_READ) === 0) continue;
      const n = sys.recv(fd, buffer, 0, buffer.length);
      if (n === EAGAIN) continue;
      if (n <= 0) {
        drop(fd);
        continue;
      }
      const w = sys.send(fd, buffer, 0, n);
      if (w < 0 && w !== EAGAIN) drop(fd);
      else if (w < n) poller.modify(fd, EVENT_WRITE, Buffer.from(buffer.subarray(Math.max(w, 0), n)));
    }
  });
  return (listener.localAddress as { port: number }).port;
}

function netServer(port: number): Promise<number> {
  const server = net.createServer({ noDelay: true }, (socket) => {
    socket.on('data', (data) => socket.write(data));
    socket.on('error', () => socket.destroy());
  });
  return new Promise((resolve) => server.listen({ host: HOST, port, backlog: BACKLOG }, () => resolve((server.address() as net.AddressInfo).port)));
}

async function main(): Promise<void> {
  const [impl, ...args] = process.argv.slice(2);
  const portAt = args.indexOf('--port');
  const port = portAt >= 0 ? Number(args[portAt + 1]) : 0;
  const reusePort = args.includes('--reuse-port');
  benchAddon().nofileLimit(); // raises RLIMIT_NOFILE's soft limit to the hard one
  process.on('SIGUSR2', () => process.stdout.write(`mark ${impl === 'net' ? 0 : runtimeStats().switches}\n`));
  process.on('SIGTERM', () => process.exit(0));
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
  let bound: number;
  if (impl === 'streamserver') bound = streamServer(port, reusePort);
  else if (impl === 'poller') bound = pollerServer(port, reusePort);
  else if (impl === 'net') bound = await netServer(port);
  else throw new Error(`echo-server: unknown implementation '${impl}'`);
  process.stdout.write(`listening ${bound}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`echo-server: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
