// The eight ops (spec/topology.md §8, §11 cases 50, 51, 56–59 and 61, their runtime-agnostic logic) on a real
// SQLite file and the real MariaDB: the database is written first, the runtime is asked to follow only on a
// live topology and exactly with what changed, a runtime failure never fails the op, and each op ends with
// the post-apply checks.
import { Effect, Option } from "effect"
import { expect, it } from "vitest"
import { MutationError } from "../../src/topology/Errors.js"
import { dispatch, parsePayload } from "../../src/topology/Ops.js"
import { TopologyRepo } from "../../src/topology/TopologyRepo.js"
import { onBothBackends } from "../db/backends.js"
import { hydrated, makeWorld, persistGenerated, useTopologyDb } from "./harness.js"

onBothBackends("ops", (backend) => {
  const { run } = useTopologyDb(backend)

  const topology = (status: "pending" | "active" = "active", seed = 7) =>
    Effect.gen(function* () {
      const { topology } = yield* persistGenerated({ seed })
      if (status === "active") yield* (yield* TopologyRepo).updateStatus(topology.id, "active")
      return topology.id
    })
  const cleanup = (id: string) => Effect.flatMap(TopologyRepo, (r) => r.deleteTopologyCascade(id))
  const deckyNamed = (id: string, name: string) =>
    Effect.map(hydrated(id), (t) => Option.fromNullable(t.deckies.find((d) => d.name === name)))
  const failure = <A, E, R>(e: Effect.Effect<A, E, R>) => Effect.flip(e)

  it("§50 add_lan persists (a /24 from 172.16.0.0/12 none holds); add_decky makes the row and its home edge", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* TopologyRepo
        const world = yield* makeWorld()
        const id = yield* topology()
        const held = new Set(yield* repo.reservedSubnets())
        yield* world.provide(dispatch(id, "add_lan", { name: "LAN-extra" }))
        const lan = Option.getOrThrow(
          Option.fromNullable((yield* repo.listLans(id)).find((l) => l.name === "LAN-extra"))
        )
        expect(lan.subnet.startsWith("172.")).toBe(true)
        expect(held.has(lan.subnet)).toBe(false)
        expect(lan.is_dmz).toBe(false)

        yield* world.provide(
          dispatch(
            id,
            "add_decky",
            JSON.stringify({
              name: "new-1",
              lan: "LAN-extra",
              services: ["ssh", "http"],
              archetype: "deaddeck"
            })
          )
        )
        const decky = Option.getOrThrow(yield* deckyNamed(id, "new-1"))
        expect(decky.services).toEqual(["ssh", "http"])
        expect(decky.ip).toBeNull()
        expect(decky.state).toBe("running")
        expect(decky.decky_config).toMatchObject({
          name: "new-1",
          archetype: "deaddeck",
          ips_by_lan: { "LAN-extra": lan.subnet.replace(/0\/24$/, "2") }
        })
        expect(decky.decky_config?.forwards_l3).toBeUndefined()
        const edges = (yield* hydrated(id)).edges.filter((e) => e.decky_uuid === decky.uuid)
        expect(edges).toMatchObject([{ lan_id: lan.id, is_bridge: false, forwards_l3: false }])
        expect(yield* world.calls).toEqual([
          { op: "addLan", args: ["LAN-extra"] },
          { op: "addDecky", args: ["new-1"] }
        ])

        const dup = yield* failure(
          world.provide(dispatch(id, "add_decky", { name: "new-1", lan: "LAN-extra" }))
        )
        expect(dup).toEqual(new MutationError({ message: "decky 'new-1' already exists" }))
        const noLan = yield* failure(
          world.provide(dispatch(id, "add_decky", { name: "new-2", lan: "LAN-77" }))
        )
        expect(noLan.message).toBe("LAN 'LAN-77' not found")
        yield* cleanup(id)
      })
    ))

  it("§51 update_decky: services replace the list; a service_config for an undeclared service fails the post-apply check", () =>
    run(
      Effect.gen(function* () {
        const world = yield* makeWorld()
        const id = yield* topology()
        yield* world.provide(dispatch(id, "update_decky", { decky: "decky-003", services: ["ftp", "redis"] }))
        const decky = Option.getOrThrow(yield* deckyNamed(id, "decky-003"))
        expect(decky.services).toEqual(["ftp", "redis"])
        expect(decky.decky_config?.services).toEqual(["ftp", "redis"])
        const bad = yield* failure(
          world.provide(
            dispatch(id, "update_decky", {
              decky: "decky-003",
              patch: { service_config: { smtp: { banner: "x" } } }
            })
          )
        )
        expect(bad.message).toBe(`post-apply validation failed for ${id}: SERVICE_CFG_UNDECLARED`)
        yield* cleanup(id)
      })
    ))

  it("§59 a services change asks for exactly the diff; a forwards_l3 flip needs force=true and a DMZ home", () =>
    run(
      Effect.gen(function* () {
        const world = yield* makeWorld()
        const id = yield* topology()
        const before = Option.getOrThrow(yield* deckyNamed(id, "decky-001"))
        yield* world.provide(
          dispatch(id, "update_decky", {
            decky: "decky-001",
            services: [...before.services.slice(1), "http"]
          })
        )
        expect(yield* world.calls).toEqual([
          { op: "updateServices", args: ["decky-001", "+http", `-${before.services[0]}`] }
        ])
        yield* world.clear

        // decky-001 is the DMZ's own decky and not a gateway: a live flip without force writes nothing.
        const unforced = yield* failure(
          world.provide(dispatch(id, "update_decky", { decky: "decky-001", patch: { forwards_l3: true } }))
        )
        expect(unforced.message).toMatch(/^forwards_l3 flip on live decky 'decky-001' requires force=true;/)
        expect(Option.getOrThrow(yield* deckyNamed(id, "decky-001")).decky_config?.forwards_l3).toBe(false)
        yield* world.provide(
          dispatch(id, "update_decky", { decky: "decky-001", patch: { forwards_l3: true }, force: true })
        )
        expect(Option.getOrThrow(yield* deckyNamed(id, "decky-001")).decky_config?.forwards_l3).toBe(true)
        expect(yield* world.calls).toEqual([{ op: "recreate", args: ["decky-001"] }])
        yield* world.clear

        // decky-003 homes on LAN-01 (internal): never a gateway, forced or not.
        const internal = yield* failure(
          world.provide(
            dispatch(id, "update_decky", { decky: "decky-003", patch: { forwards_l3: true }, force: true })
          )
        )
        expect(internal.message).toMatch(
          /^cannot promote decky 'decky-003' to gateway: home LAN 'LAN-01' is not a DMZ/
        )
        expect(yield* world.calls).toEqual([])
        yield* cleanup(id)
      })
    ))

  it("§61 update_lan: subnet, is_dmz or name on a live LAN is refused; coordinates are the database's alone", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* TopologyRepo
        const world = yield* makeWorld()
        const id = yield* topology()
        const refused = yield* failure(
          world.provide(
            dispatch(id, "update_lan", { name: "LAN-02", patch: { subnet: "10.1.2.0/24", is_dmz: true } })
          )
        )
        expect(refused.message).toBe(
          "cannot change ['subnet', 'is_dmz'] on a deployed LAN; teardown + redeploy required"
        )
        // Its Docker network and its deckies' memberships are named after it: a rename is refused too.
        const renamed = yield* failure(
          world.provide(dispatch(id, "update_lan", { name: "LAN-02", patch: { name: "LAN-R" } }))
        )
        expect(renamed.message).toBe("cannot change ['name'] on a deployed LAN; teardown + redeploy required")
        yield* world.provide(dispatch(id, "update_lan", { name: "LAN-02", x: 3, y: 4 }))
        const lan = (yield* repo.listLans(id)).find((l) => l.name === "LAN-02")
        expect([lan?.x, lan?.y]).toEqual([3, 4])
        expect(yield* world.calls).toEqual([])
        // Nothing to change: nothing written.
        yield* world.provide(dispatch(id, "update_lan", { name: "LAN-02" }))
        expect(yield* failure(world.provide(dispatch(id, "update_lan", { name: "LAN-9" })))).toMatchObject({
          message: "LAN 'LAN-9' not found"
        })
        yield* cleanup(id)
      })
    ))

  it("§56–58 attach, detach, remove_lan, remove_decky: the rows, then the runtime, with the messages of §8", () =>
    run(
      Effect.gen(function* () {
        const world = yield* makeWorld()
        const id = yield* topology()
        const op = (name: string, payload: Record<string, unknown>) =>
          world.provide(dispatch(id, name, payload))
        // The generator skips subnets other topologies hold: addresses are read, not assumed.
        const lans = (yield* hydrated(id)).lans
        const net = (lan: string) => (lans.find((l) => l.name === lan)?.subnet ?? "").replace(/\.0\/24$/, "")
        // decky-006 lives on LAN-02; visit LAN-03 at a chosen address.
        yield* op("attach_decky", { decky: "decky-006", lan: "LAN-03", ip: `${net("LAN-03")}.9` })
        let d = Option.getOrThrow(yield* deckyNamed(id, "decky-006"))
        expect(d.decky_config?.ips_by_lan).toEqual({
          "LAN-02": `${net("LAN-02")}.3`,
          "LAN-03": `${net("LAN-03")}.9`
        })
        expect((yield* failure(op("attach_decky", { decky: "decky-006", lan: "LAN-03" }))).message).toBe(
          "decky 'decky-006' already on LAN 'LAN-03'"
        )
        expect((yield* failure(op("detach_decky", { decky: "decky-006", lan: "LAN-02" }))).message).toBe(
          "cannot detach home LAN 'LAN-02'; use remove_decky"
        )
        expect((yield* failure(op("detach_decky", { decky: "decky-006", lan: "LAN-00" }))).message).toBe(
          "decky not attached to LAN 'LAN-00'"
        )
        expect((yield* failure(op("detach_decky", { decky: "nobody", lan: "LAN-00" }))).message).toBe(
          "decky or LAN not found"
        )
        yield* op("detach_decky", { decky: "decky-006", lan: "LAN-03" })
        d = Option.getOrThrow(yield* deckyNamed(id, "decky-006"))
        expect(d.decky_config?.ips_by_lan).toEqual({ "LAN-02": `${net("LAN-02")}.3` })

        // A LAN that is someone's home cannot go; one with only a visitor can, and the visitor stays.
        expect((yield* failure(op("remove_lan", { name: "LAN-03" }))).message).toBe(
          "LAN 'LAN-03' is the home LAN of decky 'decky-007'; remove the decky first"
        )
        yield* op("add_lan", { name: "LAN-side", subnet: "10.99.200.0/24" })
        yield* op("attach_decky", { decky: "decky-006", lan: "LAN-side" })
        yield* op("remove_lan", { name: "LAN-side" })
        d = Option.getOrThrow(yield* deckyNamed(id, "decky-006"))
        expect(d.decky_config?.ips_by_lan).toEqual({ "LAN-02": `${net("LAN-02")}.3` })
        yield* op("remove_decky", { decky: "decky-006" })
        expect(Option.isNone(yield* deckyNamed(id, "decky-006"))).toBe(true)
        expect((yield* failure(op("remove_decky", { decky: "decky-006" }))).message).toBe(
          "decky 'decky-006' not found"
        )
        expect(yield* world.calls).toEqual([
          { op: "attach", args: ["decky-006", "LAN-03", `${net("LAN-03")}.9`] },
          { op: "detach", args: ["decky-006", "LAN-03"] },
          { op: "addLan", args: ["LAN-side"] },
          { op: "attach", args: ["decky-006", "LAN-side", "10.99.200.2"] },
          { op: "detach", args: ["decky-006", "LAN-side"] },
          { op: "removeLan", args: ["LAN-side"] },
          { op: "removeDecky", args: ["decky-006"] }
        ])
        yield* cleanup(id)
      })
    ))

  it("§56 a pending topology is written but never materialised; a failing runtime never fails the op", () =>
    run(
      Effect.gen(function* () {
        const pendingWorld = yield* makeWorld()
        const pending = yield* topology("pending", 9)
        yield* pendingWorld.provide(
          dispatch(pending, "add_decky", { name: "quiet", lan: "LAN-00", services: ["ssh"] })
        )
        expect(yield* pendingWorld.calls).toEqual([])
        expect(Option.getOrThrow(yield* deckyNamed(pending, "quiet")).state).toBe("pending")

        const broken = yield* makeWorld({ fail: { addDecky: "no room", addLan: "no bridge" } })
        const id = yield* topology("active", 10)
        yield* broken.provide(dispatch(id, "add_lan", { name: "LAN-b" }))
        yield* broken.provide(dispatch(id, "add_decky", { name: "loud", lan: "LAN-b" }))
        const loud = Option.getOrThrow(yield* deckyNamed(id, "loud"))
        expect([loud.state, loud.last_error]).toEqual(["failed", "no room"])
        yield* cleanup(pending)
        yield* cleanup(id)
      })
    ))

  it("dispatch: unknown op, payload text (empty is {}), not an object", () =>
    run(
      Effect.gen(function* () {
        const world = yield* makeWorld()
        expect((yield* failure(world.provide(dispatch("t", "noop", "{}")))).message).toBe(
          "unknown op: 'noop'"
        )
        expect(yield* parsePayload("")).toEqual({})
        expect(yield* parsePayload('{"a":1}')).toEqual({ a: 1 })
        expect((yield* failure(parsePayload("[1]"))).message).toBe("payload must be a JSON object")
        expect((yield* failure(parsePayload("{"))).message).toMatch(/^payload is not JSON: /)
        expect((yield* failure(world.provide(dispatch("t", "remove_lan", "")))).message).toBe(
          "remove_lan: invalid payload: name: is missing"
        )
      })
    ))
})
