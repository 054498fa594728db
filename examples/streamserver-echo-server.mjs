// The seed tutorial's select() echo server (seed 004), written the other way:
// selectors-echo-server.mjs keeps a message queue per connection and a
// readiness loop on the Poller; here a StreamServer gives each connection
// its own greenlet, whose sequential code needs no queue and no interest
// bookkeeping (the socket's send buffer is the queue: sendAll waits while
// it is full). The clients are the same: ordinary `net` sockets in the same
// process, each sending lines and expecting every byte back.
//
//   node examples/streamserver-echo-server.mjs [--clients 20] [--messages 50]
import * as net from 'node:net';
import { parseArgs } from 'node:util';
import { run } from 'looplet';
import { StreamServer } from 'looplet/net';

const { values: opts } = parseArgs({
  options: {
    clients: { type: 'string', default: '20' },
    messages: { type: 'string', default: '50' },
  },
});
const clientCount = Number(opts.clients);
const messageCount = Number(opts.messages);

// The whole server: what the select() loop, the queues and the interest
// changes of selectors-echo-server.mjs do for every connection at once.
const server = new StreamServer({ host: '127.0.0.1', port: 0 }, (conn) => {
  for (let data = conn.recv(); data.length > 0; data = conn.recv()) conn.sendAll(data);
});
server.start();
const { port } = server.address;

// The same clients as selectors-echo-server.mjs.
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
console.log(`streamserver: ${clientCount} clients x ${messageCount} messages echoed in ${ms.toFixed(1)} ms`);
await run(() => server.stop());
