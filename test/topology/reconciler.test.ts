// The reconciler (spec/topology.md §8, §11 cases 52, 53, 55) on a real SQLite file and the real MariaDB: it
// drains each live topology's queue oldest first, publishes applying → applied, and on a failure marks the
// row failed with "<Tag>: <message>", publishes applying → failed → status {degraded}, degrades the topology
// and stops draining it. Without a bus it works the same. A row whose claimer died (left `applying`, even
// by a SIGKILLed process) is requeued once its lease is over, and then applied exactly once.
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { Duration, Effect, Option } from "effect"
import { describe, expect, it } from "vitest"
import { MUTATION_OPS } from "../../src/topology/Model.js"
import { OPS } from "../../src/topology/Ops.js"
import { MUTATION_LEASE, reconcileTopologies, recoverStaleMutations } from "../../src/topology/Reconciler.js"
import { TopologyRuntime } from "../../src/topology/Runtime.js"
import { TopologyRepo } from "../../src/topology/TopologyRepo.js"
import { onBothBackends } from "../db/backends.js"
import { makeWorld, persistGenerated, statusOf, tails, useTopologyDb } from "./harness.js"
import { makeRecorderRuntime } from "./recorder.js"

describe("DISPATCH", () => {
  it("§55 has exactly the eight ops", () => {
    expect(Object.keys(OPS).sort()).toEqual([...MUTATION_OPS].sort())
  })
})

