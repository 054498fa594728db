// Runs one benchmark trial in a fresh process: the trial goes in as one JSON
// argument, the outcome comes back as one JSON object on stdout.
import { spawnSync } from 'node:child_process';

const TRIAL_TIMEOUT_MS = 300_000;

export function runProcess<T>(exe: string, args: string[], trial: object, timeoutMs = TRIAL_TIMEOUT_MS): T {
  const r = spawnSync(exe, [...args, JSON.stringify(trial)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 * 1024 * 1024,
    timeout: timeoutMs,
  });
  if (r.status !== 0) {
    const why = r.error?.message ?? (r.stderr.trim().split('\n').slice(-3).join(' / ') || `exit ${r.status ?? r.signal}`);
    throw new Error(why);
  }
  return JSON.parse(r.stdout) as T;
}
