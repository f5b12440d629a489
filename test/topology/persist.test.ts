// persist / generateTopology (topology.md §2 "Persistence", §11 cases 10 and 18) on a real SQLite file and the
// real MariaDB: a generated plan becomes a pending topology at version 1 whose hydrated view validates with no
// errors; a second generation skips the first one's subnets; a failing write leaves nothing behind.
import type { SqlClient } from "@effect/sql"
import { Effect, Layer, ManagedRuntime, Option, Schema } from "effect"
import { afterAll, beforeAll, expect, it } from "vitest"
import { MigrationsLive } from "../../src/db/index.js"
import { generateTopology } from "../../src/topology/Create.js"
import { TopologyConfig } from "../../src/topology/Model.js"
import { TopologyRepo } from "../../src/topology/TopologyRepo.js"
import { errors, validate } from "../../src/topology/Validator.js"
import { onBothBackends } from "../db/backends.js"

const config = (name: string, seed: number) =>
  Schema.decodeUnknownSync(TopologyConfig)({ name, depth: 2, branching_factor: 2, seed })

onBothBackends("persist", (backend) => {
  let runtime: ManagedRuntime.ManagedRuntime<TopologyRepo | SqlClient.SqlClient, unknown> | undefined
  beforeAll(async () => {
    runtime = ManagedRuntime.make(
      TopologyRepo.Default.pipe(Layer.provideMerge(MigrationsLive), Layer.provideMerge(backend.layer))
    )
    await runtime.runPromise(TopologyRepo)
  })
  afterAll(async () => {
    await runtime?.dispose()
  })
  const run = <A, E>(e: Effect.Effect<A, E, TopologyRepo | SqlClient.SqlClient>) => {
    if (runtime === undefined) throw new Error("no runtime")
    return runtime.runPromise(e)
  }
  const tag = `${process.pid}-${Date.now()}`

  it("§18 a generated and persisted topology is pending at version 1 and validates with no errors", async () => {
    const { topology, plan } = await run(generateTopology(config(`p-${tag}`, 7)))
    expect(topology.status).toBe("pending")
    expect(topology.version).toBe(1)
    const detail = Option.getOrThrow(await run(Effect.flatMap(TopologyRepo, (r) => r.hydrate(topology.id))))
    expect(detail.lans.map((l) => l.name)).toEqual(plan.lans.map((l) => l.name).sort())
    expect(detail.deckies.length).toBe(plan.deckies.length)
    expect(detail.edges.length).toBe(plan.edges.length)
    expect(errors(validate(detail))).toEqual([])
    const record = Option.getOrThrow(
      await run(Effect.flatMap(TopologyRepo, (r) => r.getTopologyRecord(topology.id)))
    )
    expect(JSON.parse(record.config_snapshot).seed).toBe(7)
  })

  it("§10 a second topology with the same seed gets disjoint subnets (live ones are reserved)", async () => {
    const a = await run(generateTopology(config(`a-${tag}`, 11)))
    const b = await run(generateTopology(config(`b-${tag}`, 11)))
    const subnetsA = new Set(a.plan.lans.map((l) => l.subnet))
    expect(b.plan.lans.some((l) => subnetsA.has(l.subnet))).toBe(false)
  })

  it("a duplicate name fails typed and writes nothing (one transaction)", async () => {
    const name = `dup-${tag}`
    await run(generateTopology(config(name, 3)))
    const before = await run(Effect.flatMap(TopologyRepo, (r) => r.listTopologies({ limit: 500, offset: 0 })))
    const failure = await run(Effect.flip(generateTopology(config(name, 4))))
    expect(failure._tag).toBe("TopologyNameTaken")
    expect(JSON.stringify(failure)).toContain(name)
    const after = await run(Effect.flatMap(TopologyRepo, (r) => r.listTopologies({ limit: 500, offset: 0 })))
    expect(after.total).toBe(before.total)
  })
})
