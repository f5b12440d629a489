/**
 * The public surface of the bus context (docs/bus.md): the `Bus` tag and its backends, topics, helpers,
 * the API's app bus, worker control and the worker registry. Other contexts import from here only.
 */

export {
  APP_BUS_CONNECT_TIMEOUT,
  APP_BUS_RETRY,
  AppBus,
  AppBusFromConfig,
  AppBusLive,
  type AppBusOptions,
  type AppBusService,
  connectFromLayer,
  disabledAppBus,
  makeAppBus,
  requireConnected
} from "./AppBus.js"
// The broker (`decnet bus`).
export {
  type BrokerHandle,
  type BrokerOptions,
  type BrokerStats,
  runBrokerMain,
  serveBroker
} from "./Broker.js"
// The service, its shapes and errors.
export {
  Bus,
  BusError,
  BusEvent,
  type BusService,
  ConnectionState,
  Payload
} from "./Bus.js"
// Backends. NatsBus is not re-exported: it loads the nats client at import time; BusLive (config-selected)
// imports it only when DECNET_BUS_TYPE=nats. Import "./NatsBus.js" directly if you need it by hand.
export { BUS_TYPES, BusLive, type BusLiveOptions, makeBus } from "./BusLive.js"
export {
  CONTROL_EVENT_TYPE,
  ControlAction,
  ControlPayload,
  requestStop,
  runControlListener,
  untilStopRequested
} from "./Control.js"
export { FAKE_QUEUE_SIZE, FakeBusLive, makeFakeBus } from "./FakeBus.js"
export { HEARTBEAT_INTERVAL, runHealthHeartbeat } from "./Heartbeat.js"
// Helpers for workers and the API.
export { publishSafely, publishSafelyOn } from "./Helpers.js"
export type { NatsBusOptions } from "./NatsBus.js"
export { NullBusLive, nullBus } from "./NullBus.js"
export {
  KNOWN_WORKERS,
  OK_WINDOW_SECONDS,
  WorkerName,
  WorkerRegistry,
  WorkerRegistryFromBus,
  WorkerRegistryLive,
  WorkerRow,
  WorkerStatus
} from "./Registry.js"
export { RUN_DIR, resolveSocketPath } from "./SocketPath.js"
// Topics: builders for every catalogue family (as a namespace) and the matcher.
export * as Topics from "./Topics.js"
export { isValidPattern, matches, validatePattern } from "./Topics.js"
export {
  makeUnixBus,
  UnixBusLive,
  type UnixBusOptions,
  type UnixBusService,
  type UnixBusStats
} from "./UnixBus.js"
// The wire codec, for tools that speak to the broker directly.
export * as Wire from "./Wire.js"
