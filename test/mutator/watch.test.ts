// The watch loop (spec/topology.md §9 `run_watch_loop`, workers §4.9) on TestClock and the fake bus: it
// sleeps min(next due, poll) with a 1 s floor, a `decky.<name>.mutate_request` wakes it and forces that
// decky, the deployment presence is logged only when it changes, and it beats and stops like every worker.
import { describe, expect, it, layer } from "@effect/vitest"
import { Chunk, Effect, Fiber, Layer, Logger, Option, Queue, Ref, Stream, TestClock } from "effect"
import type { BusEvent } from "../../src/bus/Bus.js"
import { requestStop } from "../../src/bus/Control.js"
import { nullBus } from "../../src/bus/NullBus.js"
import { Bus } from "../../src/bus/Bus.js"
import { FleetStore } from "../../src/fleet/Store.js"
import { requestedDecky, runWatchLoop, sleepSeconds } from "../../src/mutator/Watch.js"
import { TopologyRuntime } from "../../src/topology/Runtime.js"
import { TopologyRepo } from "../../src/topology/TopologyRepo.js"
import { sqliteBackend } from "../db/backends.js"
import { fleetLayer, makeDecky, makeDeployment } from "../fleet/fakeRuntime.js"
import { makeRecorderRuntime } from "../topology/recorder.js"
import { makeWorld, type World } from "./support.js"

// The tests of one `layer` share its TestClock, and an interrupted loop's sleeps stay in its list: each
// test starts at an epoch of its own (ms), so no sleep of an earlier test can look like one of its own.
let NOW = 1_800_000_000_000
const freshEpoch = Effect.suspend(() => {
  NOW += 1_000_000_000
  return TestClock.setTime(NOW)
})
const { backend } = sqliteBackend()

/** The fleet's database, plus the topology queue over it and a runtime that only records (§8 wiring). */
const recorder = Effect.runSync(makeRecorderRuntime())
const watchLayer = Layer.mergeAll(
  fleetLayer(backend),
  TopologyRepo.Default.pipe(Layer.provide(backend.layer)),
  Layer.succeed(TopologyRuntime, recorder.service)
)

/** Wait (real time, bounded) until `cond` holds: the loop runs on its own fiber and the database is real I/O. */
const until = (what: string, cond: Effect.Effect<boolean>) =>
  Effect.gen(function* () {
    for (let i = 0; i < 1000; i++) {
      if (yield* cond) return
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 5)))
    }
    return yield* Effect.dieMessage(`timed out waiting for ${what}`)
  })

/** The loop is asleep until `at` (TestClock ms): it has finished its tick. */
const sleepingUntil = (at: number) =>
  until(
    `a sleep until +${(at - NOW) / 1000}s`,
    Effect.map(TestClock.sleeps(), (s) => Chunk.toArray(s).includes(at))
  )

const upsOf = (w: World) => Effect.map(Ref.get(w.runtime.ups), (xs) => xs.map((u) => u.decky))

const startLoop = (w: World, pollSeconds?: number) =>
  Effect.gen(function* () {
    const logs = yield* Ref.make<ReadonlyArray<string>>([])
    const capture = Logger.make(({ message }) => {
      const text = Array.isArray(message) ? message.map(String).join(" ") : String(message)
      Effect.runSync(Ref.update(logs, (xs) => [...xs, text]))
    })
    const fiber = yield* w
      .provide(runWatchLoop(pollSeconds === undefined ? {} : { pollSeconds }))
      .pipe(Effect.provide(Logger.replace(Logger.defaultLogger, capture)), Effect.forkScoped)
    const count = (line: string) => Effect.map(Ref.get(logs), (xs) => xs.filter((x) => x === line).length)
    return { fiber, logs, count }
  })

