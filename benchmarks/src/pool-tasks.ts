// The JS tasks of `looplet bench pool`, loaded by every pool under test
// (looplet's workers, piscina, tinypool, the plain worker_threads peer) from
// benchmarks/dist/pool-tasks.js. Each takes one argument, as piscina's do.

/** Does nothing: what a pool costs per task. */
export function noop(): void {}

/** Busy-waits `us` microseconds (a task with a known run time). */
export function spin(us: number): number {
  const end = process.hrtime.bigint() + BigInt(Math.round(us * 1000));
  let n = 0;
  while (process.hrtime.bigint() < end) n++;
  return n;
}

let data: Uint8Array | null = null;

/** CPU-bound: FNV-1a 32 over `bytes` bytes of a buffer kept per thread (what native.hash does, in JS). */
export function fnv(bytes: number): number {
  if (data === null || data.length < bytes) data = new Uint8Array(bytes).map((_, i) => i * 31);
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes; i++) {
    h ^= data[i];
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
