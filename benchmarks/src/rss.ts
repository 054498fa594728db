// Resident set size of the trial process, for the memory figures.
import * as fs from 'node:fs';

/** Resident set size in KiB and where it was read: VmRSS from /proc/self/status where there is one. */
export function rssKiB(): [kib: number, source: string] {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (m) return [Number(m[1]), '/proc/self/status VmRSS'];
  } catch {
    // not Linux
  }
  return [process.memoryUsage.rss() / 1024, 'process.memoryUsage.rss()'];
}

/** global.gc where the process runs with --expose-gc; a no-op otherwise. */
export const gc: () => void = (globalThis as { gc?: () => void }).gc ?? ((): void => undefined);

/**
 * Resets the process's peak RSS (VmHWM) to its current RSS, through
 * /proc/self/clear_refs (Linux 4.0+); false where that is not possible.
 */
export function resetPeakRss(): boolean {
  try {
    fs.writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

/** VmHWM (peak resident set size) in KiB, or null where /proc/self/status has none. */
export function peakRssKiB(): number | null {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}
