// Seed 000: "one greenlet thread uses one core; pair it with processes".
// The greenlet echo server runs in N worker processes that all listen on the
// same port (SO_REUSEPORT: each process has its own listening socket, and the
// kernel spreads incoming connections over them). The primary process starts
// the workers, then loads them with greenlet clients, and each worker
// reports how many connections it served.
//
//   node examples/net-multicore.mjs [--workers N (default: the CPUs)] [--clients 200] [--messages 20]
import { fork } from 'node:child_process';
import { once } from 'node:events';
import * as os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { joinall, run, spawn } from 'looplet';
import { StreamServer, connect } from 'looplet/net';

const { values: opts } = parseArgs({
  options: {
    workers: { type: 'string', default: String(os.availableParallelism()) },
    clients: { type: 'string', default: '200' },
    messages: { type: 'string', default: '20' },
    'worker-port': { type: 'string' }, // internal: set in the workers
  },
});

if (opts['worker-port'] !== undefined) {
  // A worker: the echo server of net-echo-server.mjs, on the shared port.
  let served = 0;
  const server = new StreamServer({ host: '127.0.0.1', port: Number(opts['worker-port']), reusePort: true, backlog: 1024 }, (conn) => {
    served++;
    for (let data = conn.recv(); data.length > 0; data = conn.recv()) conn.sendAll(data);
  });
  server.start();
  process.send({ listening: server.address.port });
  process.on('message', async () => {
    await run(() => server.stop());
    process.send({ served, pid: process.pid });
    process.disconnect();
  });
} else {
  const workerCount = Number(opts.workers);
  const clientCount = Number(opts.clients);
  const messageCount = Number(opts.messages);
  const self = fileURLToPath(import.meta.url);

  // The first worker picks a free port; the others join it there.
  const workers = [];
  let port = 0;
  for (let i = 0; i < workerCount; i++) {
    const worker = fork(self, ['--worker-port', String(port)]);
    const [message] = await once(worker, 'message');
    port = message.listening;
    workers.push(worker);
  }

  const started = performance.now();
  await run(() => {
    const jobs = Array.from({ length: clientCount }, (_, n) =>
      spawn(() => {
        const sock = connect({ host: '127.0.0.1', port });
        try {
          for (let i = 0; i < messageCount; i++) {
            const msg = Buffer.from(`client ${n} message ${i}`);
            sock.sendAll(msg);
            const back = [];
            for (let got = 0; got < msg.length; ) {
              const chunk = sock.recv(msg.length - got);
              if (chunk.length === 0) throw new Error(`client ${n}: the server hung up`);
              back.push(chunk);
              got += chunk.length;
            }
            if (!Buffer.concat(back).equals(msg)) throw new Error(`client ${n}: the echo differs`);
          }
        } finally {
          sock.close();
        }
      }),
    );
    joinall(jobs, { raiseError: true });
  });
  const ms = performance.now() - started;

  const served = [];
  for (const worker of workers) {
    const reply = once(worker, 'message');
    worker.send('stop');
    served.push((await reply)[0].served);
    await once(worker, 'exit');
  }
  console.log(`${workerCount} worker processes on port ${port} served ${clientCount} clients x ${messageCount} messages in ${ms.toFixed(1)} ms`);
  console.log(`connections per worker: ${served.join(', ')} (total ${served.reduce((a, b) => a + b, 0)}); every byte echoed`);
}
