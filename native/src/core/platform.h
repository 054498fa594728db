// Which readiness backends this platform has, decided from its system
// headers, so that every build of the core (node-gyp, CMake, an embedder's
// own) agrees without passing flags. A build may predefine LP_HAVE_EPOLL or
// LP_HAVE_KQUEUE as 0 to leave a backend out.
#ifndef LOOPLET_PLATFORM_H
#define LOOPLET_PLATFORM_H

#if !defined(LP_HAVE_EPOLL)
#if __has_include(<sys/epoll.h>)
#define LP_HAVE_EPOLL 1
#else
#define LP_HAVE_EPOLL 0
#endif
#endif

#if !defined(LP_HAVE_KQUEUE)
#if __has_include(<sys/event.h>)
#define LP_HAVE_KQUEUE 1
#else
#define LP_HAVE_KQUEUE 0
#endif
#endif

#endif
