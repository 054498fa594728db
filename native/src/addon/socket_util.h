// Socket helpers shared by the sys and net bindings: creating non-blocking,
// close-on-exec sockets, parsing numeric addresses, converting addresses
// back, and the { errno, syscall } failure value both bindings return.
#ifndef LOOPLET_SOCKET_UTIL_H
#define LOOPLET_SOCKET_UTIL_H

#include <napi.h>
#include <sys/socket.h>

#include <string>

namespace lp_sock {

// { errno, syscall }: a failure of one of several calls (error is -errno).
Napi::Value Failure(Napi::Env env, int error, const char *syscall);

// close(), asserting it did not fail for a reason other than EINTR.
void CloseFd(int fd);

// Makes fd non-blocking and close-on-exec where socket() could not (no
// SOCK_NONBLOCK). Returns 0 or -errno.
int SetFlags(int fd);

// socket(), non-blocking and close-on-exec. Returns the fd, or -errno with
// *syscall set.
int NewSocket(int domain, int type, const char **syscall);

// A numeric IPv4 or IPv6 address (with an optional %scope) and a port, as a
// sockaddr: getaddrinfo with AI_NUMERICHOST never makes a name lookup.
bool ParseAddr(const std::string &host, int port, sockaddr_storage *sa, socklen_t *len);

// An AF_UNIX address for path; a path starting with '\0' is Linux's abstract
// namespace (the length counts). False when it does not fit sun_path.
bool UnixAddr(const std::string &path, sockaddr_storage *sa, socklen_t *len);

// { family: 'IPv4' | 'IPv6', address, port } or { family: 'unix', path }.
Napi::Value AddressValue(Napi::Env env, const sockaddr_storage *sa, socklen_t len);

}  // namespace lp_sock

#endif
