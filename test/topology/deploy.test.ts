// Deploy and teardown (spec/topology.md §6, §11 cases 21, 33, 34, 35, the runtime-agnostic half) on a real
// SQLite file and the real MariaDB, with a runtime that records and fails on demand: validation before
// anything, the dry run, the post-deploy check (active or degraded with the named deckies), a runtime
// failure (failed, re-raised), teardown from failed, a failed teardown (degraded), and the status events.
import { Effect } from "effect"
import { expect, it } from "vitest"
import {
  DeployOutcome,
  deployTopology,
  postDeployReason,
  teardownTopology
} from "../../src/topology/Deploy.js"
import { ownerText, thisProcess } from "../../src/topology/Owner.js"
import type { DeckyMaterialState } from "../../src/topology/Runtime.js"
import { TopologyRepo } from "../../src/topology/TopologyRepo.js"
import { onBothBackends } from "../db/backends.js"
import { hydrated, makeWorld, persistGenerated, statusOf, tails, useTopologyDb } from "./harness.js"

it("the post-deploy reason names eight deckies, then counts the rest", () => {
  const bad = Array.from(
    { length: 11 },
    (_, i): DeckyMaterialState => ({ decky: `d${i}`, state: "failed", detail: "exited (exit=1)" })
  )
  expect(postDeployReason(bad.slice(0, 2))).toBe("post-deploy check: d0=exited (exit=1), d1=exited (exit=1)")
  expect(postDeployReason(bad)).toBe(
    `post-deploy check: ${bad
      .slice(0, 8)
      .map((d) => `${d.decky}=${d.detail}`)
      .join(", ")} and 3 more`
  )
})

