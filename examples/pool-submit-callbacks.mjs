// The seed tutorial's thread pool section (进程池和线程池): submit(fn, *args)
// hands a task to a pool of 2 threads, add_done_callback(callback) gets the
// future when it is done, and shutdown(wait=True) is close() + join().
// The tasks run on the pool's worker threads (sent by source, so they use
// only their arguments); the callbacks run back on the event loop's thread.
//
//   node examples/pool-submit-callbacks.mjs
import { ThreadPool } from 'looplet/pool';

// def task(n, m): print('456'); return n + m
function task(n, m) {
  console.log('456');
  return n + m;
}

// def callback(res): print(res.result()); print('123')
function callback(res) {
  console.log(res.result());
  console.log('123');
}

// pool = ThreadPoolExecutor(2)
const pool = new ThreadPool({ maxThreads: 2 });
pool.submit(task, 1, 2).addDoneCallback(callback); // task(n=1, m=2)
pool.submit(task, 6, 4).addDoneCallback(callback);
await pool.shutdown(); // pool.shutdown(): waits for both tasks

// 多个回调函数 (several callbacks): the second task returns a dict.
function task2(n, m) {
  return n + m;
}
function task1() {
  return { name: 'lin' };
}
// def callback(res): print(res.result())
function callbackResult(res) {
  console.log(res.result());
}
// def callback1(res): print(res.result()); print(res.result()['name'])
function callback1(res) {
  console.log(res.result());
  console.log(res.result().name);
}

const pool2 = new ThreadPool({ maxThreads: 2 });
pool2.submit(task2, 1, 2).addDoneCallback(callbackResult);
pool2.submit(task1).addDoneCallback(callback1);
await pool2.shutdown();
