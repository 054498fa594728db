// The benchmarks' native floors: the looplet_bench addon
// (benchmarks/native/bench.cc), which the library itself never loads.
import { loadAddon } from '../../dist/cjs/binding';

export interface NativeBench {
  /** lp_poller_wait(0) looping in C on a core poller with fds registered for reading; mean ns per call per block. */
  coreWait(backendId: number, fds: Int32Array, blocks: number, callsPerBlock: number): Float64Array;
  /** The bare syscall with a zero timeout on a private set of fds (EVENT_READ each). */
  rawWait(backendId: number, fds: Int32Array, blocks: number, callsPerBlock: number): { ns: Float64Array; ready: number };
  /** lp_poller_add/_mod/_del on every fd; 3 means (ns per op) per sample. */
  churn(backendId: number, fds: Int32Array, samples: number, roundsPerSample: number): Float64Array;
  /** RLIMIT_NOFILE [soft, hard] after raising soft to hard; -1 means unlimited. */
  nofileLimit(): [number, number] | number;
  /** An empty napi_create_async_work on libuv's pool; callback() from its complete. */
  asyncNoop(callback: () => void): void;
}

let cached: NativeBench | undefined;

export function benchAddon(): NativeBench {
  if (cached === undefined) cached = loadAddon<NativeBench>('looplet_bench');
  return cached;
}
