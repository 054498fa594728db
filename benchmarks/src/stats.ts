// Summaries of per-block means. Each sample is the mean cost of one call in
// a block of K calls, in nanoseconds; summaries are in microseconds.

export interface Summary {
  /** Median of the block means, µs per call. */
  median: number;
  /** 99th percentile (nearest rank) of the block means, µs per call. */
  p99: number;
  min: number;
  mean: number;
  /** Number of blocks. */
  blocks: number;
}

/** Nearest-rank percentile of an ascending array, q in (0, 1]. */
function percentile(sorted: readonly number[], q: number): number {
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[rank - 1];
}

export function summarize(samplesNs: ArrayLike<number>): Summary {
  const sorted = Array.from(samplesNs).sort((a, b) => a - b);
  if (sorted.length === 0) throw new RangeError('summarize: no samples');
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  const mean = sorted.reduce((s, v) => s + v, 0) / sorted.length;
  return {
    median: median / 1e3,
    p99: percentile(sorted, 0.99) / 1e3,
    min: sorted[0] / 1e3,
    mean: mean / 1e3,
    blocks: sorted.length,
  };
}

/** The median of some values (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) throw new RangeError('median: no values');
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** log-log slope of cost against N between two points: 0 is flat, 1 is linear. */
export function slope(nMin: number, costMin: number, nMax: number, costMax: number): number {
  return Math.log(costMax / costMin) / Math.log(nMax / nMin);
}

/** A number with about three significant digits, for tables. */
export function fmt(v: number | undefined | null): string {
  if (v === undefined || v === null || !Number.isFinite(v)) return '-';
  const a = Math.abs(v);
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  return v.toFixed(3);
}

/** A method's long batches (each timed as one span), in µs per call. */
export interface LongSummary {
  /** µs per call over every long batch: their total time over their total calls. */
  mean: number;
  /** Calls per batch. */
  calls: number;
  batches: number;
  /** Each batch's mean µs per call, in the order measured. */
  batchMeans: number[];
}

/** Summarizes long batches of `calls` calls each, given each batch's mean ns per call. */
export function summarizeLong(calls: number, batchNs: readonly number[]): LongSummary {
  if (batchNs.length === 0) throw new RangeError('summarizeLong: no batches');
  const mean = batchNs.reduce((s, v) => s + v, 0) / batchNs.length;
  return { mean: mean / 1e3, calls, batches: batchNs.length, batchMeans: batchNs.map((v) => v / 1e3) };
}