onBothBackends("deploy", (backend) => {
  const { run } = useTopologyDb(backend)
  const cleanup = (id: string) => Effect.flatMap(TopologyRepo, (r) => r.deleteTopologyCascade(id))
  const moves = (id: string) =>
    Effect.map(
      Effect.flatMap(TopologyRepo, (r) => r.listStatusEvents(id)),
      (events) => events.map((e) => `${e.from_status}→${e.to_status}`).reverse()
    )

  it("§21 an invalid topology fails validation: status stays pending, the runtime is never called", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* TopologyRepo
        const world = yield* makeWorld()
        const { topology } = yield* persistGenerated()
        const dmz = (yield* repo.listLans(topology.id)).find((l) => l.is_dmz)
        yield* repo.updateLan(dmz?.id ?? "", { is_dmz: false })
        const error = yield* Effect.flip(world.provide(deployTopology(topology.id)))
        expect(error._tag).toBe("TopologyValidationError")
        expect(error.message).toMatch(/^1 topology validation error\(s\): \[DMZ_MISSING\]/)
        expect(yield* statusOf(topology.id)).toBe("pending")
        expect(yield* world.calls).toEqual([])
        expect(yield* world.events).toEqual([])
        yield* cleanup(topology.id)
      })
    ))

  it("§33 a dry run returns the plan and keeps the topology pending", () =>
    run(
      Effect.gen(function* () {
        const world = yield* makeWorld()
        const { topology } = yield* persistGenerated()
        const outcome = yield* world.provide(deployTopology(topology.id, { dryRun: true }))
        expect(DeployOutcome.$is("Planned")(outcome)).toBe(true)
        if (outcome._tag === "Planned") expect(outcome.topology).toEqual(yield* hydrated(topology.id))
        expect(yield* statusOf(topology.id)).toBe("pending")
        expect(yield* world.calls).toEqual([])
        yield* cleanup(topology.id)
      })
    ))

  it("deploys: pending → deploying → active, every decky running, each move published", () =>
    run(
      Effect.gen(function* () {
        const world = yield* makeWorld()
        const { topology } = yield* persistGenerated()
        const outcome = yield* world.provide(deployTopology(topology.id))
        expect(outcome).toMatchObject({ _tag: "Deployed", status: "active", reason: null })
        expect((yield* world.calls).map((c) => c.op)).toEqual(["deploy", "inspect"])
        expect(yield* moves(topology.id)).toEqual(["pending→deploying", "deploying→active"])
        expect((yield* hydrated(topology.id)).deckies.every((d) => d.state === "running")).toBe(true)
        const events = yield* world.events
        expect(tails(events)).toEqual(["status", "status"])
        // The move to deploying names its owner (Owner.ts): this process on the recorder's runtime.
        expect(events.map((e) => e.payload)).toEqual([
          { state: "deploying", reason: ownerText(yield* thisProcess("in-process")) },
          { state: "active", reason: null }
        ])
        yield* cleanup(topology.id)
      })
    ))

  it("a decky that does not run degrades the deploy, named with its detail; its state and error are written", () =>
    run(
      Effect.gen(function* () {
        const world = yield* makeWorld({
          inspect: (t) =>
            t.deckies.map(
              (d): DeckyMaterialState =>
                d.name === "decky-002"
                  ? { decky: d.name, state: "failed", detail: "exited (exit=1)" }
                  : { decky: d.name, state: "running", detail: "running" }
            )
        })
        const { topology } = yield* persistGenerated()
        const outcome = yield* world.provide(deployTopology(topology.id))
        const reason = "post-deploy check: decky-002=exited (exit=1)"
        expect(outcome).toMatchObject({ status: "degraded", reason })
        expect(yield* statusOf(topology.id)).toBe("degraded")
        const d2 = (yield* hydrated(topology.id)).deckies.find((d) => d.name === "decky-002")
        expect([d2?.state, d2?.last_error]).toEqual(["failed", "exited (exit=1)"])
        const [last] = yield* Effect.flatMap(TopologyRepo, (r) => r.listStatusEvents(topology.id, 1))
        expect(last?.reason).toBe(reason)
        yield* cleanup(topology.id)
      })
    ))

  it("§34 a runtime failure: failed, the newest event says why, the error comes back; §35 teardown from failed", () =>
    run(
      Effect.gen(function* () {
        const world = yield* makeWorld({ fail: { deploy: "network create failed: subnet overlaps" } })
        const { topology } = yield* persistGenerated()
        const error = yield* Effect.flip(world.provide(deployTopology(topology.id)))
        expect(error).toMatchObject({
          _tag: "TopologyRuntimeError",
          message: "network create failed: subnet overlaps"
        })
        expect(yield* statusOf(topology.id)).toBe("failed")
        const [last] = yield* Effect.flatMap(TopologyRepo, (r) => r.listStatusEvents(topology.id, 1))
        expect(last).toMatchObject({ to_status: "failed", reason: "network create failed: subnet overlaps" })
        expect((yield* world.calls).map((c) => c.op)).toEqual(["deploy"])

        yield* world.provide(teardownTopology(topology.id))
        expect(yield* statusOf(topology.id)).toBe("torn_down")
        expect(yield* moves(topology.id)).toEqual([
          "pending→deploying",
          "deploying→failed",
          "failed→tearing_down",
          "tearing_down→torn_down"
        ])
        expect((yield* hydrated(topology.id)).deckies.every((d) => d.state === "torn_down")).toBe(true)
        expect((yield* world.calls).map((c) => c.op)).toEqual(["deploy", "teardown"])
        yield* cleanup(topology.id)
      })
    ))

  it("a teardown the runtime fails leaves the topology degraded with why; a pending topology cannot be torn down", () =>
    run(
      Effect.gen(function* () {
        const ok = yield* makeWorld()
        const broken = yield* makeWorld({ fail: { teardown: "container busy" } })
        const { topology } = yield* persistGenerated()
        yield* ok.provide(deployTopology(topology.id))
        const error = yield* Effect.flip(broken.provide(teardownTopology(topology.id)))
        expect(error.message).toBe("container busy")
        expect(yield* statusOf(topology.id)).toBe("degraded")
        expect(tails(yield* broken.events)).toEqual(["status", "status"])
        // Degraded can be torn down again.
        yield* ok.provide(teardownTopology(topology.id))
        expect(yield* statusOf(topology.id)).toBe("torn_down")

        const { topology: pending } = yield* persistGenerated({ seed: 5 })
        const illegal = yield* Effect.flip(ok.provide(teardownTopology(pending.id)))
        expect(illegal).toMatchObject({
          _tag: "TopologyStatusError",
          message: "illegal transition: 'pending' → 'tearing_down'"
        })
        yield* cleanup(topology.id)
        yield* cleanup(pending.id)
      })
    ))
})
