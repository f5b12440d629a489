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
 * A fixed ring buffer behind an Effect `Queue`: the stock bounded backing queue rebuilds a Chunk one
 * prepend per element on every take, which dominated the cost of a delivery; this one copies once.
 */
class RingBuffer<A extends object> implements Queue.BackingQueue<A> {
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
    let rest: Array<A> | undefined
    for (const a of elements) {
      if (rest !== undefined || !this.offer(a)) (rest ??= []).push(a)
    }
    return rest === undefined ? Chunk.empty() : Chunk.unsafeFromArray(rest)
  }

  offer(element: A): boolean {
    if (this.size >= this.cap) return false
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
 * A subscription queue of `capacity` events with the sliding (drop-oldest) strategy, for every backend.
 * Offer through `Queue.offer`/`Queue.offerAll`: `unsafeOffer` would bypass the strategy.
 */
export const makeSubscriptionQueue = (capacity: number): Effect.Effect<Queue.Queue<BusEvent>> =>
  Queue.make(new RingBuffer<BusEvent>(Math.max(1, capacity)), Queue.slidingStrategy<BusEvent>())
