// Block timing shared by the trial processes: an operation too short to
// time on its own is timed in blocks of K calls, K calibrated during the
// warm-up so that a block lasts about the wanted time.

/** Runs `blocks` blocks of `perBlock` calls; returns the mean ns per call of each block. */
export type BlockRunner = (blocks: number, perBlock: number) => ArrayLike<number>;

export const nowNs = (): bigint => process.hrtime.bigint();

/**
 * Warms a runner up for warmupMs while calibrating K, the calls per block
 * that make a block last about targetNs. Returns K.
 */
export function warmAndCalibrate(run: BlockRunner, targetNs: number, warmupMs: number): number {
  const end = nowNs() + BigInt(Math.round(warmupMs * 1e6));
  let k = 1;
  do {
    const perCall = Math.max(run(1, k)[0], 1);
    k = Math.min(Math.max(1, Math.round(targetNs / perCall)), 10_000_000);
  } while (nowNs() < end);
  return k;
}

/**
 * Calls in one long batch: `maxCalls`, or fewer where that many would take
 * longer than maxMs at the given ns per call (at least 1).
 */
export function longBatchCalls(nsPerCall: number, maxCalls: number, maxMs: number): number {
  return Math.max(1, Math.min(maxCalls, Math.floor((maxMs * 1e6) / Math.max(nsPerCall, 1))));
}
