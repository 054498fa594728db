// looplet: native-accelerated event-loop toolkit for Node.js.
export {
  Poller,
  EVENT_READ,
  EVENT_WRITE,
  EDGE_TRIGGERED,
  ONESHOT,
  type Backend,
  type Capabilities,
  type FileLike,
  type PollerOptions,
  type ReadyList,
  type SelectorKey,
  type WatchCallback,
} from './poller';
export * as sys from './sys';
export {
  Greenlet,
  GreenletExit,
  getcurrent,
  settrace,
  gettrace,
  setSwitchSpin,
  getSwitchSpin,
  asyncContextPerGreenlet,
  setIdleThreadTimeout,
  type GreenletOptions,
  type TraceEvent,
  type TraceFunction,
} from './greenlet';
export * from './hub';
export * as net from './net';
export type { CodedError, SystemError } from './errors';
