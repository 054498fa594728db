// ThreadPool#map(): a bounded window of tasks over an iterable, results in
// input or completion order, as an async iterable or (in a greenlet) a
// plain one.
import { CompletionQueue, type Future } from './future';

export function mapRun<T, R>(
  iterable: Iterable<T>,
  submit: (item: T) => Future<R>,
  ordered: boolean,
  concurrency: number,
  sync: boolean,
): AsyncIterable<R> & Iterable<R> {
  let it: Iterator<T> | null = null;
  let exhausted = false;
  const inflight: Future<R>[] = [];
  const queue = new CompletionQueue<R>();
  const fill = () => {
    it ??= iterable[Symbol.iterator]();
    while (!exhausted && inflight.length < concurrency) {
      const r = it.next();
      if (r.done) {
        exhausted = true;
        break;
      }
      const f = submit(r.value);
      inflight.push(f);
      if (!ordered) queue.watch(f);
    }
  };
  const cancelRest = () => {
    for (const f of inflight) f.cancel();
    inflight.length = 0;
    exhausted = true;
    if (it !== null && typeof it.return === 'function') it.return();
  };
  const remove = (f: Future<R>) => inflight.splice(inflight.indexOf(f), 1);
  if (sync) {
    return {
      *[Symbol.iterator]() {
        let finished = false;
        try {
          for (;;) {
            fill();
            if (inflight.length === 0) break;
            let f: Future<R>;
            if (ordered) {
              f = inflight.shift()!;
            } else {
              let next = queue.take();
              while (next === undefined) {
                queue.nextSync(undefined, 'ThreadPool#map()');
                next = queue.take();
              }
              f = next;
              remove(f);
            }
            const value = f.result();
            fill();
            yield value;
          }
          finished = true;
        } finally {
          if (!finished) cancelRest();
        }
      },
    } as unknown as AsyncIterable<R> & Iterable<R>;
  }
  return {
    async *[Symbol.asyncIterator]() {
      let finished = false;
      try {
        for (;;) {
          fill();
          if (inflight.length === 0) break;
          let f: Future<R>;
          if (ordered) {
            f = inflight.shift()!;
          } else {
            let next = queue.take();
            while (next === undefined) {
              await queue.next(undefined);
              next = queue.take();
            }
            f = next;
            remove(f);
          }
          fill();
          yield await f;
        }
        finished = true;
      } finally {
        if (!finished) cancelRest();
      }
    },
  } as unknown as AsyncIterable<R> & Iterable<R>;
}
