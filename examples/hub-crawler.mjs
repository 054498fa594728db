// The seed tutorial's gevent crawler: one job per URL, each written as plain
// sequential code (GET, then print what arrived); the downloads overlap.
// wait(promise) parks only the job that calls it, so fetch() (or any other
// promise-based API) reads like a blocking call. The example serves its own
// pages from a local HTTP server, with different sizes and response delays.
//
//   node examples/hub-crawler.mjs [--pages 4] [--delay-ms 50]
import * as http from 'node:http';
import { parseArgs } from 'node:util';
import { joinall, run, spawn, wait } from 'looplet';

const { values } = parseArgs({ options: { pages: { type: 'string', default: '4' }, 'delay-ms': { type: 'string', default: '50' } } });
const pages = Number(values.pages);
const delayMs = Number(values['delay-ms']);

// Page i is 1000 * (i + 1) bytes and answers after delayMs * (pages - i) ms,
// so the last URL requested is the first to arrive.
const server = http.createServer((req, res) => {
  const i = Number(req.url.slice('/page/'.length));
  setTimeout(() => res.end('x'.repeat(1000 * (i + 1))), delayMs * (pages - i));
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${server.address().port}`;

function fetchPage(url) {
  console.log(`GET: ${url}`);
  const response = wait(fetch(url)); // like urlopen(url): blocks this job only
  const body = wait(response.text()); // like resp.read()
  console.log(`${body.length} bytes received from ${url}`);
  return body.length;
}

const sizes = await run(() => {
  const jobs = Array.from({ length: pages }, (_, i) => spawn(fetchPage, `${base}/page/${i}`));
  joinall(jobs, { raiseError: true });
  return jobs.map((job) => job.value);
});
server.close();
console.log(`total ${sizes.reduce((a, b) => a + b, 0)} bytes from ${pages} pages`);
