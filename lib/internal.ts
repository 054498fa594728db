// Package-internal hooks (not exported from the package entry points).
import type { NativePollerHandle } from './binding';

const handles = new WeakMap<object, () => NativePollerHandle | null>();

export function setNativeAccessor(poller: object, get: () => NativePollerHandle | null): void {
  handles.set(poller, get);
}

/** The native handle behind a Poller (null once closed); used by the benchmarks. */
export function nativeOf(poller: object): NativePollerHandle | null {
  const get = handles.get(poller);
  if (get === undefined) throw new TypeError('not a looplet Poller');
  return get();
}
