/**
 * DECNET's embedding surface: one namespace per bounded context, plus the tags and layers a host program
 * wires most often. Importing this module loads no driver: dockerode, nats, ssh2 and the honeypot
 * modules load when a layer that needs them is built.
 */
import { Effect, Layer } from "effect"

export * as bus from "./bus/index.js"
export * as catalog from "./catalog/index.js"
export * as config from "./config/index.js"
export * as db from "./db/index.js"
export * as docker from "./docker/index.js"
export * as honeypots from "./honeypots/index.js"
export * as logging from "./logging/index.js"
export * as tracing from "./tracing/index.js"

// The service tags and their config-selected live layers.
export {
  AppBus,
  AppBusFromConfig,
  Bus,
  BusLive,
  FakeBusLive,
  NullBusLive,
  WorkerRegistry
} from "./bus/index.js"
export { DecnetConfig, DecnetConfigProvider } from "./config/index.js"
export { DbLive, MigrationsLive } from "./db/index.js"
export { Docker } from "./docker/index.js"
export { DecnetLogger } from "./logging/index.js"
export { TracingLive } from "./tracing/index.js"

/** The dockerode-backed `Docker` layer (address from `DOCKER_HOST`), loading dockerode only when built. */
export const DockerLive = Layer.unwrapEffect(
  Effect.map(
    Effect.promise(() => import("./docker/DockerLive.js")),
    (m) => m.DockerLive
  )
)
