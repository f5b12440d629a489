// The fleet reconciler (spec/workers.md §4.10, fleet.md §1) on real SQLite and MariaDB rows and a fake
// runtime: rows follow the deployment (insert / delete, never another host's), states follow what the
// runtime reports, and each insert, delete and transition goes out on `decky.local:<name>.state`.
import { expect, layer } from "@effect/vitest"
import { Chunk, Effect, Fiber, Option, Queue, Ref, Stream, TestClock } from "effect"
import { Bus, type BusEvent } from "../../src/bus/Bus.js"
import { requestStop } from "../../src/bus/Control.js"
import { makeFakeBus } from "../../src/bus/FakeBus.js"
import { FleetRepo } from "../../src/db/index.js"
import type { DeploymentState, RuntimeKind } from "../../src/fleet/Model.js"
import { reconcileOnce, runReconcileLoop } from "../../src/fleet/Reconciler.js"
import { DeckyRuntime } from "../../src/fleet/Runtime.js"
import { FleetStore } from "../../src/fleet/Store.js"
import { onBothBackends } from "../db/backends.js"
import { fleetLayer, makeDecky, makeDeployment, makeFakeRuntime, resetFleet } from "./fakeRuntime.js"

// Tests of one `layer` share its TestClock; each starts at an epoch of its own (whole seconds, so every
// DATETIME column holds it exactly).
let NOW = 1_800_000_000_000
const freshEpoch = Effect.suspend(() => {
  NOW += 1_000_000_000
  return TestClock.setTime(NOW)
})

/** Wait (real time, bounded) until `cond` holds: the loop runs on its own fiber and the database is real I/O. */
const until = (what: string, cond: Effect.Effect<boolean>) =>
  Effect.gen(function* () {
    for (let i = 0; i < 2000; i++) {
      if (yield* cond) return
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 5)))
    }
    return yield* Effect.dieMessage(`timed out waiting for ${what}`)
  })

const world = (deployment: DeploymentState | undefined, kind: RuntimeKind = "inprocess") =>
  Effect.gen(function* () {
    yield* freshEpoch
    yield* resetFleet
    if (deployment !== undefined) yield* (yield* FleetStore).save(deployment)
    const runtime = yield* makeFakeRuntime(kind)
    const bus = yield* makeFakeBus()
    const events = yield* Queue.unbounded<BusEvent>()
    yield* (yield* bus.subscribe("decky.*.state")).pipe(
      Stream.runForEach((e) => Queue.offer(events, e)),
      Effect.forkScoped
    )
    const provide = <A, E, R>(self: Effect.Effect<A, E, R>) =>
      self.pipe(Effect.provideService(DeckyRuntime, runtime.service), Effect.provideService(Bus, bus))
    const reconcile = provide(reconcileOnce)
    /** Exactly the next `n` state events (after letting the forwarder run). */
    const take = (n: number) => Effect.map(Queue.takeBetween(events, n, n), Chunk.toArray)
    const noMore = Effect.gen(function* () {
      yield* Effect.repeatN(Effect.yieldNow(), 20)
      return yield* Queue.size(events)
    })
    return { runtime, bus, provide, reconcile, take, noMore }
  })

const row = (name: string, host = "local") =>
  Effect.flatMap(FleetRepo, (r) => r.get(name, host)).pipe(Effect.map(Option.getOrUndefined))

