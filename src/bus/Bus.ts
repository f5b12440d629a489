/**
 * The `Bus` service: at-most-once "something changed" hints between DECNET workers (spec/bus.md).
 * The database stays the source of truth; every backend (unix, nats, fake, null) implements this tag.
 */
import { Context, type Effect, Schema, type Scope, type Stream } from "effect"

/** JSON object payload carried by an event. */
export const Payload = Schema.Record({ key: Schema.String, value: Schema.Unknown })
export type Payload = typeof Payload.Type

/** The envelope, in wire key order: `{v, id, topic, type, ts, payload}` (spec/bus.md §1.4). */
export const BusEvent = Schema.Struct({
  v: Schema.Number,
  id: Schema.String,
  topic: Schema.String,
  type: Schema.String,
  ts: Schema.Number,
  payload: Payload
})
export type BusEvent = typeof BusEvent.Type

export const ConnectionState = Schema.Literal("connecting", "connected", "disconnected", "closed")
export type ConnectionState = typeof ConnectionState.Type

/** A bus failure: bad topic/pattern, transport down, protocol violation. */
export class BusError extends Schema.TaggedError<BusError>()("BusError", {
  op: Schema.String,
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}

export interface BusService {
  /** Fire-and-forget: never blocks the caller on the transport; drops (and logs) when the bus is down. */
  readonly publish: (topic: string, payload: Payload, eventType?: string) => Effect.Effect<void, BusError>
  /**
   * Register a subscription for `pattern` (`*` = one token, `>` = one or more trailing tokens).
   * The subscription lives as long as the surrounding scope; the stream yields matching events.
   */
  readonly subscribe: (pattern: string) => Effect.Effect<Stream.Stream<BusEvent>, BusError, Scope.Scope>
  /** Current connection state. */
  readonly state: Effect.Effect<ConnectionState>
}

export class Bus extends Context.Tag("decnet/Bus")<Bus, BusService>() {}
