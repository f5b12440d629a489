// The tarpit: the service behind both route groups, its watcher, `tc` and the namespace lookup.
import { Layer } from "effect"
import { Tarpit } from "./Tarpit.js"
import { TrafficControlLive } from "./TrafficControl.js"

export { ActiveConnection, TarpitStatus } from "./Model.js"
export {
  DeckyNamespaces,
  DockerNamespacesLive,
  fixedNamespaces,
  NamespaceLookupFailed,
  TarpitTarget
} from "./Namespaces.js"
export { establishedPeers, parseTcpTable, type TarpitPeer, type TcpSocket } from "./ProcNet.js"
export {
  NO_PEER,
  TARPIT_SERVICE,
  Tarpit,
  TarpitNotFound,
  TarpitUnavailable,
  targetOfKey, 
  tarpitKey
} from "./Tarpit.js"
export {
  TARPIT_HANDLE,
  TarpitCommandFailed,
  TrafficControl,
  TrafficControlLive,
  tarpitLines
} from "./TrafficControl.js"
export { runTarpitWatcher } from "./Watcher.js"

/** The tarpit of a process that runs `tc` itself; it needs DeckyNamespaces (where each decky's network is). */
export const TarpitLive = Tarpit.Default.pipe(Layer.provide(TrafficControlLive))
