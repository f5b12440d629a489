// Shared helpers for the bus suites: a temp socket path, polling, background event collection, and the
// topics and patterns every backend refuses.
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Ref, Schedule, Stream } from "effect"
import type { BusEvent } from "../../src/bus/Bus.js"

export const tempSocketPath = (prefix: string) => join(mkdtempSync(join(tmpdir(), prefix)), "bus.sock")

export const sleep = (ms: number) => Effect.sleep(`${ms} millis`)

/** Poll `check` every 20 ms, at most `tries` times; the last result is returned (callers assert on it). */
export const poll = <A>(check: Effect.Effect<A>, done: (a: A) => boolean, tries = 200) =>
  check.pipe(
    Effect.repeat({ schedule: Schedule.spaced("20 millis"), until: done, times: tries }),
    Effect.zipRight(check)
  )

/** Collect events from a stream into a Ref in the background. */
export const collect = (stream: Stream.Stream<BusEvent>) =>
  Effect.gen(function* () {
    const got = yield* Ref.make<ReadonlyArray<BusEvent>>([])
    yield* stream.pipe(
      Stream.runForEach((e) => Ref.update(got, (xs) => [...xs, e])),
      Effect.forkScoped
    )
    return got
  })

/** Topics every backend refuses to publish on, and patterns every backend refuses to subscribe to. */
export const BAD_TOPICS = ["", "a..b", "a.*", "a.>", "a b", "é.x", ".a", "a.\u0001", "a.\u001b[2J"]
export const BAD_PATTERNS = ["", "a.>.b", "a..b", "a b", "é.>", "a.\u0007"]
