// looplet/net: cooperative sockets for greenlets and gevent's StreamServer.
// TCP and Unix-domain stream sockets on non-blocking fds, readiness from the
// hub's poller, syscalls made by the addon (no Node stream in the path).
// Design notes: docs/net.md.
export {
  Socket,
  connect,
  listen,
  socketpair,
  openSocketCount,
  type SocketAddress,
  type TcpTarget,
  type UnixTarget,
  type ConnectOptions,
  type TcpListenOptions,
  type UnixListenOptions,
  type ShutdownHow,
} from './net/socket';
export { StreamServer, type Handler, type StreamServerOptions } from './net/server';
export { makeStream, DuplexSocket } from './net/stream';
export { BufferedReader, type Receiver, type BufferedReaderOptions, type IncompleteReadError } from './net/reader';
