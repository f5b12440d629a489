/**
 * The `Bus` service: at-most-once "something changed" hints between DECNET workers (spec/bus.md).
 * The database stays the source of truth; every backend (unix, nats, fake, null) implements this tag.
 */
import { Chunk, Context, type Effect, Queue, Schema, type Scope, type Stream } from "effect"

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

/**
 * A fixed ring buffer behind an Effect `Queue` that drops its oldest element itself when full. The
 * stock bounded backing queue rebuilds a Chunk one prepend per element on every take, which dominated
 * the cost of a delivery; and because the ring slides by itself, `Queue.unsafeOffer` (which skips the
 * queue strategy) keeps drop-oldest semantics, so socket callbacks can offer without running a fiber.
 */
class SlidingRing<A extends object> implements Queue.BackingQueue<A> {
  readonly [Queue.BackingQueueTypeId] = { _A: (a: A) => a }
  private readonly items: Array<A | undefined>
  private head = 0
  private size = 0

  constructor(private readonly cap: number) {
    this.items = new Array<A | undefined>(cap)
  }

  poll<Def>(def: Def): A | Def {
    if (this.size === 0) return def
    const a = this.items[this.head]
    this.items[this.head] = undefined
    this.head = (this.head + 1) % this.cap
    this.size--
    return a === undefined ? def : a
  }

  pollUpTo(limit: number): Chunk.Chunk<A> {
    const n = Math.min(limit, this.size)
    if (n <= 0) return Chunk.empty()
    const out: Array<A> = []
    for (let i = 0; i < n; i++) {
      const a = this.items[this.head]
      this.items[this.head] = undefined
      this.head = (this.head + 1) % this.cap
      if (a !== undefined) out.push(a)
    }
    this.size -= n
    return Chunk.unsafeFromArray(out)
  }

  offerAll(elements: Iterable<A>): Chunk.Chunk<A> {
    for (const a of elements) this.offer(a)
    return Chunk.empty()
  }

  /** Always accepts: when full, the oldest element is overwritten (drop-oldest). */
  offer(element: A): boolean {
    if (this.size === this.cap) {
      this.items[this.head] = element
      this.head = (this.head + 1) % this.cap
      return true
    }
    this.items[(this.head + this.size) % this.cap] = element
    this.size++
    return true
  }

  capacity(): number {
    return this.cap
  }

  length(): number {
    return this.size
  }
}

/**
 * A subscription queue of `capacity` events that drops the oldest when full, for every backend. Any
 * offer keeps that policy, `Queue.unsafeOffer` included (the ring slides by itself; the sliding
 * strategy is kept as well, for the record). The bound is in events, not bytes: a subscription that
 * stops consuming holds up to `capacity` × the largest event (1024 × ≈1 MiB on the unix bus); callers
 * that expect large events pass a smaller capacity.
 */
export const makeSubscriptionQueue = (capacity: number): Effect.Effect<Queue.Queue<BusEvent>> =>
  Queue.make(new SlidingRing<BusEvent>(Math.max(1, capacity)), Queue.slidingStrategy<BusEvent>())
