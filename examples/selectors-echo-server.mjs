// The seed tutorial's select() echo server, on looplet's Poller: one
// listening socket and one fd per client, a message queue per connection,
// WRITE interest only while a queue holds data. The poller is driven by
// watch(), so Node's own event loop keeps running and the clients below are
// ordinary `net` sockets in the same process.
//
//   node examples/selectors-echo-server.mjs [--backend epoll|poll|select] [--clients 20] [--messages 50]
import * as fs from 'node:fs';
import * as net from 'node:net';
import { parseArgs } from 'node:util';
import { Poller, EVENT_READ, EVENT_WRITE, sys } from 'looplet';

const { values: opts } = parseArgs({
  options: {
    backend: { type: 'string' },
    clients: { type: 'string', default: '20' },
    messages: { type: 'string', default: '50' },
  },
});
const clientCount = Number(opts.clients);
const messageCount = Number(opts.messages);

const poller = new Poller({ backend: opts.backend });
const listener = sys.listen('127.0.0.1', 0);
const port = sys.localPort(listener);
poller.register(listener, EVENT_READ, { listener: true });
const queues = new Map(); // fd -> Buffer[] waiting to be echoed
const chunk = Buffer.alloc(64 * 1024);

function closeConnection(fd) {
  poller.unregister(fd);
  queues.delete(fd);
  sys.close(fd);
}

poller.watch((ready) => {
  for (const [key, events] of ready) {
    const fd = key.fd;
    if (key.data?.listener) {
      for (let conn = sys.accept(fd); conn !== -1; conn = sys.accept(fd)) {
        poller.register(conn, EVENT_READ);
        queues.set(conn, []);
      }
      continue;
    }
    if (events & EVENT_READ) {
      let n;
      try {
        n = fs.readSync(fd, chunk);
      } catch (err) {
        if (err.code === 'EAGAIN') continue;
        closeConnection(fd); // ECONNRESET and friends: drop the client
        continue;
      }
      if (n === 0) {
        closeConnection(fd); // the client hung up
        continue;
      }
      queues.get(fd).push(Buffer.from(chunk.subarray(0, n)));
      poller.modify(fd, EVENT_READ | EVENT_WRITE);
    }
    if (events & EVENT_WRITE && queues.has(fd)) {
      const queue = queues.get(fd);
      while (queue.length > 0) {
        let written;
        try {
          written = fs.writeSync(fd, queue[0]);
        } catch (err) {
          if (err.code === 'EAGAIN') break;
          throw err;
        }
        if (written < queue[0].length) {
          queue[0] = queue[0].subarray(written);
          break;
        }
        queue.shift();
      }
      if (queue.length === 0) poller.modify(fd, EVENT_READ);
    }
  }
});

// Clients: each sends `messageCount` lines and expects every byte back.
function runClient(id) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const expected = Array.from({ length: messageCount }, (_, i) => `client ${id} message ${i}\n`).join('');
    let received = '';
    socket.setEncoding('utf8');
    socket.on('connect', () => {
      for (let i = 0; i < messageCount; i++) socket.write(`client ${id} message ${i}\n`);
    });
    socket.on('data', (data) => {
      received += data;
      if (received.length >= expected.length) socket.end();
    });
    socket.on('close', () => (received === expected ? resolve() : reject(new Error(`client ${id}: echo mismatch`))));
    socket.on('error', reject);
  });
}

const started = process.hrtime.bigint();
await Promise.all(Array.from({ length: clientCount }, (_, id) => runClient(id)));
const ms = Number(process.hrtime.bigint() - started) / 1e6;
console.log(`${poller.backend}: ${clientCount} clients x ${messageCount} messages echoed in ${ms.toFixed(1)} ms`);
for (const fd of queues.keys()) closeConnection(fd);
poller.unregister(listener);
sys.close(listener);
poller.close();
