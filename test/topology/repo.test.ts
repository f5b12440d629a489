// TopologyRepo on a real SQLite file and a real MariaDB database: the spec's repo cases (topology.md §11
// 30–32, 39, 41–44, 46–49, 64), reserved subnets, the hydrated view, and the queue claimed by several
// processes at once.
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { Duration, Effect, Either, Layer, ManagedRuntime, Option } from "effect"
import { afterAll, afterEach, beforeAll, expect, it } from "vitest"
import { MigrationsLive } from "../../src/db/index.js"
import type { DeckyRow, EdgeRow, LanRow } from "../../src/topology/Model.js"
import { backfillDeckyConfigs, TopologyRepo } from "../../src/topology/TopologyRepo.js"
import { type Backend, onBothBackends } from "../db/backends.js"
import { makeSqlRecorder } from "../support/SqlStatements.js"

const children: Array<ChildProcess> = []
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL")
})

let names = 0
const uniqueName = (prefix = "topo") => `${prefix}-${process.pid}-${++names}`

const useRepo = (backend: Backend) => {
  let runtime: ManagedRuntime.ManagedRuntime<TopologyRepo, unknown> | undefined
  beforeAll(async () => {
    runtime = ManagedRuntime.make(
      TopologyRepo.Default.pipe(Layer.provideMerge(MigrationsLive), Layer.provideMerge(backend.layer))
    )
    await runtime.runPromise(TopologyRepo)
  })
  afterAll(async () => {
    await runtime?.dispose()
  })
  const rt = () => {
    if (runtime === undefined) throw new Error("runtime not built yet")
    return runtime
  }
  const run = <A, E>(f: (repo: TopologyRepo) => Effect.Effect<A, E>) =>
    rt().runPromise(Effect.flatMap(TopologyRepo, f))
  /** The typed failure (the test fails if the effect succeeds). */
  const failure = <A, E>(f: (repo: TopologyRepo) => Effect.Effect<A, E>) =>
    rt().runPromise(Effect.flip(Effect.flatMap(TopologyRepo, f)))
  const create = (name = uniqueName()) =>
    run((r) => r.createTopology({ name, mode: "unihost", config_snapshot: { blank: true } }))
  const version = async (id: string) => Option.getOrThrow(await run((r) => r.getTopology(id))).version
  return { run, failure, create, version }
}

