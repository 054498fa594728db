// The seed tutorials' gevent echo server (seeds 000 and 003) on looplet: a
// StreamServer runs handleRequest in one greenlet per connection, plain
// sequential code (recv, send, loop) that blocks only its own greenlet. The
// seed loads it with 2000 client threads, each sending "hello N" and reading
// the echo; here the clients are greenlets of the same process, each with
// its own socket, and every echo is checked.
//
//   node examples/net-echo-server.mjs [--clients 2000] [--messages 5] [--upper]
//
// --upper echoes in upper case, as seed 003's talk() does.
import { parseArgs } from 'node:util';
import { run, spawn, joinall } from 'looplet';
import { StreamServer, connect } from 'looplet/net';

const { values: opts } = parseArgs({
  options: {
    clients: { type: 'string', default: '2000' },
    messages: { type: 'string', default: '5' },
    upper: { type: 'boolean', default: false },
  },
});
const clientCount = Number(opts.clients);
const messageCount = Number(opts.messages);

let connections = 0;
let peak = 0;

// The seed's handle_request(conn): receive, send back, until the client hangs up.
function handleRequest(conn) {
  connections++;
  peak = Math.max(peak, server.group.size); // handlers running now, this one included
  for (;;) {
    const data = conn.recv(1024);
    if (data.length === 0) {
      conn.shutdown('write');
      break;
    }
    conn.sendAll(opts.upper ? Buffer.from(data.toString('utf8').toUpperCase()) : data);
  }
}

const server = new StreamServer({ host: '127.0.0.1', port: 0, backlog: 5000 }, handleRequest);
server.start();
const { port } = server.address;

// The seed's client run(n), as a greenlet: send "hello n", read the answer.
function client(n) {
  const sk = connect({ host: '127.0.0.1', port });
  try {
    for (let i = 0; i < messageCount; i++) {
      const msg = `hello ${n} #${i}`;
      sk.sendAll(msg);
      const expected = opts.upper ? msg.toUpperCase() : msg;
      let data = '';
      while (data.length < expected.length) {
        const chunk = sk.recv(1024);
        if (chunk.length === 0) throw new Error(`client ${n}: the server hung up`);
        data += chunk.toString('utf8');
      }
      if (data !== expected) throw new Error(`client ${n}: received ${JSON.stringify(data)}, expected ${JSON.stringify(expected)}`);
    }
  } finally {
    sk.close();
  }
}

const started = performance.now();
await run(() => joinall(Array.from({ length: clientCount }, (_, n) => spawn(client, n)), { raiseError: true }));
const ms = performance.now() - started;
await run(() => server.stop());
console.log(`${clientCount} clients x ${messageCount} messages echoed${opts.upper ? ' in upper case' : ''} in ${ms.toFixed(1)} ms`);
console.log(`server: ${connections} connections, one greenlet each, up to ${peak} at once`);