onBothBackends("fleet reconciler", (backend) => {
  layer(fleetLayer(backend), { timeout: "120 seconds" })((it) => {
    it.scoped("inserts a row for every decky without one, with the runtime's state, and publishes it", () =>
      Effect.gen(function* () {
        const w = yield* world(
          makeDeployment([
            makeDecky("a01"),
            makeDecky("b01", { services: ["ssh", "redis"] }),
            makeDecky("c01")
          ])
        )
        const repo = yield* FleetRepo
        yield* repo.delete("b01")
        yield* repo.delete("c01")
        yield* w.runtime.setStatus("a01", "running")
        yield* w.runtime.setStatus("b01", "running")

        expect(yield* w.reconcile).toEqual({ inserted: 2, deleted: 0, stateUpdated: 1 })
        const events = yield* w.take(3)
        expect(events.map((e) => [e.topic, e.type])).toEqual([
          ["decky.local:a01.state", "state"],
          ["decky.local:b01.state", "state"],
          ["decky.local:c01.state", "state"]
        ])
        expect(events.map((e) => e.payload)).toEqual([
          {
            host_uuid: "local",
            name: "a01",
            state: "running",
            transition: "state_changed",
            source: "fleet",
            previous_state: "pending"
          },
          { host_uuid: "local", name: "b01", state: "running", transition: "inserted", source: "fleet" },
          { host_uuid: "local", name: "c01", state: "torn_down", transition: "inserted", source: "fleet" }
        ])
        const b = yield* row("b01")
        expect(b).toMatchObject({
          state: "running",
          services: ["ssh", "redis"],
          decky_ip: "127.77.0.2",
          last_error: null
        })
        expect(b?.decky_config).toMatchObject({ name: "b01", services: ["ssh", "redis"] })
        expect(b?.last_seen?.getTime()).toBe(NOW)
        expect((yield* row("c01"))?.last_seen).toBeNull()
      })
    )

    it.scoped("deletes this host's rows the deployment does not have, never another host's", () =>
      Effect.gen(function* () {
        const w = yield* world(makeDeployment([makeDecky("a01")]))
        const repo = yield* FleetRepo
        yield* repo.upsert({ name: "gone01", services: ["ftp"], state: "running" })
        yield* repo.upsert({ host_uuid: "agent-1", name: "gone01", services: ["ftp"], state: "running" })
        yield* repo.upsert({ host_uuid: "agent-1", name: "far01", state: "running" })
        yield* w.runtime.setStatus("a01", "running")

        expect(yield* w.reconcile).toEqual({ inserted: 0, deleted: 1, stateUpdated: 1 })
        const events = yield* w.take(2)
        expect(events[1]?.topic).toBe("decky.local:gone01.state")
        expect(events[1]?.payload).toEqual({
          host_uuid: "local",
          name: "gone01",
          state: "torn_down",
          transition: "deleted",
          source: "fleet",
          previous_state: "running"
        })
        expect(yield* row("gone01")).toBeUndefined()
        expect((yield* repo.list("agent-1")).map((r) => r.name)).toEqual(["far01", "gone01"])
      })
    )

    it.scoped(
      "states follow the runtime; an unchanged state publishes nothing; last_seen moves only while seen",
      () =>
        Effect.gen(function* () {
          const w = yield* world(makeDeployment([makeDecky("a01")]))
          yield* w.runtime.setStatus("a01", "running")
          yield* w.reconcile
          expect((yield* w.take(1))[0]?.payload).toMatchObject({
            state: "running",
            previous_state: "pending"
          })

          yield* TestClock.adjust("30 seconds")
          expect(yield* w.reconcile).toEqual({ inserted: 0, deleted: 0, stateUpdated: 0 })
          expect(yield* w.noMore).toBe(0)
          expect((yield* row("a01"))?.last_seen?.getTime()).toBe(NOW + 30_000)

          yield* w.runtime.setStatus("a01", "degraded", "redis: port 16379 held by another program")
          yield* TestClock.adjust("30 seconds")
          expect((yield* w.reconcile).stateUpdated).toBe(1)
          expect((yield* w.take(1))[0]?.payload).toEqual({
            host_uuid: "local",
            name: "a01",
            state: "degraded",
            transition: "state_changed",
            source: "fleet",
            previous_state: "running"
          })
          expect(yield* row("a01")).toMatchObject({
            state: "degraded",
            last_error: "redis: port 16379 held by another program"
          })

          yield* w.runtime.setStatus("a01", "failed", "exited 1")
          yield* w.reconcile
          expect((yield* w.take(1))[0]?.payload).toMatchObject({
            state: "failed",
            previous_state: "degraded"
          })

          // Gone from the runtime: torn_down, and last_seen stays when it was last reported.
          yield* w.provide(Effect.flatMap(DeckyRuntime, (r) => r.down("a01")))
          yield* TestClock.adjust("30 seconds")
          yield* w.reconcile
          expect((yield* w.take(1))[0]?.payload).toMatchObject({
            state: "torn_down",
            previous_state: "failed"
          })
          const a = yield* row("a01")
          expect(a).toMatchObject({ state: "torn_down", last_error: null })
          expect(a?.last_seen?.getTime()).toBe(NOW + 60_000)
        })
    )

    it.scoped("a runtime that cannot be asked changes no state; a new row starts pending", () =>
      Effect.gen(function* () {
        const w = yield* world(makeDeployment([makeDecky("a01"), makeDecky("b01")]))
        yield* w.runtime.setStatus("a01", "running")
        yield* w.reconcile
        yield* w.take(2) // a01 running, b01 torn_down
        yield* (yield* FleetRepo).delete("b01")
        yield* Ref.set(w.runtime.statusFails, Option.some("docker socket busy"))
        expect(yield* w.reconcile).toEqual({
          inserted: 1,
          deleted: 0,
          stateUpdated: 0,
          runtimeError: "docker socket busy"
        })
        expect((yield* w.take(1))[0]?.payload).toEqual({
          host_uuid: "local",
          name: "b01",
          state: "pending",
          transition: "inserted",
          source: "fleet"
        })
        expect((yield* row("a01"))?.state).toBe("running")
        expect((yield* row("b01"))?.state).toBe("pending")
      })
    )

    it.scoped("a deployment on another runtime is left alone; no deployment deletes this host's rows", () =>
      Effect.gen(function* () {
        const w = yield* world(makeDeployment([makeDecky("a01")]), "docker")
        yield* (yield* FleetRepo).upsert({ name: "stray01" })
        expect(yield* w.reconcile).toEqual({
          inserted: 0,
          deleted: 0,
          stateUpdated: 0,
          otherRuntime: "inprocess"
        })
        expect((yield* (yield* FleetRepo).list("local")).map((r) => r.name)).toEqual(["a01", "stray01"])

        const bare = yield* world(undefined)
        const repo = yield* FleetRepo
        yield* repo.upsert({ name: "old01", state: "running" })
        yield* repo.upsert({ host_uuid: "agent-1", name: "old01", state: "running" })
        expect(yield* bare.reconcile).toEqual({ inserted: 0, deleted: 1, stateUpdated: 0 })
        expect((yield* bare.take(1))[0]?.payload).toMatchObject({ name: "old01", transition: "deleted" })
        expect((yield* repo.list()).map((r) => `${r.host_uuid}:${r.name}`)).toEqual(["agent-1:old01"])
      })
    )

    it.scoped("the loop passes at once and every interval, beats, and returns on a stop intent", () =>
      Effect.gen(function* () {
        const w = yield* world(makeDeployment([makeDecky("a01")]))
        const beats = yield* Queue.unbounded<BusEvent>()
        yield* (yield* w.bus.subscribe("system.reconciler.health")).pipe(
          Stream.runForEach((e) => Queue.offer(beats, e)),
          Effect.forkScoped
        )
        yield* w.runtime.setStatus("a01", "running")
        const loop = yield* w.provide(runReconcileLoop({ intervalSeconds: 5 })).pipe(Effect.forkScoped)
        expect((yield* Queue.take(beats)).payload).toEqual({ worker: "reconciler", ts: NOW / 1000 })
        expect((yield* w.take(1))[0]?.payload).toMatchObject({ name: "a01", state: "running" })

        yield* w.runtime.setStatus("a01", "degraded")
        // The next pass is 5 s after the first one ended.
        yield* until(
          "the loop's sleep",
          Effect.map(TestClock.sleeps(), (s) => Chunk.toArray(s).includes(NOW + 5_000))
        )
        yield* TestClock.adjust("4 seconds")
        expect(yield* w.noMore).toBe(0)
        yield* TestClock.adjust("1 second")
        expect((yield* w.take(1))[0]?.payload).toMatchObject({ state: "degraded", previous_state: "running" })

        yield* requestStop("reconciler", "alice").pipe(Effect.provideService(Bus, w.bus))
        yield* Fiber.join(loop)
      })
    )
  })
})
