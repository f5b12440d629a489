/**
 * NATS backend of the `Bus` tag (multi-host deployments): same envelope `{v,id,topic,type,ts,payload}`
 * (JSON) and the same topics as the unix broker; NATS subjects match our `*` / `>` wildcards natively.
 * Publish is a buffered, non-blocking write; each subscription is a scoped Stream over a bounded queue.
 */
import { Effect, Either, Layer, Option, Redacted, Ref, Runtime, type Scope, type Stream } from "effect"
import { connect, type NatsConnection } from "nats"
import { DecnetConfig, type DecnetSettings } from "../config/DecnetConfig.js"
import {
  Bus,
  BusError,
  type BusEvent,
  type BusService,
  type ConnectionState,
  makeSubscriptionQueue,
  type Payload,
  subscriptionStream
} from "./Bus.js"
import { publishTopicProblem, validatePattern } from "./Topics.js"
import { decodeBody, eventFromBody, newEventId, WireError } from "./Wire.js"

export interface NatsBusOptions {
  readonly url?: string
  readonly name?: string
}

/** Per-subscription queue bound; the oldest event is dropped (and counted) when it is full. */
export const SUBSCRIPTION_QUEUE_SIZE = 1024

export const DEFAULT_NATS_URL = "nats://127.0.0.1:4222"

const encoder = new TextEncoder()

// Pooled entropy: one getrandom per 1024 ids (randomBytes per event was most of the publish cost).
const newId = newEventId

/**
 * Rebuild an event from a NATS message with the unix client's decoder: the subject is authoritative
 * for `topic` (anti-spoofing), and invalid, non-object or too deeply nested JSON is undefined, never a throw.
 */
const decodeEvent = (subject: string, data: Uint8Array): BusEvent | undefined => {
  const body = decodeBody(data)
  return body instanceof WireError ? undefined : eventFromBody(subject, body)
}

/** The URL for messages and logs: any `user:password@` part is masked. */
export const withoutCredentials = (url: string): string => url.replace(/\/\/[^/@]*@/, "//***@")

