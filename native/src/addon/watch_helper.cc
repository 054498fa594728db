#include "watch_helper.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

#include "lp_assert.h"

#if defined(__linux__)
#include <sys/eventfd.h>
#endif

namespace {

void close_fd(int fd) {
  int rc = close(fd);
  LP_ASSERT(rc == 0 || errno == EINTR);
}

// The wake-up fd(s): wake[0] is polled, wake[1] written. Returns 0 or
// -errno with *syscall set.
int open_wake_fds(int wake[2], const char **syscall) {
#if defined(__linux__)
  int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd == -1) {
    *syscall = "eventfd";
    return -errno;
  }
  wake[0] = wake[1] = fd;
#else
  if (pipe(wake) == -1) {
    *syscall = "pipe";
    return -errno;
  }
  for (int fd : {wake[0], wake[1]}) {
    int fl = fcntl(fd, F_GETFL);
    if (fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1 ||
        fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) {
      int err = -errno;
      close_fd(wake[0]);
      close_fd(wake[1]);
      *syscall = "fcntl";
      return err;
    }
  }
#endif
  return 0;
}

}  // namespace

WatchHelper *WatchHelper::Start(uv_loop_t *loop, Notify notify, void *owner, int *error,
                                const char **syscall) {
  WatchHelper *h = new WatchHelper;
  h->notify_ = notify;
  h->owner_ = owner;
  *error = open_wake_fds(h->wake_, syscall);
  if (*error < 0) {
    delete h;
    return nullptr;
  }
  *error = uv_async_init(loop, &h->async_, OnAsync);
  if (*error < 0) {
    *syscall = "uv_async_init";
    h->CloseWakeFds();
    delete h;
    return nullptr;
  }
  h->async_.data = h;
  *error = -pthread_create(&h->thread_, nullptr, ThreadMain, h);
  if (*error < 0) {
    *syscall = "pthread_create";
    h->CloseWakeFds();
    uv_close(h->handle(), [](uv_handle_t *a) { delete static_cast<WatchHelper *>(a->data); });
    return nullptr;
  }
  return h;
}

void WatchHelper::Arm(std::vector<struct pollfd> &&snapshot) {
  std::lock_guard<std::mutex> lock(mu_);
  snapshot_ = std::move(snapshot);
  bool polling = armed_;
  armed_ = true;
  if (polling)
    Wake();  // the thread is (about to be) in poll(): restart it
  else
    cv_.notify_one();
}

void WatchHelper::Stop(void (*closed)(void *), void *arg) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  Wake();
  int rc = pthread_join(thread_, nullptr);
  LP_ASSERT(rc == 0);
  owner_ = nullptr;
  closed_ = closed;
  closed_arg_ = arg;
  CloseWakeFds();
  uv_close(handle(), [](uv_handle_t *a) {
    WatchHelper *h = static_cast<WatchHelper *>(a->data);
    if (h->closed_ != nullptr) h->closed_(h->closed_arg_);
    delete h;
  });
}

void *WatchHelper::ThreadMain(void *arg) {
  static_cast<WatchHelper *>(arg)->Run();
  return nullptr;
}

// JS thread: a signal from Run(). A poll() error is handed over once.
void WatchHelper::OnAsync(uv_async_t *async) {
  WatchHelper *h = static_cast<WatchHelper *>(async->data);
  int error;
  {
    std::lock_guard<std::mutex> lock(h->mu_);
    error = h->error_;
    h->error_ = 0;
  }
  if (h->owner_) h->notify_(h->owner_, error);
}

// Invariant: the thread polls only while armed_, and clears armed_ (under
// mu_) before it signals, so each signal answers one Arm().
void WatchHelper::Run() {
  std::vector<struct pollfd> fds;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || armed_; });
      if (stop_) return;
      fds = snapshot_;
    }
    fds.push_back({wake_[0], POLLIN, 0});
    int rc = poll(fds.data(), (nfds_t)fds.size(), -1);
    int error = rc < 0 ? -errno : 0;
    if (error == -EINTR) continue;
    if (rc > 0 && fds.back().revents) {
      DrainWake();
      continue;  // stop, or a new snapshot
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
      armed_ = false;
      error_ = error;
    }
    int sent = uv_async_send(&async_);
    LP_ASSERT(sent == 0);
  }
}

void WatchHelper::Wake() {
#if defined(__linux__)
  uint64_t one = 1;
  const void *buf = &one;
  size_t len = sizeof one;
#else
  char one = 1;
  const void *buf = &one;
  size_t len = 1;
#endif
  ssize_t rc;
  do rc = write(wake_[1], buf, len);
  while (rc == -1 && errno == EINTR);
  // EAGAIN: a pipe full of earlier wake-ups; one is enough.
  LP_ASSERT(rc == (ssize_t)len || (rc == -1 && errno == EAGAIN));
}

void WatchHelper::DrainWake() {
  char buf[64];
  ssize_t rc;
  while ((rc = read(wake_[0], buf, sizeof buf)) > 0) {
  }
  LP_ASSERT(rc == -1 && (errno == EAGAIN || errno == EINTR));
}

void WatchHelper::CloseWakeFds() {
  close_fd(wake_[0]);
  if (wake_[1] != wake_[0]) close_fd(wake_[1]);
  wake_[0] = wake_[1] = -1;
}
