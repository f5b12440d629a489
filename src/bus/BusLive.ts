/**
 * The configuration-selected `Bus` layer (spec/bus.md §1.8 `get_bus`), from DecnetConfig's `bus`:
 * DECNET_BUS_ENABLED=false gives the null bus; otherwise DECNET_BUS_TYPE picks unix (default, the
 * `decnet bus` broker at DECNET_BUS_SOCKET or the default path), nats (DECNET_BUS_URL) or fake (in-process).
 * Backends are imported only when selected, so a unix worker never loads the nats client.
 */
import { Effect, Layer, Option, type Scope } from "effect"
import { type BusType, DecnetConfig } from "../config/DecnetConfig.js"
import { Bus, type BusError, type BusService } from "./Bus.js"
import { resolveSocketPath } from "./SocketPath.js"

export interface BusLiveOptions {
  /**
   * The name this client shows to the broker / NATS server; default DECNET_BUS_CLIENT_NAME, then
   * `decnet-bus-client[<pid>]`.
   */
  readonly clientName?: string
  /** Socket path override (e.g. `decnet bus --socket`); wins over DECNET_BUS_SOCKET. */
  readonly socketPath?: string
}

export const BUS_TYPES = ["unix", "nats", "fake"] as const satisfies ReadonlyArray<BusType>

/** The client name when the code gives none: the operator's DECNET_BUS_CLIENT_NAME, else one per process. */
export const defaultClientName = (configured: Option.Option<string>): string =>
  Option.getOrElse(configured, () => `decnet-bus-client[${process.pid}]`)

/** Build the selected backend in the current scope. */
export const makeBus = (
  options: BusLiveOptions = {}
): Effect.Effect<BusService, BusError, Scope.Scope | DecnetConfig> =>
  Effect.gen(function* () {
    const { bus: settings } = yield* DecnetConfig
    const name = options.clientName ?? defaultClientName(settings.clientName)
    if (!settings.enabled) {
      const { nullBus } = yield* Effect.promise(() => import("./NullBus.js"))
      return nullBus
    }
    switch (settings.type) {
      case "fake": {
        const { makeFakeBus } = yield* Effect.promise(() => import("./FakeBus.js"))
        return yield* makeFakeBus()
      }
      case "nats": {
        const { makeNatsBus, natsOptionsOf } = yield* Effect.promise(() => import("./NatsBus.js"))
        return yield* makeNatsBus({ ...natsOptionsOf(settings), name })
      }
      case "unix": {
        const socketPath = yield* resolveSocketPath(options.socketPath)
        const { makeUnixBus } = yield* Effect.promise(() => import("./UnixBus.js"))
        return yield* makeUnixBus({ socketPath, name })
      }
    }
  }).pipe(Effect.withSpan("Bus.make"))

/** The env-selected bus as a layer; closing it flushes pending publishes and says BYE. */
export const BusLive = (options: BusLiveOptions = {}): Layer.Layer<Bus, BusError, DecnetConfig> =>
  Layer.scoped(Bus, makeBus(options))
