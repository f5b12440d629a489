/**
 * The disabled bus (`DECNET_BUS_ENABLED=false`): publish drops, subscriptions end at once, nothing
 * ever fails, so workers run unchanged with their poll fallbacks.
 */
import { Effect, Layer, Stream } from "effect"
import { Bus, type BusService } from "./Bus.js"

export const nullBus: BusService = {
  publish: () => Effect.void,
  subscribe: () => Effect.succeed(Stream.empty),
  state: Effect.succeed("closed")
}

export const NullBusLive: Layer.Layer<Bus> = Layer.succeed(Bus, nullBus)
