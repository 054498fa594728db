// The seed tutorial's "ThreadPoolExecutor + asyncio" (13.4): a blocking
// HTTP GET over a plain socket, pushed into a pool of 3 threads with
// run_in_executor so that 20 of them overlap, first from async code (the
// asyncio shape), then from jobs (the tutorial's last line: "apply the
// thread pool directly inside coroutines"), where runInExecutor() returns
// the result and blocks only its job.
//
// The server is a local one (127.0.0.1) that answers each request after
// --delay-ms, standing in for www.baidu.com.
//
//   node examples/pool-run-in-executor.mjs [--urls 20] [--threads 3] [--delay-ms 50]
import * as http from 'node:http';
import { parseArgs } from 'node:util';
import { joinall, run, spawn } from 'looplet';
import { ThreadPool, runInExecutor } from 'looplet/pool';

const { values } = parseArgs({
  options: {
    urls: { type: 'string', default: '20' },
    threads: { type: 'string', default: '3' },
    'delay-ms': { type: 'string', default: '50' },
  },
});
const count = Number(values.urls);
const delayMs = Number(values['delay-ms']);

// def get_url(url): a blocking client on a socket of its own. It runs on a
// pool thread, sent by source: everything it uses comes from require().
function getUrl(url) {
  const fs = require('node:fs');
  const { Poller, EVENT_READ, EVENT_WRITE, sys } = require('looplet');
  const { hostname, port, pathname, search } = new URL(url);
  const client = sys.connect(hostname, Number(port)); // client.connect((host, 80))
  const poller = new Poller();
  try {
    poller.register(client, EVENT_WRITE);
    poller.select(); // blocks this thread until connected
    fs.writeSync(client, `GET ${pathname}${search} HTTP/1.1\r\nHost:${hostname}\r\nConnection:close\r\n\r\n`);
    poller.modify(client, EVENT_READ);
    const chunks = [];
    const buf = Buffer.alloc(1024);
    for (;;) {
      poller.select(); // blocks until data: d = client.recv(1024)
      let n;
      try {
        n = fs.readSync(client, buf);
      } catch (err) {
        if (err.code === 'EAGAIN') continue;
        throw err;
      }
      if (n === 0) break;
      chunks.push(Buffer.from(buf.subarray(0, n)));
    }
    const data = Buffer.concat(chunks).toString('utf8');
    return data.split('\r\n\r\n')[1]; // html_data
  } finally {
    poller.close();
    sys.close(client);
  }
}

// The server counts the requests it holds at once: with the GETs on the pool's
// threads, up to --threads of them overlap.
let inFlight = 0;
let mostInFlight = 0;
const server = http.createServer((req, res) => {
  mostInFlight = Math.max(mostInFlight, ++inFlight);
  setTimeout(() => {
    inFlight--;
    res.end(`<html>result for ${decodeURIComponent(req.url)}</html>`);
  }, delayMs);
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${server.address().port}`;
const urls = Array.from({ length: count }, (_, i) => `${base}/s?wd=${i}/`);

const executor = new ThreadPool({ maxThreads: Number(values.threads) }); // ThreadPoolExecutor(3)

// loop.run_in_executor(executor, get_url, url) for each url; asyncio.wait(tasks)
let start = performance.now();
const bodies = await Promise.all(urls.map((url) => runInExecutor(executor, getUrl, url)));
for (const html of bodies) console.log(html); // print(html_data)
console.log(`last time: ${((performance.now() - start) / 1000).toFixed(3)} s (async code)`);

// The same from jobs: each job blocks in runInExecutor(), the others go on.
start = performance.now();
const fromJobs = await run(() => {
  const jobs = urls.map((url) => spawn(() => runInExecutor(executor, getUrl, url)));
  joinall(jobs, { raiseError: true });
  return jobs.map((job) => job.value);
});
console.log(`jobs: ${fromJobs.length} pages, same as async code: ${fromJobs.every((html, i) => html === bodies[i])}`);
console.log(`last time: ${((performance.now() - start) / 1000).toFixed(3)} s (jobs)`);
console.log(`server: at most ${mostInFlight} requests at once`);

await executor.shutdown();
server.close();
