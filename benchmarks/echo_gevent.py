"""gevent's StreamServer as the echo server of `looplet bench echo`.

    python3 echo_gevent.py [port]

A greenlet per connection, the handler of the seed tutorials (recv, sendall,
loop), TCP_NODELAY as the other servers have it. Prints "listening <port>"
once ready; stops on SIGTERM, and when its parent (the harness) dies.
"""
import ctypes
import os
import resource
import signal
import socket
import sys

import gevent
from gevent.server import StreamServer


def handle(sock, _address):
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                break
            sock.sendall(data)
    except OSError:
        pass  # ECONNRESET when the load generator goes


def prepare():
    """10,000 connections need more fds than a default soft limit of 1024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if sys.platform.startswith("linux"):
        parent = os.getppid()
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:
            sys.exit(1)


def main():
    prepare()
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    server = StreamServer(("127.0.0.1", port), handle, backlog=4096)
    server.start()
    print("listening", server.server_port, flush=True)
    gevent.signal_handler(signal.SIGTERM, server.stop)
    server.serve_forever()


if __name__ == "__main__":
    main()
