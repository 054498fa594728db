// WatchHelper: how watch() waits for backends that have no pollable fd (poll,
// select). A helper thread poll()s a snapshot of the poller's interest set
// plus a wake-up fd; when something is ready, or poll() fails, it signals a
// uv_async_t on the JS thread's loop and sleeps until the next Arm(). It
// never touches the lp_poller_t, so the poller needs no lock.
#ifndef LOOPLET_WATCH_HELPER_H
#define LOOPLET_WATCH_HELPER_H

#include <poll.h>
#include <pthread.h>
#include <uv.h>

#include <condition_variable>
#include <mutex>
#include <vector>

class WatchHelper {
 public:
  // Called on the JS thread: error is 0 when the snapshot may have events,
  // or poll()'s negative errno (the helper then waits for Arm() again).
  using Notify = void (*)(void *owner, int error);

  // Creates the wake-up fd, a uv_async_t on loop and the thread. On failure
  // returns null with *error (negative errno) and *syscall set, and leaves
  // nothing behind.
  static WatchHelper *Start(uv_loop_t *loop, Notify notify, void *owner, int *error,
                            const char **syscall);

  // JS thread. Replaces the snapshot and lets the thread poll it, waking a
  // poll() in progress.
  void Arm(std::vector<struct pollfd> &&snapshot);
  // JS thread. Stops and joins the thread, closes the wake-up fd and the
  // uv_async_t; the helper frees itself in the handle's close callback,
  // which calls closed(arg) first.
  void Stop(void (*closed)(void *), void *arg);
  uv_handle_t *handle() { return (uv_handle_t *)&async_; }

 private:
  WatchHelper() = default;
  static void *ThreadMain(void *arg);
  static void OnAsync(uv_async_t *async);
  void Run();
  void Wake();
  void DrainWake();
  void CloseWakeFds();

  uv_async_t async_;
  pthread_t thread_;
  Notify notify_ = nullptr;
  void *owner_ = nullptr;  // JS thread only; null once stopped
  void (*closed_)(void *) = nullptr;
  void *closed_arg_ = nullptr;
  // Linux: one eventfd (wake_[0] == wake_[1]); elsewhere a pipe.
  int wake_[2] = {-1, -1};

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<struct pollfd> snapshot_;  // guarded by mu_
  bool armed_ = false;                   // guarded by mu_: a snapshot is waiting to be polled
  bool stop_ = false;                    // guarded by mu_
  int error_ = 0;                        // guarded by mu_: poll()'s -errno, for OnAsync
};

#endif
