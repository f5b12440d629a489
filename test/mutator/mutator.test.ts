// mutateDecky / mutateAll (spec/topology.md §9) on a real FleetStore (SQLite and MariaDB) and a fake runtime: the
// database is written before the runtime is touched, a runtime failure emits nothing, the trigger is
// derived from how the pass was asked for, and mutateAll reports when the next decky is due.
import { expect, layer } from "@effect/vitest"
import { Chunk, Effect, Option, Queue, Ref, Schema, TestClock } from "effect"
import { HoneypotEventLine } from "../../src/logging/HoneypotEvent.js"
import {
  describeOutcome,
  mutateAll,
  mutateAllReport,
  mutateDecky,
  mutateDeckyOutcome
} from "../../src/mutator/Mutator.js"
import { onBothBackends } from "../db/backends.js"
import { fleetLayer, makeDecky, makeDeployment, portsOf } from "../fleet/fakeRuntime.js"
import { makeWorld, stored } from "./support.js"

const NOW = 1_800_000_000 // epoch seconds
onBothBackends("mutator", (backend) => {
  layer(fleetLayer(backend), { timeout: "60 seconds" })((it) => {
    it.scoped("mutateDecky saves the new set before the runtime runs it, then emits decky_mutated", () =>
      Effect.gen(function* () {
        yield* TestClock.setTime(NOW * 1000)
        const w = yield* makeWorld(
          makeDeployment([
            makeDecky("db01", { archetype: "database-server", services: ["mysql"] }),
            makeDecky("web01")
          ])
        )
        expect(yield* w.provide(mutateDecky("db01", "operator", { actor: "alice" }))).toBe(true)

        const after = yield* stored
        const db01 = after.config.deckies.find((d) => d.name === "db01")
        if (db01 === undefined) throw new Error("db01 vanished")
        expect(db01.services).not.toEqual(["mysql"])
        expect(db01.services.every((s) => ["mysql", "postgres", "redis"].includes(s))).toBe(true)
        expect(db01.last_mutated).toBe(NOW)
        // The runtime was asked for the new set, and the database already held it then.
        expect(yield* Ref.get(w.runtime.ups)).toEqual([{ decky: "db01", services: [...db01.services] }])
        expect(yield* Ref.get(w.storedAtUp)).toEqual([[...db01.services]])
        // Where the new services listen is stored too.
        expect(after.ports.db01).toEqual(portsOf(db01))
        // The other decky is untouched.
        expect(after.config.deckies.find((d) => d.name === "web01")?.services).toEqual(["ssh"])

        const event = yield* Queue.take(w.mutations)
        expect(event.topic).toBe("decky.db01.mutation")
        expect(event.payload).toEqual({
          decky: "db01",
          old_services: ["mysql"],
          new_services: [...db01.services],
          trigger: "operator",
          actor: "alice"
        })
        const [line] = w.lines()
        expect(Schema.decodeUnknownSync(HoneypotEventLine)(line ?? "").fields).toEqual({
          decky: "db01",
          old_services: "mysql",
          new_services: db01.services.join(","),
          trigger: "operator",
          actor: "alice"
        })
      })
    )

    it.scoped("a runtime failure returns false and emits nothing; the database already has the new set", () =>
      Effect.gen(function* () {
        yield* TestClock.setTime(NOW * 1000)
        const w = yield* makeWorld(
          makeDeployment([makeDecky("web01", { archetype: "linux-server", services: ["ssh"] })])
        )
        yield* Ref.set(w.runtime.upFails, Option.some("image missing"))
        const outcome = yield* w.provide(mutateDeckyOutcome("web01", "operator"))
        expect(outcome._tag).toBe("RuntimeFailed")
        expect(describeOutcome(outcome)).toBe("Failed to mutate web01: image missing")
        expect(yield* w.provide(mutateDecky("web01"))).toBe(false)
        expect(yield* Queue.size(w.mutations)).toBe(0)
        expect(w.lines()).toEqual([])
        const web01 = (yield* stored).config.deckies[0]
        expect(web01.last_mutated).toBe(NOW)
        expect((yield* Ref.get(w.runtime.ups)).length).toBe(2)
      })
    )

    it.scoped("no deployment, an unknown decky, an empty pool, another runtime: false and nothing run", () =>
      Effect.gen(function* () {
        const none = yield* makeWorld(undefined)
        expect(yield* none.provide(mutateDeckyOutcome("web01"))).toMatchObject({ _tag: "NoDeployment" })
        expect(describeOutcome(yield* none.provide(mutateDeckyOutcome("web01")))).toBe("No active deployment")
        expect(Option.isNone(yield* none.provide(mutateAll()))).toBe(true)

        const w = yield* makeWorld(
          makeDeployment([makeDecky("voip01", { archetype: "voip-server", services: ["ssh"] })])
        )
        expect(describeOutcome(yield* w.provide(mutateDeckyOutcome("nope")))).toBe("Decky nope not found")
        expect(describeOutcome(yield* w.provide(mutateDeckyOutcome("voip01")))).toBe(
          "No services available to mutate voip01"
        )
        expect(yield* Ref.get(w.runtime.ups)).toEqual([])

        const docker = yield* makeWorld(makeDeployment([makeDecky("web01")]), { kind: "docker" })
        expect(yield* docker.provide(mutateDeckyOutcome("web01"))).toMatchObject({
          _tag: "OtherRuntime",
          runtime: "inprocess"
        })
        expect(yield* docker.provide(mutateAllReport({ force: true }))).toMatchObject({
          present: true,
          otherRuntime: "inprocess",
          outcomes: []
        })
        expect(yield* Ref.get(docker.runtime.ups)).toEqual([])
        expect((yield* stored).config.deckies[0].last_mutated).toBe(0)
      })
    )

    it.scoped("a swarm decky (host_uuid set) is left to its agent", () =>
      Effect.gen(function* () {
        const w = yield* makeWorld(
          makeDeployment([makeDecky("far01", { host_uuid: "agent-7" })], { mutate_interval: 1 })
        )
        expect(yield* w.provide(mutateDeckyOutcome("far01"))).toMatchObject({
          _tag: "Remote",
          host: "agent-7"
        })
        expect((yield* w.provide(mutateAllReport({ force: true }))).outcomes).toEqual([])
      })
    )

    it.scoped(
      "mutateAll: scheduled pass mutates the due deckies and returns the seconds to the next one",
      () =>
        Effect.gen(function* () {
          yield* TestClock.setTime(NOW * 1000)
          const w = yield* makeWorld(
            makeDeployment(
              [
                makeDecky("due01", { last_mutated: NOW - 31 * 60 }), // fleet interval 30 min: due
                makeDecky("soon01", { mutate_interval: 5, last_mutated: NOW - 4 * 60 }), // due in 60 s
                makeDecky("later01", { last_mutated: NOW - 60 }), // due in 29 min
                makeDecky("never01", { mutate_interval: null, last_mutated: NOW - 10 ** 6 }) // fleet default applies
              ],
              { mutate_interval: 30 }
            )
          )
          const report = yield* w.provide(mutateAllReport())
          expect(report.present).toBe(true)
          expect(report.nextDue).toEqual(Option.some(60))
          expect(report.outcomes.map((o) => o._tag)).toEqual(["Mutated", "Mutated"])
          expect((yield* Ref.get(w.runtime.ups)).map((u) => u.decky)).toEqual(["due01", "never01"])
          const triggers = [
            (yield* Queue.take(w.mutations)).payload.trigger,
            (yield* Queue.take(w.mutations)).payload.trigger
          ]
          expect(triggers).toEqual(["scheduled", "scheduled"])

          // 60 s later soon01 is due; the two just mutated are 30 min away, later01 28 min.
          yield* TestClock.adjust("60 seconds")
          expect(yield* w.provide(mutateAll())).toEqual(Option.some(28 * 60))
          expect((yield* Ref.get(w.runtime.ups)).map((u) => u.decky)).toEqual(["due01", "never01", "soon01"])
        })
    )

    it.scoped(
      "mutateAll: force mutates every decky (operator) and returns none; no interval means never scheduled",
      () =>
        Effect.gen(function* () {
          yield* TestClock.setTime(NOW * 1000)
          const w = yield* makeWorld(
            makeDeployment([makeDecky("a01"), makeDecky("b01")], { mutate_interval: null })
          )
          expect(Option.isNone(yield* w.provide(mutateAll()))).toBe(true)
          expect(yield* Ref.get(w.runtime.ups)).toEqual([])

          expect(Option.isNone(yield* w.provide(mutateAll({ force: true })))).toBe(true)
          expect((yield* Ref.get(w.runtime.ups)).map((u) => u.decky)).toEqual(["a01", "b01"])
          expect(
            (yield* Queue.takeBetween(w.mutations, 2, 2)).pipe(Chunk.toArray).map((e) => e.payload.trigger)
          ).toEqual(["operator", "operator"])
        })
    )

    it.scoped("mutateAll: `only` mutates just the named deckies (operator), other due deckies wait", () =>
      Effect.gen(function* () {
        yield* TestClock.setTime(NOW * 1000)
        const w = yield* makeWorld(
          makeDeployment(
            [
              makeDecky("a01"),
              makeDecky("b01"),
              makeDecky("c01", { mutate_interval: 10, last_mutated: NOW })
            ],
            {
              mutate_interval: 30
            }
          )
        )
        const next = yield* w.provide(mutateAll({ only: new Set(["b01", "c01"]) }))
        expect(Option.isNone(next)).toBe(true)
        expect((yield* Ref.get(w.runtime.ups)).map((u) => u.decky)).toEqual(["b01", "c01"])
        const events = Chunk.toArray(yield* Queue.takeBetween(w.mutations, 2, 2))
        expect(events.map((e) => [e.payload.decky, e.payload.trigger])).toEqual([
          ["b01", "operator"],
          ["c01", "operator"]
        ])
      })
    )
  })
})