onBothBackends("TopologyRepo", (backend) => {
  const { run, failure, create, version } = useRepo(backend)

  // First, while the database holds no topology at all.
  it("§49 the live-mutation guard: false with no topologies, false for a pending topology, true for a live one, false once claimed", async () => {
    expect(await run((r) => r.hasPendingLiveMutation())).toBe(false)
    const t = await create()
    await run((r) => r.enqueueMutation(t.id, "noop", {}))
    expect(await run((r) => r.hasPendingLiveMutation())).toBe(false)
    await run((r) => r.updateStatus(t.id, "active"))
    expect(await run((r) => r.hasPendingLiveMutation())).toBe(true)
    expect(await run((r) => r.listLiveTopologyIds())).toEqual([t.id])
    expect(Option.isSome(await run((r) => r.claimNextMutation(t.id)))).toBe(true)
    expect(await run((r) => r.hasPendingLiveMutation())).toBe(false)
    await run((r) => r.updateStatus(t.id, "degraded"))
    await run((r) => r.enqueueMutation(t.id, "noop", {}))
    expect(await run((r) => r.hasPendingLiveMutation())).toBe(true)
    await run((r) => r.deleteTopologyCascade(t.id))
  })

  it("§64 create: pending, version 1, not flagged; get and list it; a duplicate name is rejected by name", async () => {
    const name = uniqueName()
    const t = await create(name)
    expect(t).toMatchObject({ name, mode: "unihost", target_host_uuid: null, status: "pending", version: 1 })
    const got = Option.getOrThrow(await run((r) => r.getTopology(t.id)))
    expect(got).toEqual(t)
    expect(got.needs_resync).toBe(false)
    const record = Option.getOrThrow(await run((r) => r.getTopologyRecord(t.id)))
    expect(JSON.parse(record.config_snapshot)).toEqual({ blank: true })
    const dup = await failure((r) => r.createTopology({ name, mode: "agent", config_snapshot: {} }))
    expect(dup).toMatchObject({
      _tag: "TopologyRejected",
      message: `A topology named '${name}' already exists.`
    })
    expect(Option.isNone(await run((r) => r.getTopology("nope")))).toBe(true)
    const noHost = await failure((r) =>
      r.createTopology({
        name: uniqueName(),
        mode: "agent",
        target_host_uuid: "ghost-host",
        config_snapshot: {}
      })
    )
    expect(noHost).toMatchObject({ _tag: "TopologyNotFound", what: "swarm host", id: "ghost-host" })
  })

  it("§64 list: newest first, filtered by status, paged with the total", async () => {
    const a = await create()
    const b = await create()
    const c = await create()
    await run((r) => r.updateStatus(b.id, "torn_down"))
    const all = await run((r) => r.listTopologies({ limit: 1000, offset: 0 }))
    const ours = all.data.map((t) => t.id).filter((id) => [a.id, b.id, c.id].includes(id))
    expect(ours).toEqual([c.id, b.id, a.id])
    const torn = await run((r) => r.listTopologies({ status: "torn_down", limit: 1000, offset: 0 }))
    expect(torn.data.map((t) => t.id)).toContain(b.id)
    expect(torn.data.every((t) => t.status === "torn_down")).toBe(true)
    expect(torn.total).toBe(torn.data.length)
    const page = await run((r) => r.listTopologies({ limit: 1, offset: 1 }))
    expect(page.data).toHaveLength(1)
    expect(page.total).toBe(all.total)
    expect(page.data[0]?.id).toBe(all.data[1]?.id)
  })

  it("§30 §39 version stays 1 until an edit passes expectedVersion: add_lan(1) → 2, add_lan(2) → 3", async () => {
    const t = await create()
    await run((r) => r.addLan({ topology_id: t.id, name: "LAN-00", subnet: "10.9.0.0/24", is_dmz: true }))
    expect(await version(t.id)).toBe(1)
    const lan = await run((r) =>
      r.addLan({ topology_id: t.id, name: "LAN-01", subnet: "10.9.1.0/24" }, { expectedVersion: 1 })
    )
    expect(await version(t.id)).toBe(2)
    await run((r) =>
      r.addLan({ topology_id: t.id, name: "LAN-02", subnet: "10.9.2.0/24" }, { expectedVersion: 2 })
    )
    expect(await version(t.id)).toBe(3)
    expect((await run((r) => r.listLans(t.id))).map((l) => l.name)).toEqual(["LAN-00", "LAN-01", "LAN-02"])
    expect(lan).toMatchObject({ name: "LAN-01", is_dmz: false, docker_network_id: null, x: null, y: null })
  })

  it("§31 a stale expectedVersion is a VersionConflict naming both versions, and nothing is written", async () => {
    const t = await create()
    await run((r) =>
      r.addLan({ topology_id: t.id, name: "a", subnet: "10.8.0.0/24" }, { expectedVersion: 1 })
    )
    const conflict = await failure((r) =>
      r.addLan({ topology_id: t.id, name: "b", subnet: "10.8.1.0/24" }, { expectedVersion: 1 })
    )
    expect(conflict).toMatchObject({ _tag: "VersionConflict", topologyId: t.id, current: 2, expected: 1 })
    expect(conflict.message).toBe("topology version conflict: expected 1, current is 2")
    expect((await run((r) => r.listLans(t.id))).map((l) => l.name)).toEqual(["a"])
    expect(await version(t.id)).toBe(2)
    // Without expectedVersion: no check, no bump.
    await run((r) => r.addLan({ topology_id: t.id, name: "c", subnet: "10.8.2.0/24" }))
    expect(await version(t.id)).toBe(2)
    const d = await run((r) => r.addDecky({ topology_id: t.id, name: "d" }))
    const edgeConflict = await failure((r) =>
      r.addEdge({ topology_id: t.id, decky_uuid: d.uuid, lan_id: "x" }, { expectedVersion: 7 })
    )
    expect(edgeConflict).toMatchObject({ _tag: "VersionConflict", current: 2, expected: 7 })
  })

  it("§32 update_lan and update_decky bump with expectedVersion; an empty patch is a no-op even when stale", async () => {
    const t = await create()
    const lan = await run((r) => r.addLan({ topology_id: t.id, name: "LAN-00", subnet: "10.7.0.0/24" }))
    const d = await run((r) => r.addDecky({ topology_id: t.id, name: "web", services: ["ssh"] }))
    const lan2 = await run((r) =>
      r.updateLan(lan.id, { name: "LAN-X", is_dmz: true }, { expectedVersion: 1 })
    )
    expect(lan2).toMatchObject({ name: "LAN-X", is_dmz: true, subnet: "10.7.0.0/24" })
    expect(await version(t.id)).toBe(2)
    const d2 = await run((r) => r.updateDecky(d.uuid, { services: ["ssh", "http"] }, { expectedVersion: 2 }))
    expect(d2.services).toEqual(["ssh", "http"])
    expect(await version(t.id)).toBe(3)
    expect(await run((r) => r.updateLan(lan.id, {}, { expectedVersion: 1 }))).toEqual(lan2)
    expect(await run((r) => r.updateDecky(d.uuid, { x: undefined }, { expectedVersion: 1 }))).toEqual(d2)
    expect(await version(t.id)).toBe(3)
    expect(
      await failure((r) => r.updateDecky(d.uuid, { ip: "10.7.0.9" }, { expectedVersion: 1 }))
    ).toMatchObject({
      _tag: "VersionConflict",
      current: 3
    })
    expect(await failure((r) => r.updateLan("ghost", { name: "n" }))).toMatchObject({
      _tag: "TopologyNotFound",
      message: "lan 'ghost' not found"
    })
    expect(await failure((r) => r.updateDecky("ghost", { name: "n" }))).toMatchObject({
      message: "decky 'ghost' not found"
    })
  })

  it("a renamed LAN keeps its deckies: ips_by_lan names it anew, in the same place (the first key stays the home LAN)", async () => {
    const t = await create()
    const home = await run((r) => r.addLan({ topology_id: t.id, name: "LAN-00", subnet: "10.5.0.0/24" }))
    const other = await run((r) => r.addLan({ topology_id: t.id, name: "LAN-01", subnet: "10.5.1.0/24" }))
    const d = await run((r) =>
      r.addDecky({
        topology_id: t.id,
        name: "gw",
        decky_config: { name: "gw", ips_by_lan: { "LAN-00": "10.5.0.2", "LAN-01": "10.5.1.2" } }
      })
    )
    for (const lan of [home, other])
      await run((r) =>
        r.addEdge({ topology_id: t.id, decky_uuid: d.uuid, lan_id: lan.id, is_bridge: lan === other })
      )
    await run((r) => r.updateLan(home.id, { name: "core" }))
    const detail = Option.getOrThrow(await run((r) => r.hydrate(t.id)))
    const gw = detail.deckies.find((x) => x.uuid === d.uuid)
    expect(Object.entries(gw?.decky_config?.ips_by_lan ?? {})).toEqual([
      ["core", "10.5.0.2"],
      ["LAN-01", "10.5.1.2"]
    ])
  })

  it("§64 LAN add/update/list, duplicate LAN names refused within a topology", async () => {
    const t = await create()
    await run((r) => r.addLan({ topology_id: t.id, name: "LAN-01", subnet: "10.6.1.0/24" }))
    const dmz = await run((r) =>
      r.addLan({ topology_id: t.id, name: "LAN-00", subnet: "10.6.0.0/24", is_dmz: true })
    )
    await run((r) => r.updateLan(dmz.id, { docker_network_id: "net-123" }))
    const lans = await run((r) => r.listLans(t.id))
    expect(lans.map((l) => l.name)).toEqual(["LAN-00", "LAN-01"])
    expect(lans[0]).toMatchObject({ is_dmz: true, docker_network_id: "net-123", topology_id: t.id })
    expect(
      await failure((r) => r.addLan({ topology_id: t.id, name: "LAN-01", subnet: "10.6.9.0/24" }))
    ).toMatchObject({
      _tag: "TopologyRejected",
      message: "LAN 'LAN-01' already exists"
    })
    expect(await failure((r) => r.updateLan(dmz.id, { name: "LAN-01" }))).toMatchObject({
      message: "LAN 'LAN-01' already exists"
    })
    expect(
      await failure((r) => r.addLan({ topology_id: "ghost", name: "x", subnet: "10.6.2.0/24" }))
    ).toMatchObject({ _tag: "TopologyNotFound", what: "topology", id: "ghost" })
  })

  it("§64 deckies: JSON round trip, state pending by default, names unique per topology only", async () => {
    const t = await create()
    const other = await create()
    const config = {
      name: "web",
      services: ["ssh", "http"],
      ips_by_lan: { "LAN-00": "10.5.0.2" },
      forwards_l3: false,
      service_config: { ssh: { password: "hunter2", nested: { keep: [1, 2] } } },
      archetype: "linux-server",
      extra_knob: { a: 1 }
    }
    const d = await run((r) =>
      r.addDecky({
        topology_id: t.id,
        name: "web",
        services: ["ssh", "http"],
        decky_config: config,
        ip: "10.5.0.2"
      })
    )
    expect(d.state).toBe("pending")
    const [row] = await run((r) => r.listDeckies(t.id))
    expect(row).toEqual({
      uuid: d.uuid,
      topology_id: t.id,
      name: "web",
      services: ["ssh", "http"],
      decky_config: config,
      ip: "10.5.0.2",
      state: "pending",
      last_error: null,
      x: null,
      y: null
    })
    await run((r) => r.addDecky({ topology_id: other.id, name: "web" }))
    expect(await failure((r) => r.addDecky({ topology_id: t.id, name: "web" }))).toMatchObject({
      _tag: "TopologyRejected",
      message: "decky 'web' already exists"
    })
    expect(await run((r) => r.setDeckyState(d.uuid, "failed", "boom"))).toBe(true)
    expect((await run((r) => r.listDeckies(t.id)))[0]).toMatchObject({ state: "failed", last_error: "boom" })
    expect(await run((r) => r.setDeckyState("ghost", "running"))).toBe(false)
    await run((r) => r.updateDecky(d.uuid, { decky_config: null, last_error: null, state: "running" }))
    expect((await run((r) => r.listDeckies(t.id)))[0]).toMatchObject({ decky_config: null, state: "running" })
  })

  it("§44 layout coordinates round-trip and default to null", async () => {
    const t = await create()
    const lan = await run((r) =>
      r.addLan({ topology_id: t.id, name: "L", subnet: "10.4.0.0/24", x: 12.5, y: -3 })
    )
    const d = await run((r) => r.addDecky({ topology_id: t.id, name: "d" }))
    expect(d).toMatchObject({ x: null, y: null })
    await run((r) => r.updateDecky(d.uuid, { x: 100.25, y: 7 }))
    await run((r) => r.updateLan(lan.id, { x: null }))
    expect((await run((r) => r.listLans(t.id)))[0]).toMatchObject({ x: null, y: -3 })
    expect((await run((r) => r.listDeckies(t.id)))[0]).toMatchObject({ x: 100.25, y: 7 })
  })

  it("§41 update_decky(enforcePending) on an active topology is TopologyNotEditable; the default lets the mutator through", async () => {
    const t = await create()
    const d = await run((r) => r.addDecky({ topology_id: t.id, name: "d" }))
    await run((r) => r.transitionStatus(t.id, "deploying"))
    await run((r) => r.transitionStatus(t.id, "active"))
    const refused = await failure((r) => r.updateDecky(d.uuid, { ip: "10.3.0.5" }, { enforcePending: true }))
    expect(refused).toMatchObject({ _tag: "TopologyNotEditable", status: "active", topologyId: t.id })
    expect(refused.message).toBe(
      "topology not editable (status='active'): free-form edits are pending-only; use the mutator (topology_mutations) after deploy"
    )
    // Not editable wins over a stale version, and rolls nothing forward.
    expect(
      await failure((r) =>
        r.updateDecky(d.uuid, { ip: "10.3.0.5" }, { enforcePending: true, expectedVersion: 9 })
      )
    ).toMatchObject({ _tag: "TopologyNotEditable" })
    expect((await run((r) => r.updateDecky(d.uuid, { ip: "10.3.0.5" }))).ip).toBe("10.3.0.5")
  })

  it("§42 delete_lan refuses to orphan a decky (judged before the version), then deletes the LAN and its edges", async () => {
    const t = await create()
    const a = await run((r) => r.addLan({ topology_id: t.id, name: "A", subnet: "10.2.0.0/24" }))
    const b = await run((r) => r.addLan({ topology_id: t.id, name: "B", subnet: "10.2.1.0/24" }))
    const d = await run((r) => r.addDecky({ topology_id: t.id, name: "d" }))
    await run((r) => r.addEdge({ topology_id: t.id, decky_uuid: d.uuid, lan_id: a.id }))
    const refused = await failure((r) => r.deleteLan(a.id, { expectedVersion: 42 }))
    expect(refused).toMatchObject({
      _tag: "TopologyRejected",
      message: `cannot delete LAN 'A': decky ${d.uuid} has no other LAN (would be orphaned)`
    })
    expect(refused.message).toMatch(/orphaned/)
    await run((r) => r.addEdge({ topology_id: t.id, decky_uuid: d.uuid, lan_id: b.id, is_bridge: true }))
    expect(await failure((r) => r.deleteLan(a.id, { expectedVersion: 42 }))).toMatchObject({
      _tag: "VersionConflict",
      current: 1
    })
    expect(await run((r) => r.deleteLan(a.id, { expectedVersion: 1 }))).toBe(true)
    expect(await version(t.id)).toBe(2)
    expect((await run((r) => r.listLans(t.id))).map((l) => l.name)).toEqual(["B"])
    expect((await run((r) => r.listEdges(t.id))).map((e) => e.lan_id)).toEqual([b.id])
    expect(await run((r) => r.deleteLan(a.id))).toBe(false)
  })

  it("§43 one bridge edge goes, the deckies stay; a decky takes its edges with it; edge deletes are pending-only", async () => {
    const t = await create()
    const a = await run((r) => r.addLan({ topology_id: t.id, name: "A", subnet: "10.1.0.0/24" }))
    const b = await run((r) => r.addLan({ topology_id: t.id, name: "B", subnet: "10.1.1.0/24" }))
    const gw = await run((r) => r.addDecky({ topology_id: t.id, name: "gw" }))
    const inner = await run((r) => r.addDecky({ topology_id: t.id, name: "inner" }))
    await run((r) => r.addEdge({ topology_id: t.id, decky_uuid: gw.uuid, lan_id: a.id }))
    const bridge = await run((r) =>
      r.addEdge({ topology_id: t.id, decky_uuid: gw.uuid, lan_id: b.id, is_bridge: true, forwards_l3: true })
    )
    expect(bridge).toMatchObject({ is_bridge: true, forwards_l3: true })
    await run((r) => r.addEdge({ topology_id: t.id, decky_uuid: inner.uuid, lan_id: b.id }))
    expect(await run((r) => r.deleteEdge(bridge.id))).toBe(true)
    expect((await run((r) => r.listDeckies(t.id))).map((d) => d.name)).toEqual(["gw", "inner"])
    expect(await run((r) => r.listEdges(t.id))).toHaveLength(2)
    expect(await run((r) => r.deleteDecky(inner.uuid))).toBe(true)
    expect((await run((r) => r.listEdges(t.id))).map((e) => e.decky_uuid)).toEqual([gw.uuid])
    expect(await run((r) => r.deleteDecky(inner.uuid))).toBe(false)
    expect(await run((r) => r.deleteEdge("ghost"))).toBe(false)

    await run((r) => r.updateStatus(t.id, "active"))
    const [edge] = await run((r) => r.listEdges(t.id))
    const refused = await failure((r) => r.deleteEdge(edge?.id ?? ""))
    expect(refused).toMatchObject({ _tag: "TopologyNotEditable", status: "active" })
    expect(await failure((r) => r.deleteDecky(gw.uuid))).toMatchObject({ _tag: "TopologyNotEditable" })
    expect(await failure((r) => r.deleteLan(b.id))).toMatchObject({ _tag: "TopologyNotEditable" })
    expect(await run((r) => r.deleteEdge(edge?.id ?? "", { enforcePending: false }))).toBe(true)
  })

  it("edges must reference a decky and a LAN of the same topology", async () => {
    const t = await create()
    const other = await create()
    const lan = await run((r) => r.addLan({ topology_id: t.id, name: "A", subnet: "10.0.9.0/24" }))
    const foreign = await run((r) => r.addDecky({ topology_id: other.id, name: "x" }))
    const d = await run((r) => r.addDecky({ topology_id: t.id, name: "d" }))
    expect(
      await failure((r) => r.addEdge({ topology_id: t.id, decky_uuid: foreign.uuid, lan_id: lan.id }))
    ).toMatchObject({ _tag: "TopologyRejected", message: `decky '${foreign.uuid}' is not in this topology` })
    expect(
      await failure((r) => r.addEdge({ topology_id: t.id, decky_uuid: d.uuid, lan_id: "nope" }))
    ).toMatchObject({
      _tag: "TopologyRejected",
      message: "LAN 'nope' is not in this topology"
    })
  })

  it("§64 status changes append events newest first with from/to/reason and never bump the version", async () => {
    const t = await create()
    const e1 = await run((r) => r.transitionStatus(t.id, "deploying", "operator"))
    expect(e1).toMatchObject({ from_status: "pending", to_status: "deploying", reason: "operator" })
    await run((r) => r.transitionStatus(t.id, "failed", "network create failed: boom"))
    const illegal = await failure((r) => r.transitionStatus(t.id, "active"))
    expect(illegal).toMatchObject({
      _tag: "TopologyStatusError",
      message: "illegal transition: 'failed' → 'active'"
    })
    await run((r) => r.updateStatus(t.id, "tearing_down"))
    const events = await run((r) => r.listStatusEvents(t.id))
    expect(events.map((e) => [e.from_status, e.to_status, e.reason])).toEqual([
      ["failed", "tearing_down", null],
      ["deploying", "failed", "network create failed: boom"],
      ["pending", "deploying", "operator"]
    ])
    expect(await run((r) => r.listStatusEvents(t.id, 1))).toHaveLength(1)
    const now = Option.getOrThrow(await run((r) => r.getTopology(t.id)))
    expect(now).toMatchObject({ status: "tearing_down", version: 1 })
    expect(now.status_changed_at.getTime()).toBeGreaterThanOrEqual(now.created_at.getTime())
    expect(await failure((r) => r.transitionStatus("ghost", "deploying"))).toMatchObject({
      _tag: "TopologyNotFound",
      what: "topology"
    })
  })

  it("needs_resync is set, listed and cleared", async () => {
    const t = await create()
    await run((r) => r.setNeedsResync(t.id, true))
    expect(Option.getOrThrow(await run((r) => r.getTopology(t.id))).needs_resync).toBe(true)
    expect((await run((r) => r.listNeedingResync())).map((x) => x.id)).toContain(t.id)
    await run((r) => r.setNeedsResync(t.id, false))
    expect((await run((r) => r.listNeedingResync())).map((x) => x.id)).not.toContain(t.id)
  })

  it("§10 reserved subnets: the LANs of every topology that is not torn down", async () => {
    const pending = await create()
    const active = await create()
    const torn = await create()
    await run((r) => r.addLan({ topology_id: pending.id, name: "p", subnet: "172.30.1.0/24" }))
    await run((r) => r.addLan({ topology_id: active.id, name: "a", subnet: "172.30.2.0/24" }))
    await run((r) => r.addLan({ topology_id: torn.id, name: "t", subnet: "172.30.3.0/24" }))
    await run((r) => r.updateStatus(active.id, "active"))
    await run((r) => r.updateStatus(torn.id, "torn_down"))
    const reserved = await run((r) => r.reservedSubnets())
    expect(reserved).toContain("172.30.1.0/24")
    expect(reserved).toContain("172.30.2.0/24")
    expect(reserved).not.toContain("172.30.3.0/24")
  })

  it("§64 the cascade delete clears every row of the topology; a second delete is false", async () => {
    const t = await create()
    const lan = await run((r) => r.addLan({ topology_id: t.id, name: "A", subnet: "10.0.1.0/24" }))
    const d = await run((r) => r.addDecky({ topology_id: t.id, name: "d" }))
    await run((r) => r.addEdge({ topology_id: t.id, decky_uuid: d.uuid, lan_id: lan.id }))
    await run((r) => r.updateStatus(t.id, "active"))
    await run((r) => r.enqueueMutation(t.id, "add_lan", { name: "B" }))
    expect(await run((r) => r.deleteTopologyCascade(t.id))).toBe(true)
    expect(Option.isNone(await run((r) => r.getTopology(t.id)))).toBe(true)
    expect(await run((r) => r.listLans(t.id))).toEqual([])
    expect(await run((r) => r.listDeckies(t.id))).toEqual([])
    expect(await run((r) => r.listEdges(t.id))).toEqual([])
    expect(await run((r) => r.listStatusEvents(t.id))).toEqual([])
    expect(await run((r) => r.listMutations(t.id))).toEqual([])
    expect(await run((r) => r.deleteTopologyCascade(t.id))).toBe(false)
    // The name is free again.
    await create(t.name)
  })

  it("§46 enqueue with expectedVersion bumps; the newest row is pending; a stale version conflicts", async () => {
    const t = await create()
    await run((r) => r.updateStatus(t.id, "active"))
    const first = await run((r) => r.enqueueMutation(t.id, "add_lan", { name: "LAN-09" }))
    expect(await version(t.id)).toBe(1)
    const second = await run((r) => r.enqueueMutation(t.id, "remove_lan", { lan_id: "x" }, 1))
    expect(await version(t.id)).toBe(2)
    const rows = await run((r) => r.listMutations(t.id))
    expect(rows.map((m) => m.id)).toEqual([second, first])
    expect(rows[0]).toMatchObject({
      op: "remove_lan",
      payload: { lan_id: "x" },
      state: "pending",
      applied_at: null
    })
    expect(rows[1]?.payload).toEqual({ name: "LAN-09" })
    expect(await failure((r) => r.enqueueMutation(t.id, "noop", {}, 1))).toMatchObject({
      _tag: "VersionConflict",
      current: 2,
      expected: 1
    })
    expect(await run((r) => r.listMutations(t.id))).toHaveLength(2)
    expect(await failure((r) => r.enqueueMutation("ghost", "noop", {}))).toMatchObject({
      _tag: "TopologyNotFound"
    })
  })

  it("§47 §48 claims go oldest first, one winner each, applying; none on an empty queue; applied and failed are recorded", async () => {
    const t = await create()
    await run((r) => r.updateStatus(t.id, "active"))
    expect(Option.isNone(await run((r) => r.claimNextMutation(t.id)))).toBe(true)
    const ids: Array<string> = []
    for (let i = 0; i < 5; i++) ids.push(await run((r) => r.enqueueMutation(t.id, "noop", { i })))
    const first = Option.getOrThrow(await run((r) => r.claimNextMutation(t.id)))
    expect(first).toMatchObject({ id: ids[0], state: "applying", reason: null, payload: { i: 0 } })
    const second = Option.getOrThrow(await run((r) => r.claimNextMutation(t.id)))
    expect(second.id).toBe(ids[1])
    await run((r) => r.markApplied(first.id))
    await run((r) => r.markFailed(second.id, "LAN 'x' already exists"))
    const byId = new Map((await run((r) => r.listMutations(t.id))).map((m) => [m.id, m]))
    expect(byId.get(first.id)).toMatchObject({ state: "applied", reason: null })
    expect(byId.get(first.id)?.applied_at).toBeInstanceOf(Date)
    expect(byId.get(second.id)).toMatchObject({ state: "failed", reason: "LAN 'x' already exists" })
    expect(byId.get(second.id)?.applied_at).toBeInstanceOf(Date)
    expect((await run((r) => r.listMutations(t.id, "pending"))).map((m) => m.id)).toEqual([
      ids[4],
      ids[3],
      ids[2]
    ])
    // Concurrent claimers in one process: every row goes to exactly one of them.
    const claims = await run((r) =>
      Effect.all(
        Array.from({ length: 6 }, () => r.claimNextMutation(t.id)),
        { concurrency: "unbounded" }
      )
    )
    const won = claims.flatMap((c) => (Option.isSome(c) ? [c.value.id] : []))
    expect(won.sort()).toEqual([ids[2], ids[3], ids[4]].sort())
    expect(Option.isNone(await run((r) => r.claimNextMutation(t.id)))).toBe(true)
  })

  it("§8 the claim is one statement: one UPDATE picks and claims the oldest pending row (MariaDB reads its row back by the claim's token); no transaction", async () => {
    const t = await create()
    await run((r) => r.updateStatus(t.id, "active"))
    const ids: Array<string> = []
    for (let i = 0; i < 3; i++) ids.push(await run((r) => r.enqueueMutation(t.id, "noop", { i })))
    const rec = makeSqlRecorder()
    const claimed = Option.getOrThrow(
      await run((r) => Effect.withTracer(r.claimNextMutation(t.id), rec.tracer))
    )
    expect(claimed).toMatchObject({ id: ids[0], state: "applying", payload: { i: 0 } })
    const updates = rec.statements.filter((q) => /^\s*UPDATE\b/i.test(q))
    expect(updates).toHaveLength(1)
    expect(updates[0]).toMatch(/SET state = 'applying'/)
    expect(rec.transactions()).toBe(0)
    if (backend.name === "sqlite") expect(rec.statements).toHaveLength(1)
    else {
      expect(rec.statements).toHaveLength(2)
      expect(rec.statements[1]).toMatch(/^SELECT \* FROM topology_mutations WHERE .*claim_token = \?/)
    }
    // An empty queue costs the one UPDATE that matches nothing.
    await run((r) => Effect.all([r.claimNextMutation(t.id), r.claimNextMutation(t.id)]))
    const empty = makeSqlRecorder()
    expect(Option.isNone(await run((r) => Effect.withTracer(r.claimNextMutation(t.id), empty.tracer)))).toBe(
      true
    )
    expect(empty.statements).toHaveLength(1)
  })

  it("§8 an enqueue without a version is one INSERT; with one, a conditional UPDATE and the INSERT in one transaction", async () => {
    const t = await create()
    const plain = makeSqlRecorder()
    await run((r) => Effect.withTracer(r.enqueueMutation(t.id, "noop", {}), plain.tracer))
    expect(plain.statements.map((q) => q.trim().split(/\s+/)[0]?.toUpperCase())).toEqual(["INSERT"])
    expect(plain.transactions()).toBe(0)
    const versioned = makeSqlRecorder()
    await run((r) => Effect.withTracer(r.enqueueMutation(t.id, "noop", {}, 1), versioned.tracer))
    expect(versioned.statements.map((q) => q.trim().split(/\s+/)[0]?.toUpperCase())).toEqual([
      "UPDATE",
      "INSERT"
    ])
    expect(versioned.transactions()).toBe(1)
    expect(await version(t.id)).toBe(2)
  })

  it("renewClaim moves a live claim's time forward, only while the row is applying under that claim", async () => {
    const t = await create()
    await run((r) => r.updateStatus(t.id, "active"))
    await run((r) => r.enqueueMutation(t.id, "noop", {}))
    const claimed = Option.getOrThrow(await run((r) => r.claimNextMutation(t.id)))
    const claimedAt = claimed.applied_at ?? new Date(0)
    // Not this claim's time: nothing moves.
    expect(Option.isNone(await run((r) => r.renewClaim(claimed.id, new Date(claimedAt.getTime() - 1))))).toBe(
      true
    )
    const renewed = Option.getOrThrow(await run((r) => r.renewClaim(claimed.id, claimedAt)))
    expect(renewed.getTime()).toBeGreaterThanOrEqual(claimedAt.getTime())
    const row = (await run((r) => r.listMutations(t.id))).find((m) => m.id === claimed.id)
    expect(row?.applied_at?.getTime()).toBe(renewed.getTime())
    // A renewed claim is fresh: a sweep with a lease longer than its age leaves it to its claimer.
    expect(await run((r) => r.requeueStaleMutations(Duration.minutes(10)))).toEqual([])
    await run((r) => r.markApplied(claimed.id))
    expect(Option.isNone(await run((r) => r.renewClaim(claimed.id, renewed)))).toBe(true)
  })

  it("hydrate: LANs and deckies by name, edges in insertion order, decky configs backfilled; none when unknown", async () => {
    expect(Option.isNone(await run((r) => r.hydrate("ghost")))).toBe(true)
    const t = await create()
    const names = ["LAN-03", "LAN-00", "LAN-02", "LAN-01"]
    const lans: Record<string, LanRow> = {}
    for (const [i, name] of names.entries()) {
      lans[name] = await run((r) =>
        r.addLan({ topology_id: t.id, name, subnet: `10.20.${Number(name.slice(-1))}.0/24`, is_dmz: i === 1 })
      )
    }
    const lanId = (name: string) => lans[name]?.id ?? ""
    // From the generator: a full decky_config. From the editor: nothing, or only a row ip.
    const gen = await run((r) =>
      r.addDecky({
        topology_id: t.id,
        name: "zeta",
        services: ["ssh"],
        decky_config: { name: "zeta", ips_by_lan: { "LAN-00": "10.20.0.2" }, forwards_l3: true },
        ip: "10.20.0.2"
      })
    )
    const bare = await run((r) => r.addDecky({ topology_id: t.id, name: "alpha" }))
    const withIp = await run((r) => r.addDecky({ topology_id: t.id, name: "mid", ip: "10.20.1.77" }))
    const edges: Array<EdgeRow> = []
    const link = async (d: DeckyRow, lan: string) =>
      edges.push(await run((r) => r.addEdge({ topology_id: t.id, decky_uuid: d.uuid, lan_id: lanId(lan) })))
    await link(gen, "LAN-00")
    await link(bare, "LAN-00")
    await link(withIp, "LAN-01")
    await link(gen, "LAN-03")
    await link(withIp, "LAN-00")
    // Many in one millisecond still list in insertion order.
    for (let i = 0; i < 20; i++) {
      const d = await run((r) =>
        r.addDecky({ topology_id: t.id, name: `bulk-${String(i).padStart(2, "0")}` })
      )
      await link(d, names[i % 4] ?? "LAN-00")
    }
    const h = Option.getOrThrow(await run((r) => r.hydrate(t.id)))
    expect(h.topology.id).toBe(t.id)
    expect(h.lans.map((l) => l.name)).toEqual(["LAN-00", "LAN-01", "LAN-02", "LAN-03"])
    expect(h.deckies.map((d) => d.name)).toEqual([
      "alpha",
      ...Array.from({ length: 20 }, (_, i) => `bulk-${String(i).padStart(2, "0")}`),
      "mid",
      "zeta"
    ])
    expect(h.edges.map((e) => e.id)).toEqual(edges.map((e) => e.id))
    const cfg = (name: string) => h.deckies.find((d) => d.name === name)?.decky_config
    // Declared addresses are kept and reserved; the row ip is used where it fits; the rest come in order.
    expect(cfg("zeta")).toEqual({
      name: "zeta",
      // bulk-03, -07, -11, -15 and -19 sort first and took .2–.6 of LAN-03.
      ips_by_lan: { "LAN-00": "10.20.0.2", "LAN-03": "10.20.3.7" },
      forwards_l3: true
    })
    expect(cfg("alpha")).toEqual({ name: "alpha", ips_by_lan: { "LAN-00": "10.20.0.3" } })
    expect(cfg("mid")?.ips_by_lan).toEqual({
      "LAN-01": "10.20.1.77",
      "LAN-00": expect.stringMatching(/^10\.20\.0\./)
    })
    const all = h.deckies.flatMap((d) =>
      Object.entries(d.decky_config?.ips_by_lan ?? {}).map(([l, ip]) => `${l}=${ip}`)
    )
    expect(new Set(all).size).toBe(all.length)
    expect(all.some((e) => e.endsWith(".1"))).toBe(false)
    // In memory only: the rows are as written.
    expect((await run((r) => r.listDeckies(t.id))).find((d) => d.name === "alpha")?.decky_config).toBeNull()
  })

  it("cross-process: claimers in separate processes on one database win every mutation exactly once", async () => {
    const CLAIMERS = 4
    const t = await create()
    await run((r) => r.updateStatus(t.id, "active"))
    const ids = new Set<string>()
    for (let i = 0; i < 240; i++) ids.add(await run((r) => r.enqueueMutation(t.id, "noop", { i })))
    const script = fileURLToPath(new URL("./claimer.ts", import.meta.url))
    const kind = backend.name === "sqlite" ? "sqlite" : "mysql"
    const procs = Array.from({ length: CLAIMERS }, () => {
      const child = spawn(process.execPath, ["--import", "tsx", script, kind, backend.url, t.id], {
        stdio: ["pipe", "pipe", "pipe"]
      })
      children.push(child)
      const p = {
        child,
        out: "",
        err: "",
        exited: new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
      }
      child.stdout?.on("data", (d: Buffer) => {
        p.out += d.toString()
      })
      child.stderr?.on("data", (d: Buffer) => {
        p.err += d.toString()
      })
      return p
    })
    const ready = () => procs.every((p) => p.out.startsWith("ready\n"))
    for (let i = 0; i < 1200 && !ready(); i++) await new Promise((r) => setTimeout(r, 50))
    expect(ready(), procs.map((p) => p.err).join("\n")).toBe(true)
    // All at once, so they race for the same rows.
    for (const p of procs) p.child.stdin?.write("go\n")
    const codes = await Promise.all(procs.map((p) => p.exited))
    expect(codes, procs.map((p) => p.err).join("\n")).toEqual(Array(CLAIMERS).fill(0))
    const won = procs.map((p) => p.out.split("\n").filter((l) => l !== "" && l !== "ready" && l !== "done"))
    const all = won.flat()
    // Union is every mutation, and no id twice (within or across processes): the intersection is empty.
    expect(all).toHaveLength(ids.size)
    expect(new Set(all)).toEqual(ids)
    // There was contention: rows went to more than one process.
    expect(won.filter((w) => w.length > 0).length).toBeGreaterThan(1)
    const rows = await run((r) => r.listMutations(t.id))
    expect(rows.map((m) => m.state)).toEqual(Array(ids.size).fill("applied"))
  })
})

