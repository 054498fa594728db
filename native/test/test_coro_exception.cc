// C++ on coroutine stacks: exceptions thrown and caught inside a coroutine
// (across switches) unwind normally; one that escapes a coroutine's entry
// ends the process with SIGABRT instead of crossing the C ABI or the switch
// (checked in a child process).
#include "lp_test.h"

#include <signal.h>
#include <sys/wait.h>

#include <stdexcept>
#include <string>

namespace {

struct Counted {
  static int alive;
  Counted() { alive++; }
  ~Counted() { alive--; }
};
int Counted::alive = 0;

void *catching_entry(lp_coro_t *self, void *value) {
  long caught = 0;
  for (int i = 0; i < 3; i++) {
    try {
      Counted guard;
      lp_coro_switch(lp_coro_parent(self), reinterpret_cast<void *>(static_cast<intptr_t>(i)),
                     nullptr);
      throw std::runtime_error("round " + std::to_string(i));
    } catch (const std::runtime_error &e) {
      if (std::string(e.what()) == "round " + std::to_string(i)) caught++;
    }
  }
  return reinterpret_cast<void *>(caught + reinterpret_cast<intptr_t>(value));
}

void exceptions_inside_a_coroutine(lp_backend_t) {
  lp_coro_t *c = nullptr;
  void *got = nullptr;
  REQUIRE_EQ(lp_coro_new(&c, catching_entry, nullptr, 0), 0);
  for (int i = 0; i < 3; i++) {
    CHECK_EQ(lp_coro_switch(c, reinterpret_cast<void *>(100), &got), 0);
    CHECK_EQ(reinterpret_cast<intptr_t>(got), i);
    CHECK_EQ(Counted::alive, 1);  // the guard of the suspended frame
    // An exception thrown and caught here, while the coroutine is suspended
    // with its own handler frames, unwinds only this stack.
    try {
      throw std::logic_error("main");
    } catch (const std::logic_error &) {
    }
  }
  CHECK_EQ(lp_coro_switch(c, nullptr, &got), 0);
  CHECK_EQ(lp_coro_status(c), LP_CORO_DEAD);
  CHECK_EQ(reinterpret_cast<intptr_t>(got), 100 + 3);
  CHECK_EQ(Counted::alive, 0);
  CHECK_EQ(lp_coro_free(c), 0);
}

void *throwing_entry(lp_coro_t *, void *) { throw std::runtime_error("escapes"); }

void escaping_exception_aborts(lp_backend_t) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) dup2(devnull, 2);  // "terminate called after ..."
    alarm(20);
    lp_coro_t *c = nullptr;
    if (lp_coro_new(&c, throwing_entry, nullptr, 0) != 0) _exit(5);
    try {
      lp_coro_switch(c, nullptr, nullptr);
    } catch (...) {
      _exit(7);  // it must not reach the switching side
    }
    _exit(6);
  }
  REQUIRE(pid > 0);
  int status = 0;
  REQUIRE_EQ(waitpid(pid, &status, 0), pid);
  CHECK(WIFSIGNALED(status));
  if (WIFSIGNALED(status))
    CHECK_EQ(WTERMSIG(status), SIGABRT);
  else
    lpt_failf(__FILE__, __LINE__, "child exited with %d", WEXITSTATUS(status));
}

const lpt_case cases[] = {
    LPT_ONCE(exceptions_inside_a_coroutine),
    LPT_ONCE(escaping_exception_aborts),
};

}  // namespace

int main(int argc, char **argv) {
  return lpt_main(argc, argv, cases, static_cast<int>(sizeof cases / sizeof cases[0]));
}
