// The SSE keepalive (spec api §5.4, topology §8) as a unit, on the TestClock: a `: keepalive` after each
// interval of silence, again and again while the silence lasts, never while frames flow, and a frame moves
// the next one a whole interval on. The routes' streams use this helper (test/api/topologies.test.ts reads
// more than one keepalive off a real server with a short DECNET_SSE_KEEPALIVE_SECONDS).
import { describe, expect, it } from "@effect/vitest"
import { Chunk, type Duration, Effect, Fiber, Queue, Ref, Stream, TestClock } from "effect"
import { sseFrame, withKeepalive } from "../../src/api/handlers/Logs.js"

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)
const KEEPALIVE = ": keepalive\n\n"

/** The stream over a queue of frames, run in the background; what it sent so far, as text. */
const running = (interval: Duration.DurationInput) =>
  Effect.gen(function* () {
    const input = yield* Queue.unbounded<Uint8Array>()
    const sent = yield* Ref.make<ReadonlyArray<string>>([])
    const fiber = yield* withKeepalive(Stream.fromQueue(input), interval).pipe(
      Stream.runForEach((b) => Ref.update(sent, (xs) => [...xs, text(b)])),
      Effect.fork
    )
    // Let the stream start (and read its start time) before the clock moves.
    yield* TestClock.adjust(0)
    const after = (duration: Duration.DurationInput) =>
      Effect.zipRight(TestClock.adjust(duration), Ref.get(sent))
    return { input, sent: Ref.get(sent), after, fiber }
  })

describe("withKeepalive", () => {
  it.scoped("keeps sending a keepalive every interval while the stream is silent", () =>
    Effect.gen(function* () {
      const s = yield* running("15 seconds")
      expect(yield* s.after("14 seconds")).toEqual([])
      expect(yield* s.after("1 second")).toEqual([KEEPALIVE])
      expect(yield* s.after("15 seconds")).toEqual([KEEPALIVE, KEEPALIVE])
      expect(yield* s.after("45 seconds")).toEqual([KEEPALIVE, KEEPALIVE, KEEPALIVE, KEEPALIVE, KEEPALIVE])
      yield* Fiber.interrupt(s.fiber)
    })
  )

  it.scoped("a frame restarts the wait: no keepalive while frames come closer than the interval", () =>
    Effect.gen(function* () {
      const s = yield* running("15 seconds")
      const frame = sseFrame("status", { state: "active" })
      // A frame every 10 s for a minute: never 15 s of silence.
      for (let i = 0; i < 6; i++) {
        yield* TestClock.adjust("10 seconds")
        yield* Queue.offer(s.input, frame)
      }
      yield* TestClock.adjust(0)
      const busy = yield* s.sent
      expect(busy).toHaveLength(6)
      expect(busy.every((f) => f.startsWith("event: status\n"))).toBe(true)
      // Silence from the last frame: the keepalive comes 15 s after it, not on some earlier tick.
      expect((yield* s.after("14 seconds")).slice(6)).toEqual([])
      expect((yield* s.after("1 second")).slice(6)).toEqual([KEEPALIVE])
      expect((yield* s.after("15 seconds")).slice(6)).toEqual([KEEPALIVE, KEEPALIVE])
      yield* Fiber.interrupt(s.fiber)
    })
  )

  it.scoped("the frames pass through unchanged and in order", () =>
    Effect.gen(function* () {
      const frames = [sseFrame("a", { n: 1 }), sseFrame("b", { n: 2 })]
      const out = yield* withKeepalive(Stream.fromIterable(frames), "15 seconds").pipe(
        Stream.take(2),
        Stream.runCollect
      )
      expect(Chunk.toReadonlyArray(out).map(text)).toEqual(frames.map(text))
    })
  )
})
