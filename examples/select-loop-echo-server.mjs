// The seed tutorial's classic loop, `while True: readable, writable, _ =
// select.select(inputs, outputs, inputs)`, written with a blocking
// poller.select(). A blocking loop owns its thread, so the server runs in a
// worker thread with its own Poller while the main thread runs the clients.
// The server stops when it reads the line "shutdown".
//
//   node examples/select-loop-echo-server.mjs [--backend select|poll|epoll] [--clients 10]
import * as fs from 'node:fs';
import * as net from 'node:net';
import { parseArgs } from 'node:util';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Poller, EVENT_READ, EVENT_WRITE, sys } from 'looplet';

if (isMainThread) {
  const { values: opts } = parseArgs({
    options: { backend: { type: 'string', default: 'select' }, clients: { type: 'string', default: '10' } },
  });
  const worker = new Worker(new URL(import.meta.url), { workerData: { backend: opts.backend } });
  const exited = new Promise((resolve) => worker.once('exit', resolve));
  const port = await new Promise((resolve) => worker.once('message', resolve));
  const echo = (text) =>
    new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.end(text));
      let reply = '';
      socket.setEncoding('utf8').on('data', (d) => (reply += d));
      socket.on('close', () => (reply === text ? resolve() : reject(new Error(`got ${JSON.stringify(reply)}`))));
      socket.on('error', reject);
    });
  const clients = Number(opts.clients);
  await Promise.all(Array.from({ length: clients }, (_, i) => echo(`hello from client ${i}\n`)));
  await echo('shutdown\n');
  const code = await exited;
  console.log(`${opts.backend}: ${clients} clients served by a blocking select() loop in a worker; worker exit code ${code}`);
  process.exitCode = code;
} else {
  const poller = new Poller({ backend: workerData.backend });
  const server = sys.listen('127.0.0.1', 0);
  poller.register(server, EVENT_READ);
  parentPort.postMessage(sys.localPort(server));
  const queues = new Map();
  const buf = Buffer.alloc(4096);
  let running = true;
  while (running) {
    for (const [key, events] of poller.select()) {
      const fd = key.fd;
      if (fd === server) {
        const conn = sys.accept(server);
        if (conn !== -1) {
          poller.register(conn, EVENT_READ);
          queues.set(conn, []);
        }
        continue;
      }
      const queue = queues.get(fd);
      if (events & EVENT_WRITE) {
        if (queue.length > 0) fs.writeSync(fd, queue.shift());
        if (queue.length === 0) poller.modify(fd, EVENT_READ);
      }
      if (events & EVENT_READ) {
        const n = fs.readSync(fd, buf);
        if (n > 0) {
          const text = buf.toString('utf8', 0, n);
          if (text === 'shutdown\n') running = false;
          queue.push(text);
          poller.modify(fd, EVENT_READ | EVENT_WRITE);
        } else {
          // The client closed its side: send what is still queued, then close.
          for (const text of queue) fs.writeSync(fd, text);
          poller.unregister(fd);
          queues.delete(fd);
          sys.close(fd);
        }
      }
    }
  }
  for (const fd of queues.keys()) {
    for (const text of queues.get(fd)) fs.writeSync(fd, text);
    sys.close(fd);
  }
  sys.close(server);
  poller.close();
}