onBothBackends("reconciler", (backend) => {
  const { run } = useTopologyDb(backend)

  /** A generated topology, made live. */
  const live = Effect.gen(function* () {
    const { topology } = yield* persistGenerated()
    yield* (yield* TopologyRepo).updateStatus(topology.id, "active")
    return topology.id
  })

  /** Drain what this test enqueued; other live topologies of the database have empty queues. */
  const cleanup = (id: string) => Effect.flatMap(TopologyRepo, (r) => r.deleteTopologyCascade(id))

  it("§52 applies a pending add_lan (drained 1, row applied); a duplicate name fails the row and degrades", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* TopologyRepo
        const world = yield* makeWorld()
        const id = yield* live
        const first = yield* repo.enqueueMutation(id, "add_lan", { name: "LAN-new" })
        expect(yield* world.provide(reconcileTopologies)).toBe(1)
        const rows = yield* repo.listMutations(id)
        expect(rows.map((r) => [r.id, r.state])).toEqual([[first, "applied"]])
        expect(rows[0]?.applied_at).not.toBeNull()
        expect((yield* repo.listLans(id)).some((l) => l.name === "LAN-new")).toBe(true)
        expect(yield* world.calls).toEqual([{ op: "addLan", args: ["LAN-new"] }])

        const dup = yield* repo.enqueueMutation(id, "add_lan", { name: "LAN-00" })
        expect(yield* world.provide(reconcileTopologies)).toBe(0)
        const failed = Option.getOrThrow(
          Option.fromNullable((yield* repo.listMutations(id)).find((r) => r.id === dup))
        )
        expect(failed.state).toBe("failed")
        expect(failed.reason).toBe("TopologyRejected: LAN 'LAN-00' already exists")
        expect(yield* statusOf(id)).toBe("degraded")
        const [event] = yield* repo.listStatusEvents(id, 1)
        expect(event).toMatchObject({ from_status: "active", to_status: "degraded", reason: failed.reason })
        yield* cleanup(id)
      })
    ))

  it("§53 bus order: applying, applied on success; applying, failed, status {degraded} on failure; a second failure while degraded sends no status", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* TopologyRepo
        const world = yield* makeWorld()
        const id = yield* live
        const ok = yield* repo.enqueueMutation(id, "add_lan", { name: "LAN-bus", x: 1, y: 2 })
        yield* world.provide(reconcileTopologies)
        const success = yield* world.events
        expect(tails(success)).toEqual(["mutation.applying", "mutation.applied"])
        expect(success[0]?.payload).toEqual({
          mutation_id: ok,
          op: "add_lan",
          payload: JSON.stringify({ name: "LAN-bus", x: 1, y: 2 })
        })
        expect(success[0]?.type).toBe("applying")
        expect(success[1]?.payload).toEqual({ mutation_id: ok, op: "add_lan" })

        const bad = yield* repo.enqueueMutation(id, "remove_lan", { name: "LAN-nowhere" })
        yield* world.provide(reconcileTopologies)
        const afterFailure = (yield* world.events).slice(2)
        expect(tails(afterFailure)).toEqual(["mutation.applying", "mutation.failed", "status"])
        const reason = "MutationError: LAN 'LAN-nowhere' not found"
        expect(afterFailure[1]?.payload).toEqual({ mutation_id: bad, op: "remove_lan", reason })
        expect(afterFailure[2]?.payload).toEqual({ state: "degraded", reason })
        expect(afterFailure[2]?.type).toBe("status")

        // Already degraded: the move is illegal, skipped without a status event; the drain still stops.
        yield* repo.enqueueMutation(id, "noop", {})
        const behind = yield* repo.enqueueMutation(id, "add_lan", { name: "LAN-behind" })
        expect(yield* world.provide(reconcileTopologies)).toBe(0)
        expect(tails((yield* world.events).slice(5))).toEqual(["mutation.applying", "mutation.failed"])
        const rows = yield* repo.listMutations(id)
        expect(rows.find((r) => r.op === "noop")?.reason).toBe("MutationError: unknown op: 'noop'")
        expect(rows.find((r) => r.id === behind)?.state).toBe("pending")
        expect(yield* statusOf(id)).toBe("degraded")
        yield* cleanup(id)
      })
    ))

  it("§53 works without a bus; a payload of the wrong shape fails with the field named", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* TopologyRepo
        const recorder = yield* makeRecorderRuntime()
        const id = yield* live
        yield* repo.enqueueMutation(id, "update_lan", { name: "LAN-01", x: 10, y: 20 })
        yield* repo.enqueueMutation(id, "add_lan", { name: 5 })
        const drained = yield* reconcileTopologies.pipe(
          Effect.provideService(TopologyRuntime, recorder.service)
        )
        expect(drained).toBe(1)
        const rows = yield* repo.listMutations(id)
        expect(rows.map((r) => r.state)).toEqual(["failed", "applied"])
        expect(rows[0]?.reason).toBe(
          "MutationError: add_lan: invalid payload: name: Expected string, actual 5"
        )
        const lan = (yield* repo.listLans(id)).find((l) => l.name === "LAN-01")
        expect([lan?.x, lan?.y]).toEqual([10, 20])
        yield* cleanup(id)
      })
    ))

  it("drains only live topologies, each oldest first", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* TopologyRepo
        const world = yield* makeWorld()
        const a = yield* live
        const { topology: pending } = yield* persistGenerated({ seed: 8 })
        yield* repo.enqueueMutation(pending.id, "add_lan", { name: "LAN-p" })
        for (const name of ["LAN-x", "LAN-y", "LAN-z"]) yield* repo.enqueueMutation(a, "add_lan", { name })
        expect(yield* world.provide(reconcileTopologies)).toBe(3)
        expect((yield* world.calls).map((c) => c.args[0])).toEqual(["LAN-x", "LAN-y", "LAN-z"])
        expect((yield* repo.listMutations(pending.id)).map((r) => r.state)).toEqual(["pending"])
        yield* cleanup(a)
        yield* cleanup(pending.id)
      })
    ))
  it("a row left applying past its lease is requeued, then applied exactly once; a fresh claim is left alone", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* TopologyRepo
        const world = yield* makeWorld()
        const id = yield* live
        const m = yield* repo.enqueueMutation(id, "add_lan", { name: "LAN-orphan" })
        // A claimer takes the row and dies before it marks it.
        const claimed = Option.getOrThrow(yield* repo.claimNextMutation(id))
        expect(claimed).toMatchObject({ id: m, state: "applying", reason: null })
        expect(claimed.applied_at).toBeInstanceOf(Date)
        // Within the lease: nothing moves, and the drain does not touch a claimed row.
        expect(yield* recoverStaleMutations(MUTATION_LEASE)).toBe(0)
        expect(yield* world.provide(reconcileTopologies)).toBe(0)
        expect((yield* repo.listMutations(id)).map((r) => r.state)).toEqual(["applying"])

        yield* Effect.sleep("30 millis")
        const lease = Duration.millis(10)
        expect(yield* recoverStaleMutations(lease)).toBe(1)
        const requeued = yield* repo.listMutations(id)
        expect(requeued.map((r) => [r.id, r.state, r.applied_at, r.reason])).toEqual([
          [m, "pending", null, null]
        ])
        // A second sweeper finds nothing left to requeue.
        expect(yield* recoverStaleMutations(lease)).toBe(0)
        expect(yield* world.provide(reconcileTopologies)).toBe(1)
        expect(yield* world.provide(reconcileTopologies)).toBe(0)
        expect(yield* world.calls).toEqual([{ op: "addLan", args: ["LAN-orphan"] }])
        expect((yield* repo.listMutations(id)).map((r) => r.state)).toEqual(["applied"])
        expect((yield* repo.listLans(id)).filter((l) => l.name === "LAN-orphan")).toHaveLength(1)
        expect(tails(yield* world.events)).toEqual(["mutation.applying", "mutation.applied"])
        yield* cleanup(id)
      })
    ))

  it("a claimer process SIGKILLed mid-op: after the lease the next reconcile applies its row once", async () => {
    const id = await run(live)
    const m = await run(
      Effect.flatMap(TopologyRepo, (r) => r.enqueueMutation(id, "add_lan", { name: "LAN-killed" }))
    )
    const script = fileURLToPath(new URL("./claimer.ts", import.meta.url))
    const kind = backend.name === "sqlite" ? "sqlite" : "mysql"
    const child = spawn(process.execPath, ["--import", "tsx", script, kind, backend.url, id, "crash"], {
      stdio: ["pipe", "pipe", "pipe"]
    })
    let out = ""
    let err = ""
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString()
    })
    child.stderr?.on("data", (d: Buffer) => {
      err += d.toString()
    })
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.once("exit", (_code, signal) => resolve(signal))
    )
    try {
      for (let i = 0; i < 1200 && !out.startsWith("ready\n"); i++) await new Promise((r) => setTimeout(r, 50))
      expect(out, err).toMatch(/^ready\n/)
      child.stdin?.write("go\n")
      for (let i = 0; i < 1200 && out.split("\n").length < 3; i++) await new Promise((r) => setTimeout(r, 50))
      expect(out, err).toBe(`ready\n${m}\n`)
    } finally {
      child.kill("SIGKILL")
    }
    expect(await exited).toBe("SIGKILL")
    const applied = await run(
      Effect.gen(function* () {
        const repo = yield* TopologyRepo
        const world = yield* makeWorld()
        expect((yield* repo.listMutations(id)).map((r) => r.state)).toEqual(["applying"])
        expect(yield* world.provide(reconcileTopologies)).toBe(0)
        yield* Effect.sleep("30 millis")
        expect(yield* recoverStaleMutations(Duration.millis(10))).toBe(1)
        const drained = yield* world.provide(reconcileTopologies)
        expect(yield* world.calls).toEqual([{ op: "addLan", args: ["LAN-killed"] }])
        return drained
      })
    )
    expect(applied).toBe(1)
    const rows = await run(Effect.flatMap(TopologyRepo, (r) => r.listMutations(id)))
    expect(rows.map((r) => [r.id, r.state])).toEqual([[m, "applied"]])
    await run(cleanup(id))
  })
})
