// The seed tutorial's get_url (seed 002, asyncio chapters 13.4 and 13.5):
// an HTTP GET written with a raw socket - connect, send the request with
// "Connection: close", recv until the server closes, split the headers from
// the body - run for 20 URLs at once, one job each, against a local HTTP
// server (the seed asks www.baidu.com/s?wd=N; this one answers for every N
// after a delay, so the requests overlap or the run takes 20 delays).
//
//   node examples/net-http-get.mjs [--urls 20] [--delay-ms 100]
import * as http from 'node:http';
import { parseArgs } from 'node:util';
import { joinall, run, spawn } from 'looplet';
import { connect } from 'looplet/net';

const { values } = parseArgs({ options: { urls: { type: 'string', default: '20' }, 'delay-ms': { type: 'string', default: '100' } } });
const urlCount = Number(values.urls);
const delayMs = Number(values['delay-ms']);

const server = http.createServer((req, res) => {
  const wd = new URL(req.url, 'http://localhost').searchParams.get('wd');
  setTimeout(() => res.end(`<html>results for ${wd}</html>`), delayMs);
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address();

// The seed's get_url(url), with a looplet socket: each call blocks only its job.
function getUrl(url) {
  const { hostname, port: urlPort, pathname, search } = new URL(url);
  const client = connect({ host: hostname, port: Number(urlPort) || 80 });
  try {
    client.sendAll(`GET ${pathname}${search} HTTP/1.1\r\nHost:${hostname}\r\nConnection:close\r\n\r\n`);
    const chunks = [];
    for (;;) {
      const d = client.recv(1024);
      if (d.length === 0) break;
      chunks.push(d);
    }
    const data = Buffer.concat(chunks).toString('utf8');
    return data.split('\r\n\r\n')[1];
  } finally {
    client.close();
  }
}

const started = performance.now();
const pages = await run(() => {
  const jobs = Array.from({ length: urlCount }, (_, i) => spawn(getUrl, `http://127.0.0.1:${port}/s?wd=${i}/`));
  joinall(jobs, { raiseError: true });
  return jobs.map((job) => job.value);
});
const seconds = (performance.now() - started) / 1000;
server.close();
for (const html of pages) console.log(html);
console.log(`last time: ${seconds.toFixed(3)} s for ${urlCount} pages (one after another: ${((urlCount * delayMs) / 1000).toFixed(1)} s)`);