export const makeNatsBus = (options: NatsBusOptions = {}): Effect.Effect<BusService, BusError, Scope.Scope> =>
  Effect.gen(function* () {
    const url = options.url ?? DEFAULT_NATS_URL
    const name = options.name ?? `decnet-bus-client[${process.pid}]`
    const runtime = yield* Effect.runtime<never>()
    const runLog = Runtime.runFork(runtime)
    const state = yield* Ref.make<ConnectionState>("connecting")

    const nc: NatsConnection = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => connect({ servers: url, name, reconnect: true, maxReconnectAttempts: -1 }),
        catch: (cause) =>
          new BusError({
            op: "connect",
            message: `cannot connect to NATS at ${withoutCredentials(url)}: ${String(cause)}`,
            cause
          })
      }),
      (conn) =>
        // drain flushes buffered publishes before closing; bounded so a dead server cannot hang shutdown.
        Effect.tryPromise(() => conn.drain()).pipe(
          // Finalizers run uninterruptibly; without this the timeout could never cut a drain that hangs.
          Effect.interruptible,
          Effect.timeout("2 seconds"),
          Effect.ignore,
          Effect.zipRight(Effect.promise(() => conn.close().catch(() => undefined))),
          Effect.zipRight(Ref.set(state, "closed"))
        )
    )
    yield* Ref.set(state, "connected")

    const onStatus = (type: string): Effect.Effect<void> => {
      switch (type) {
        case "disconnect":
          return Ref.set(state, "disconnected").pipe(Effect.zipRight(Effect.logWarning("NATS disconnected")))
        case "reconnecting":
          return Ref.set(state, "connecting")
        case "reconnect":
          return Ref.set(state, "connected").pipe(Effect.zipRight(Effect.logInfo("NATS reconnected")))
        default:
          return Effect.void
      }
    }
    // Boundary adapter: the status iterator ends by itself when the connection closes. It is not a
    // scoped fiber because interrupting a pending `next()` makes nats' iterator `return()` hang.
    yield* Effect.sync(() => {
      void (async () => {
        for await (const s of nc.status()) runLog(onStatus(s.type))
      })().catch(() => undefined)
    })

    let closedDrops = 0
    const publish = (topic: string, payload: Payload, eventType = ""): Effect.Effect<void, BusError> =>
      Effect.suspend(() => {
        // NATS rejects whitespace and would take wildcards in a publish subject literally; the shared check
        // refuses both, and everything the unix bus refuses, so every backend fails alike.
        const bad = publishTopicProblem(topic)
        if (bad !== undefined) return Effect.fail(new BusError({ op: "publish", message: bad }))
        if (nc.isClosed()) {
          closedDrops++
          return closedDrops === 1
            ? Effect.logWarning(`bus closed: dropping publish on ${topic}`)
            : Effect.logDebug(`bus closed: dropping publish on ${topic}`)
        }
        const event: BusEvent = { v: 1, id: newId(), topic, type: eventType, ts: Date.now() / 1000, payload }
        try {
          // Buffered by the client and flushed by its own loop: the caller never waits on the socket.
          nc.publish(topic, encoder.encode(JSON.stringify(event)))
          return Effect.void
        } catch (cause) {
          return Effect.logWarning(`NATS publish on ${topic} dropped: ${String(cause)}`)
        }
      })

    const subscribe = (pattern: string): Effect.Effect<Stream.Stream<BusEvent>, BusError, Scope.Scope> =>
      Effect.gen(function* () {
        const valid = validatePattern(pattern)
        if (Either.isLeft(valid)) return yield* valid.left
        if (nc.isClosed()) return yield* new BusError({ op: "subscribe", message: "bus is closed" })
        const queue = yield* Effect.acquireRelease(
          makeSubscriptionQueue(SUBSCRIPTION_QUEUE_SIZE),
          (q) => q.shutdown
        )
        let drops = 0
        // Messages arriving in one I/O callback burst are offered together, once per microtask
        // instead of one per message (the per-message fiber dominated the cost of a delivery).
        let pending: Array<BusEvent> = []
        const deliver = () => {
          const batch = pending
          pending = []
          const over = Option.getOrElse(queue.unsafeSize(), () => 0) + batch.length - SUBSCRIPTION_QUEUE_SIZE
          if (over > 0) {
            const before = drops
            drops += over
            if (before === 0 || Math.floor(before / 1000) !== Math.floor(drops / 1000)) {
              runLog(
                Effect.logWarning(`subscription ${pattern} full: dropped oldest event (${drops} so far)`)
              )
            }
          }
          // The sliding mailbox drops its oldest itself.
          for (const e of batch) queue.unsafeOffer(e)
        }
        yield* Effect.acquireRelease(
          Effect.try({
            try: () =>
              nc.subscribe(pattern, {
                callback: (err, msg) => {
                  if (err !== null) return
                  const event = decodeEvent(msg.subject, msg.data)
                  if (event === undefined) {
                    runLog(Effect.logWarning(`undecodable NATS message on ${msg.subject} skipped`))
                    return
                  }
                  if (pending.push(event) === 1) queueMicrotask(deliver)
                }
              }),
            catch: (cause) => new BusError({ op: "subscribe", message: String(cause), cause })
          }),
          (sub) =>
            Effect.sync(() => {
              if (!sub.isClosed()) sub.unsubscribe()
            })
        ).pipe(
          // When the connection closes under us, end the stream instead of leaving it hanging.
          Effect.tap((sub) =>
            Effect.promise(() => sub.closed.catch(() => undefined)).pipe(
              Effect.zipRight(queue.shutdown),
              Effect.forkScoped
            )
          )
        )
        return subscriptionStream(queue)
      })

    const currentState = Effect.suspend(() =>
      nc.isClosed() ? Effect.succeed<ConnectionState>("closed") : Ref.get(state)
    )

    return { publish, subscribe, state: currentState } satisfies BusService
  })

/** Options from DecnetConfig's `bus`: DECNET_BUS_URL (default nats://127.0.0.1:4222), DECNET_BUS_CLIENT_NAME. */
export const natsOptionsOf = (bus: DecnetSettings["bus"]): NatsBusOptions => {
  const url = Option.match(bus.url, { onNone: () => DEFAULT_NATS_URL, onSome: Redacted.value })
  return Option.match(bus.clientName, { onNone: () => ({ url }), onSome: (name) => ({ url, name }) })
}

/** The NATS bus as a layer: at explicit options, or, given none, at the ones DecnetConfig holds. */
export function NatsBusLive(): Layer.Layer<Bus, BusError, DecnetConfig>
export function NatsBusLive(options: NatsBusOptions): Layer.Layer<Bus, BusError>
export function NatsBusLive(options?: NatsBusOptions): Layer.Layer<Bus, BusError, DecnetConfig> {
  return Layer.scoped(
    Bus,
    (options === undefined
      ? Effect.map(DecnetConfig, (settings) => natsOptionsOf(settings.bus))
      : Effect.succeed(options)
    ).pipe(Effect.flatMap(makeNatsBus))
  )
}