it("backfill: an exhausted LAN is AllocatorExhausted; a LAN whose subnet does not parse gets no address", () => {
  const lan = (id: string, subnet: string): LanRow => ({
    id,
    topology_id: "t",
    name: id,
    subnet,
    is_dmz: false,
    docker_network_id: null,
    x: null,
    y: null
  })
  const decky = (uuid: string): DeckyRow => ({
    uuid,
    topology_id: "t",
    name: uuid,
    services: [],
    decky_config: null,
    ip: null,
    state: "pending",
    last_error: null,
    x: null,
    y: null
  })
  const edge = (d: string, l: string): EdgeRow => ({
    id: `${d}-${l}`,
    topology_id: "t",
    decky_uuid: d,
    lan_id: l,
    is_bridge: false,
    forwards_l3: false
  })
  const tiny = backfillDeckyConfigs(
    [lan("L", "10.0.0.0/30")],
    [decky("a"), decky("b")],
    [edge("a", "L"), edge("b", "L")]
  )
  expect(Either.isLeft(tiny) && tiny.left.message).toBe("no free IPs left in 10.0.0.0/30")
  const bad = backfillDeckyConfigs([lan("L", "not-a-cidr")], [decky("a")], [edge("a", "L")])
  expect(Either.getOrThrow(bad)[0]?.decky_config).toEqual({ name: "a", ips_by_lan: {} })
})
