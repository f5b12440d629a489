/**
 * In-process `Bus` for tests and single-process runs: publish fans one event out to every matching
 * subscription synchronously, the publisher included (no origin exclusion, no SUB race). Each
 * subscription has its own bounded queue (1024, drop-oldest, counted). Closed bus → BusError.
 */
import { randomBytes } from "node:crypto"
import { Effect, Either, Layer, Option, Queue, Ref, type Scope, Stream } from "effect"
import { Bus, BusError, type BusEvent, type BusService, type Payload } from "./Bus.js"
import { matches, publishTopicProblem, validatePattern } from "./Topics.js"

export const FAKE_QUEUE_SIZE = 1024

interface Sub {
  readonly pattern: string
  readonly queue: Queue.Queue<BusEvent>
  drops: number
}

export const makeFakeBus = (
  options: { readonly queueSize?: number } = {}
): Effect.Effect<BusService, never, Scope.Scope> =>
  Effect.gen(function* () {
    const size = options.queueSize ?? FAKE_QUEUE_SIZE
    const subs = new Set<Sub>()
    const closed = yield* Ref.make(false)
    yield* Effect.addFinalizer(() =>
      Ref.set(closed, true).pipe(
        Effect.zipRight(Effect.forEach(subs, (s) => Queue.shutdown(s.queue), { discard: true }))
      )
    )
    const ensureOpen = (op: string) =>
      Effect.flatMap(Ref.get(closed), (c) =>
        c ? Effect.fail(new BusError({ op, message: "bus is closed" })) : Effect.void
      )

    const publish = (topic: string, payload: Payload, eventType = "") =>
      Effect.gen(function* () {
        yield* ensureOpen("publish")
        const problem = publishTopicProblem(topic)
        if (problem !== undefined) return yield* new BusError({ op: "publish", message: problem })
        const event: BusEvent = {
          v: 1,
          id: randomBytes(16).toString("hex"),
          topic,
          type: eventType,
          ts: Date.now() / 1000,
          payload
        }
        for (const s of subs) {
          if (!matches(s.pattern, topic)) continue
          if (Option.getOrElse(s.queue.unsafeSize(), () => 0) >= size) {
            s.drops++
            yield* Effect.logWarning(`fake bus: subscription ${s.pattern} full, dropped oldest (${s.drops})`)
          }
          yield* Queue.offer(s.queue, event)
        }
      })

    const subscribe = (pattern: string) =>
      Effect.gen(function* () {
        yield* ensureOpen("subscribe")
        const valid = validatePattern(pattern)
        if (Either.isLeft(valid)) return yield* valid.left
        const queue = yield* Queue.sliding<BusEvent>(size)
        const sub: Sub = { pattern, queue, drops: 0 }
        yield* Effect.acquireRelease(
          Effect.sync(() => subs.add(sub)),
          () => Effect.sync(() => subs.delete(sub)).pipe(Effect.zipRight(Queue.shutdown(queue)))
        )
        return Stream.fromQueue(queue)
      })

    const state = Effect.map(Ref.get(closed), (c) => (c ? ("closed" as const) : ("connected" as const)))
    return { publish, subscribe, state } satisfies BusService
  })

export const FakeBusLive = (options: { readonly queueSize?: number } = {}): Layer.Layer<Bus> =>
  Layer.scoped(Bus, makeFakeBus(options))
