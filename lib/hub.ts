// looplet/hub: gevent-style concurrency on greenlets. The event loop's own
// thread is the hub; jobs block (sleep, wait for a promise, a queue, a lock)
// by switching to the next runnable job or back to the hub. Design notes:
// docs/hub.md.
export {
  Job,
  spawn,
  spawnLater,
  run,
  joinall,
  killall,
  getHub,
  type Hub,
  type GetOptions,
  type KillOptions,
  type JoinAllOptions,
  type KillAllOptions,
} from './hub/job';
export { sleep, wait, Timeout, withTimeout, type WaitOptions, type WithTimeoutOptions } from './hub/timeout';
export { Event, AsyncResult, type AsyncResultGetOptions } from './hub/event';
export { Queue, LifoQueue, PriorityQueue, Channel, type QueueOpOptions, type PriorityQueueOptions } from './hub/queue';
export { Semaphore, BoundedSemaphore, Lock, RLock, type AcquireOptions } from './hub/lock';
export { Group, Pool } from './hub/pool';
