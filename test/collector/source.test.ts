// The Docker source's reconnect logic on the in-memory engine (logic only; the real engine is in
// docker.test.ts): a broken event stream is dialled again after 1 s, 2 s, 4 s, … (TestClock), at most 30 s.
import * as path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { Collector } from "../../src/collector/Collector.js"
import { makeCursorStore } from "../../src/collector/Cursor.js"
import { isServiceContainer, startDockerSource } from "../../src/collector/DockerSource.js"
import { evidencePaths } from "../../src/collector/Record.js"
import { Docker } from "../../src/docker/Docker.js"
import { DockerError } from "../../src/docker/DockerError.js"
import { makeDockerTest } from "../../src/docker/DockerTest.js"
import { harness } from "./support.js"

const broken = new DockerError({ op: "events", reason: "stream", message: "connection reset" })

describe("docker source", () => {
  it("recognises fleet and topology deckies by label", () => {
    expect(isServiceContainer({ "decnet.fleet.service": "true", "decnet.fleet.decky": "d1" })).toBe(true)
    expect(isServiceContainer({ "decnet.topology.service": "true" })).toBe(true)
    expect(isServiceContainer({ "decnet.fleet.service": "false" })).toBe(false)
    expect(isServiceContainer({ "decnet.fleet.decky": "d1" })).toBe(false)
  })

  it.scoped("reconnects the engine's event stream with back-off 1 s → 2 s → 4 s … capped at 30 s", () =>
    Effect.gen(function* () {
      const h = yield* harness()
      const { docker, control } = yield* makeDockerTest()
      const cursors = yield* Effect.orDie(makeCursorStore(evidencePaths(path.join(h.dir, "decnet.log"))))
      const dials = Effect.map(control.calls, (cs) => cs.filter((c) => c.op === "events").length)
      const settle = Effect.repeatN(Effect.yieldNow(), 20)

      // Every dial fails until told otherwise.
      yield* control.failNext("events", broken)
      yield* startDockerSource(cursors, { reconcileSec: 0 }).pipe(
        Effect.provideService(Docker, docker),
        Effect.provideService(Collector, h.collector)
      )
      yield* settle
      expect(yield* dials).toBe(1)
      const expectDialAfter = (ms: number, total: number) =>
        Effect.gen(function* () {
          yield* control.failNext("events", broken)
          yield* TestClock.adjust(ms - 1)
          yield* settle
          expect(yield* dials).toBe(total - 1)
          yield* TestClock.adjust(1)
          yield* settle
          expect(yield* dials).toBe(total)
        })
      yield* expectDialAfter(1_000, 2)
      yield* expectDialAfter(2_000, 3)
      yield* expectDialAfter(4_000, 4)
      yield* expectDialAfter(8_000, 5)
      yield* expectDialAfter(16_000, 6)
      yield* expectDialAfter(30_000, 7)
      yield* expectDialAfter(30_000, 8)
      // The engine is back: this dial holds, no more are made.
      yield* TestClock.adjust(30_000)
      yield* settle
      expect(yield* dials).toBe(9)
      yield* TestClock.adjust(120_000)
      yield* settle
      expect(yield* dials).toBe(9)
    })
  )
})