describe("sleepSeconds and requestedDecky", () => {
  it("sleeps the poll when nothing is pending or the next decky is further away, else until it, at least 1 s", () => {
    expect(sleepSeconds(undefined, 10)).toBe(10)
    expect(sleepSeconds(600, 10)).toBe(10)
    expect(sleepSeconds(10, 10)).toBe(10)
    expect(sleepSeconds(4.5, 10)).toBe(4.5)
    expect(sleepSeconds(0.2, 10)).toBe(1)
  })

  it("the decky is the topic's second token, else the payload's name", () => {
    const ev = (topic: string, payload: Record<string, unknown> = {}): BusEvent => ({
      v: 1,
      id: "x",
      topic,
      type: "",
      ts: 0,
      payload
    })
    expect(requestedDecky(ev("decky.web01.mutate_request"))).toBe("web01")
    expect(requestedDecky(ev("decky..mutate_request", { name: "db01" }))).toBe("db01")
    expect(requestedDecky(ev("decky..mutate_request", { name: 7 }))).toBeUndefined()
  })
})

describe("runWatchLoop", () => {
  layer(watchLayer, { timeout: "60 seconds" })((it) => {
    it.scoped("sleeps until the next decky is due, mutates it (scheduled), then sleeps the poll", () =>
      Effect.gen(function* () {
        yield* freshEpoch
        const w = yield* makeWorld(
          makeDeployment([makeDecky("soon01", { mutate_interval: 1, last_mutated: NOW / 1000 - 55 })])
        )
        yield* startLoop(w)
        yield* sleepingUntil(NOW + 5_000)
        expect(yield* upsOf(w)).toEqual([])
        yield* TestClock.adjust("4 seconds")
        expect(yield* upsOf(w)).toEqual([])
        yield* TestClock.adjust("1 second")
        yield* until(
          "the mutation",
          Effect.map(upsOf(w), (u) => u.length === 1)
        )
        expect((yield* Queue.take(w.mutations)).payload).toMatchObject({
          decky: "soon01",
          trigger: "scheduled"
        })
        // Nothing else pending (soon01 was just rotated): the poll.
        yield* sleepingUntil(NOW + 15_000)
      })
    )

    it.scoped("a custom poll caps the sleep; a decky due in 0.3 s waits the 1 s floor", () =>
      Effect.gen(function* () {
        yield* freshEpoch
        const w = yield* makeWorld(
          makeDeployment([makeDecky("later01", { mutate_interval: 60, last_mutated: NOW / 1000 - 60 })])
        )
        yield* startLoop(w, 3)
        yield* sleepingUntil(NOW + 3_000)
        yield* TestClock.adjust("3 seconds")
        yield* sleepingUntil(NOW + 6_000)

        // Due 0.3 s after the next tick (at +6 s): the loop sleeps the 1 s floor, not 0.3 s.
        const store = yield* FleetStore
        yield* store.save(
          makeDeployment([
            makeDecky("now01", { mutate_interval: 1, last_mutated: (NOW + 6_000) / 1000 - 59.7 })
          ])
        )
        yield* TestClock.adjust("3 seconds")
        yield* sleepingUntil(NOW + 7_000)
        yield* TestClock.adjust("900 millis")
        expect(yield* upsOf(w)).toEqual([])
        yield* TestClock.adjust("100 millis")
        yield* until(
          "the mutation",
          Effect.map(upsOf(w), (u) => u.length === 1)
        )
        expect(yield* upsOf(w)).toEqual(["now01"])
      })
    )

    it.scoped("decky.<name>.mutate_request wakes the loop at once and forces that decky (operator)", () =>
      Effect.gen(function* () {
        yield* freshEpoch
        const w = yield* makeWorld(
          makeDeployment([makeDecky("web01"), makeDecky("db01")], { mutate_interval: null })
        )
        yield* startLoop(w)
        yield* sleepingUntil(NOW + 10_000)
        expect(yield* upsOf(w)).toEqual([])
        yield* w.bus.publish("decky.db01.mutate_request", {}, "mutate_request")
        yield* until(
          "the forced mutation",
          Effect.map(upsOf(w), (u) => u.length === 1)
        )
        expect(yield* upsOf(w)).toEqual(["db01"])
        expect((yield* Queue.take(w.mutations)).payload).toMatchObject({ decky: "db01", trigger: "operator" })
        // Still at the same instant: the request did not wait for the poll.
        expect(yield* TestClock.currentTimeMillis).toBe(NOW)
      })
    )

    it.scoped(
      "§54 topology.<id>.mutation.enqueued wakes the loop, which drains that topology's queue at once",
      () =>
        Effect.gen(function* () {
          yield* freshEpoch
          const w = yield* makeWorld(undefined)
          const repo = yield* TopologyRepo
          const t = yield* repo.createTopology({
            name: `watch-${process.pid}-${NOW}`,
            mode: "unihost",
            config_snapshot: { blank: true }
          })
          yield* repo.addLan({ topology_id: t.id, name: "dmz", subnet: "10.9.0.0/24", is_dmz: true })
          yield* repo.updateStatus(t.id, "active")
          const applied = yield* Queue.unbounded<BusEvent>()
          yield* (yield* w.bus.subscribe(`topology.${t.id}.mutation.applied`)).pipe(
            Stream.runForEach((e) => Queue.offer(applied, e)),
            Effect.forkScoped
          )
          yield* startLoop(w)
          yield* sleepingUntil(NOW + 10_000)
          const id = yield* repo.enqueueMutation(t.id, "add_lan", { name: "lan-a", subnet: "10.9.1.0/24" })
          yield* w.bus.publish(
            `topology.${t.id}.mutation.enqueued`,
            { mutation_id: id, op: "add_lan" },
            "enqueued"
          )
          expect((yield* Queue.take(applied)).payload).toEqual({ mutation_id: id, op: "add_lan" })
          // Woken, not polled: the clock has not moved.
          expect(yield* TestClock.currentTimeMillis).toBe(NOW)
          expect((yield* repo.listLans(t.id)).map((l) => l.name)).toEqual(["dmz", "lan-a"])
          yield* repo.deleteTopologyCascade(t.id)
        })
    )

    it.scoped("logs the deployment's presence only when it changes", () =>
      Effect.gen(function* () {
        yield* freshEpoch
        const w = yield* makeWorld(undefined)
        const loop = yield* startLoop(w)
        const idle = "no active deployment; idling"
        const active = "active deployment observed"
        yield* sleepingUntil(NOW + 10_000)
        for (let i = 1; i <= 3; i++) {
          yield* TestClock.adjust("10 seconds")
          yield* sleepingUntil(NOW + (i + 1) * 10_000)
        }
        expect(yield* loop.count(idle)).toBe(1)

        const store = yield* FleetStore
        yield* store.save(makeDeployment([makeDecky("web01")]))
        for (let i = 4; i <= 5; i++) {
          yield* TestClock.adjust("10 seconds")
          yield* sleepingUntil(NOW + (i + 1) * 10_000)
        }
        expect(yield* loop.count(active)).toBe(1)

        yield* store.clear()
        yield* TestClock.adjust("10 seconds")
        yield* sleepingUntil(NOW + 70_000)
        expect(yield* loop.count(idle)).toBe(2)
        expect(yield* loop.count(active)).toBe(1)
      })
    )

    it.scoped("beats on system.mutator.health and returns on a stop intent", () =>
      Effect.gen(function* () {
        yield* freshEpoch
        const w = yield* makeWorld(undefined)
        const beats = yield* Queue.unbounded<BusEvent>()
        yield* (yield* w.bus.subscribe("system.mutator.health")).pipe(
          Stream.runForEach((e) => Queue.offer(beats, e)),
          Effect.forkScoped
        )
        const loop = yield* startLoop(w)
        const first = yield* Queue.take(beats)
        expect(first.payload).toEqual({ worker: "mutator", ts: NOW / 1000 })
        yield* sleepingUntil(NOW + 10_000)
        yield* requestStop("mutator", "alice").pipe(Effect.provideService(Bus, w.bus))
        yield* Fiber.join(loop.fiber)
      })
    )

    it.scoped("runs on its poll alone with the null bus", () =>
      Effect.gen(function* () {
        yield* freshEpoch
        const w = yield* makeWorld(
          makeDeployment([makeDecky("soon01", { mutate_interval: 1, last_mutated: NOW / 1000 - 58 })]),
          { bus: nullBus }
        )
        const loop = yield* startLoop(w)
        yield* sleepingUntil(NOW + 2_000)
        yield* TestClock.adjust("2 seconds")
        yield* until(
          "the mutation",
          Effect.map(upsOf(w), (u) => u.length === 1)
        )
        expect(Option.isNone(yield* Fiber.poll(loop.fiber))).toBe(true)
        yield* Fiber.interrupt(loop.fiber)
      })
    )
  })
})
