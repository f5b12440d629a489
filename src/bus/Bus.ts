/**
 * The `Bus` service: at-most-once "something changed" hints between DECNET workers (spec/bus.md).
 * The database stays the source of truth; every backend (unix, nats, fake, null) implements this tag.
 */
import { Context, type Effect, Mailbox, Schema, type Scope, type Stream } from "effect"

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

/** A subscription's queue: events in, one `Stream` out (see `makeSubscriptionQueue`). */
export type SubscriptionQueue = Mailbox.Mailbox<BusEvent>

/**
 * A subscription queue of `capacity` events that drops the oldest when full, for every backend
 * (unix, nats). It is an Effect `Mailbox` with the sliding strategy: `unsafeOffer` from a socket callback
 * keeps drop-oldest without running a fiber, offers made in one tick wake the consumer once, and
 * `subscriptionStream` reads it a whole chunk per take. Against the earlier `Queue` over a ring plus
 * `Stream.fromQueue`, a paced delivery allocates about half as much (≈23 → ≈13 KB per event woken; the
 * young-generation scavenges that follow are what the latency tail is made of). `shutdown` ends the stream
 * and discards what was queued. The bound is in events, not bytes: a subscription that stops consuming
 * holds up to `capacity` × the largest event (1024 × ≈1 MiB on the unix bus); callers that expect large
 * events pass a smaller capacity.
 */
export const makeSubscriptionQueue = (capacity: number): Effect.Effect<SubscriptionQueue> =>
  Mailbox.make<BusEvent>({ capacity: Math.max(1, capacity), strategy: "sliding" })

/** The events of a subscription queue, a chunk per wake-up; it ends when the queue is shut down. */
export const subscriptionStream = (queue: SubscriptionQueue): Stream.Stream<BusEvent> =>
  Mailbox.toStream(queue)
