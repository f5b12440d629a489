// The MazeNET generator (spec/topology.md §2, acceptance cases 10–15 and 45): a seeded LAN tree under one
// DMZ, home deckies, one bridge per LAN to its parent, optional cross edges; same seed, same plan.
import { describe, expect, it, vi } from "@effect/vitest"
import { Effect, Either, Random, Schema } from "effect"
import { SERVICE_NAMES } from "../../src/catalog/Services.js"
import { canonicalHash } from "../../src/topology/CanonicalHash.js"
import {
  type GeneratedTopology,
  generate,
  homeLanOf,
  type SeededTopologyConfig,
  seedConfig,
  toDetail
} from "../../src/topology/Generator.js"
import { TopologyConfig } from "../../src/topology/Model.js"

const config = (fields: Record<string, unknown>, seed: number): SeededTopologyConfig => ({
  ...Schema.decodeUnknownSync(TopologyConfig)({ name: "maze", ...fields }),
  seed
})
const plan = (fields: Record<string, unknown>, seed = 1, reserved: Iterable<string> = []) =>
  Either.getOrThrow(generate(config(fields, seed), reserved))

const lanOf = (p: GeneratedTopology, name: string) => p.lans.find((lan) => lan.name === name)
const edgesOf = (p: GeneratedTopology, decky: string) => p.edges.filter((e) => e.decky_name === decky)
const shape = (p: GeneratedTopology) => ({
  lans: p.lans.map((lan) => lan.name),
  deckies: p.deckies.map((d) => d.name),
  services: p.deckies.map((d) => [...d.services].sort()),
  edges: p.edges.map((e) => `${e.decky_name}@${e.lan_name}`).sort()
})

describe("generate", () => {
  it("the same seed gives the same plan; different seeds differ (11)", () => {
    const fields = { depth: 3, branching_factor: 3, cross_edge_probability: 0.5 }
    expect(plan(fields, 11)).toEqual(plan(fields, 11))
    expect(shape(plan(fields, 11))).toEqual(shape(plan(fields, 11)))
    expect(canonicalHash(plan(fields, 11))).toBe(canonicalHash(plan(fields, 11)))
    expect(shape(plan(fields, 12))).not.toEqual(shape(plan(fields, 11)))
    const hashes = new Set(
      Array.from({ length: 50 }, (_, seed) => canonicalHash(plan({ depth: 2, branching_factor: 2 }, seed)))
    )
    expect(hashes.size).toBe(50)
  })

  it("pins the plan of seed 7 (same PRNG, same draw order on every platform)", () => {
    const p = plan({ name: "example", depth: 2, branching_factor: 2 }, 7)
    expect(canonicalHash(p)).toBe("79e48a790a5a4c393eab881ef7baafa15f622deb3906895bc45a7eee2860b782")
    expect(canonicalHash(toDetail(p))).toBe(
      "6a842e0926e486512a0834b48b7adee76b3f11483b9d9a1b1f847bb62ce87f79"
    )
  })

  it("exactly one DMZ, LAN-00 with no parent, one home edge even with 5 deckies per LAN (12)", () => {
    for (const seed of [1, 2, 3]) {
      const p = plan({ depth: 3, branching_factor: 3, deckies_per_lan_min: 5, deckies_per_lan_max: 5 }, seed)
      const dmzs = p.lans.filter((lan) => lan.is_dmz)
      expect(dmzs).toEqual([{ name: "LAN-00", subnet: "172.16.0.0/24", is_dmz: true, parent: null }])
      expect(p.edges.filter((e) => e.lan_name === "LAN-00" && !e.is_bridge)).toHaveLength(1)
      expect(p.lans.filter((lan) => !lan.is_dmz).every((lan) => lan.parent !== null)).toBe(true)
      for (const lan of p.lans.filter((l) => !l.is_dmz)) {
        expect(
          p.edges.filter((e) => e.lan_name === lan.name && edgesOf(p, e.decky_name)[0]?.lan_name === lan.name)
        ).toHaveLength(5)
      }
    }
  })

  it("every non-DMZ LAN shares a decky with its parent (13)", () => {
    for (const seed of [1, 2, 3, 4]) {
      const p = plan({ depth: 3, branching_factor: 3, cross_edge_probability: 0.3 }, seed)
      for (const lan of p.lans.filter((l) => !l.is_dmz)) {
        const both = p.deckies.filter(
          (d) => lan.name in d.ips_by_lan && lan.parent !== null && lan.parent in d.ips_by_lan
        )
        expect(both.length, lan.name).toBeGreaterThanOrEqual(1)
      }
    }
  })

  it("p=0: every extra membership is the home LAN's parent; p=1 adds cross edges (14)", () => {
    for (const seed of [1, 2, 3]) {
      const tree = plan({ depth: 3, branching_factor: 3 }, seed)
      for (const d of tree.deckies) {
        const [home, ...extra] = Object.keys(d.ips_by_lan)
        expect(extra.every((lan) => lan === lanOf(tree, home ?? "")?.parent)).toBe(true)
        expect(extra.length).toBeLessThanOrEqual(1)
      }
    }
    const dag = plan({ depth: 3, branching_factor: 3, cross_edge_probability: 1 }, 1)
    const cross = dag.edges.filter((e) => {
      const home = homeLanOf(dag.deckies.find((d) => d.name === e.decky_name) ?? { ips_by_lan: {} })
      return e.lan_name !== home && e.lan_name !== lanOf(dag, home ?? "")?.parent
    })
    expect(cross.length).toBeGreaterThanOrEqual(1)
    for (const e of cross) expect(e.is_bridge).toBe(true)
  })

  it("every decky has an edge per LAN it has an address on, and at least one (15)", () => {
    const p = plan({ depth: 3, branching_factor: 2, deckies_per_lan_min: 0, cross_edge_probability: 0.5 }, 5)
    for (const d of p.deckies) {
      const edges = edgesOf(p, d.name)
      expect(edges.length).toBeGreaterThanOrEqual(1)
      expect(edges.map((e) => e.lan_name)).toEqual(Object.keys(d.ips_by_lan))
      // A decky's edges agree with it: all bridge once it is multi-homed, forwarding as the decky does.
      for (const e of edges) {
        expect(e.is_bridge).toBe(edges.length > 1)
        expect(e.forwards_l3).toBe(d.forwards_l3)
      }
    }
    // min 0 is floored to one decky per LAN.
    for (const lan of p.lans) expect(p.deckies.some((d) => homeLanOf(d) === lan.name)).toBe(true)
  })

  it("skips reserved subnets (10, the pure half)", () => {
    const first = plan({ depth: 2, branching_factor: 3 }, 1)
    const taken = first.lans.map((lan) => lan.subnet)
    const second = plan({ depth: 2, branching_factor: 3 }, 1, taken)
    const overlap = second.lans.filter((lan) => taken.includes(lan.subnet))
    expect(overlap).toEqual([])
    expect(second.lans[0]?.subnet).toBe(`172.16.${taken.length}.0/24`)
  })

  it("names LANs by BFS index and deckies by number; depth 1 branching 1 is LAN-00 and LAN-01", () => {
    const small = plan({ depth: 1, branching_factor: 1, deckies_per_lan_min: 1, deckies_per_lan_max: 1 }, 1)
    expect(small.lans.map((l) => [l.name, l.parent])).toEqual([
      ["LAN-00", null],
      ["LAN-01", "LAN-00"]
    ])
    expect(small.deckies.map((d) => d.name)).toEqual(["decky-001", "decky-002"])
    const big = plan({ depth: 3, branching_factor: 8 }, 2)
    expect(big.lans.length).toBeGreaterThan(100)
    expect(big.lans.map((lan) => lan.name)).toEqual(
      big.lans.map((_, i) => `LAN-${String(i).padStart(2, "0")}`)
    )
    expect(big.lans[100]?.name).toBe("LAN-100")
    expect(big.deckies.map((d) => d.name)).toEqual(
      big.deckies.map((_, i) => `decky-${String(i + 1).padStart(3, "0")}`)
    )
    // Parents come before their children, level by level.
    const index = new Map(big.lans.map((lan, i) => [lan.name, i]))
    for (const lan of big.lans)
      if (lan.parent !== null) expect(index.get(lan.parent)).toBeLessThan(index.get(lan.name) ?? 0)
  })

  it("addresses: home deckies from .2 in order, parent-LAN bridge addresses after every home decky", () => {
    const p = plan({ depth: 1, branching_factor: 2, deckies_per_lan_min: 2, deckies_per_lan_max: 2 }, 4)
    expect(p.deckies[0]?.ips_by_lan).toEqual({ "LAN-00": "172.16.0.2" })
    const children = p.lans.filter((lan) => !lan.is_dmz)
    const bridgeIps = p.deckies.filter((d) => "LAN-00" in d.ips_by_lan && homeLanOf(d) !== "LAN-00")
    expect(bridgeIps.map((d) => d.ips_by_lan["LAN-00"])).toEqual(children.map((_, i) => `172.16.0.${3 + i}`))
    for (const lan of children) {
      const homes = p.deckies.filter((d) => homeLanOf(d) === lan.name).map((d) => d.ips_by_lan[lan.name])
      const net = lan.subnet.replace(/0\/24$/, "")
      expect(homes).toEqual([`${net}2`, `${net}3`])
    }
  })

  it("services: 1–3 distinct catalog services, distinct sets while there are some; explicit lists copied", () => {
    const p = plan({ depth: 2, branching_factor: 3 }, 8)
    const sets = p.deckies.map((d) => d.services.join(","))
    expect(new Set(sets).size).toBe(sets.length)
    for (const d of p.deckies) {
      expect(d.services.length).toBeGreaterThanOrEqual(1)
      expect(d.services.length).toBeLessThanOrEqual(3)
      expect(new Set(d.services).size).toBe(d.services.length)
      for (const s of d.services) expect(SERVICE_NAMES).toContain(s)
      expect(d.service_config).toEqual({})
    }
    const explicit = plan(
      { depth: 1, branching_factor: 2, randomize_services: false, services_explicit: ["ssh", "http"] },
      8
    )
    for (const d of explicit.deckies) expect(d.services).toEqual(["ssh", "http"])
  })

  it("bridge_forward_probability 0: nothing forwards; 1: every bridge forwards", () => {
    const none = plan(
      { depth: 2, branching_factor: 3, bridge_forward_probability: 0, cross_edge_probability: 1 },
      3
    )
    expect(none.deckies.some((d) => d.forwards_l3) || none.edges.some((e) => e.forwards_l3)).toBe(false)
    const all = plan({ depth: 2, branching_factor: 3 }, 3)
    for (const d of all.deckies) expect(d.forwards_l3).toBe(edgesOf(all, d.name).length > 1)
  })

  it("fails on an exhausted or invalid subnet base", () => {
    const failure = (fields: Record<string, unknown>) =>
      Either.match(generate(config(fields, 1)), {
        onLeft: (e) => `${e._tag}: ${e.message}`,
        onRight: () => "ok"
      })
    expect(failure({ depth: 1, branching_factor: 1, subnet_base_prefix: "192.168.0.0/24" })).toBe(
      "AllocatorExhausted: no free /24s left under 192.168.0.0/24"
    )
    expect(failure({ depth: 1, branching_factor: 1, subnet_base_prefix: "10.0.0.0/25" })).toBe(
      "TopologyRejected: subnet base 10.0.0.0/25 is narrower than /24; cannot carve /24 children out of it"
    )
    expect(failure({ depth: 1, branching_factor: 1, subnet_base_prefix: "300.1" })).toMatch(
      /^TopologyRejected: unrecognised/
    )
    // A /16 base holds 256 LANs; this tree wants more.
    expect(failure({ depth: 4, branching_factor: 8, subnet_base_prefix: "10.9" })).toBe(
      "AllocatorExhausted: no free /24s left under 10.9.0.0/16"
    )
  })

  it("toDetail: the plan as hydrate returns it (pending, version 1, rows by name, edges in order)", () => {
    const p = plan({ depth: 2, branching_factor: 2 }, 7)
    const d = toDetail(p, { topologyId: "t1" })
    expect(d.topology).toMatchObject({
      id: "t1",
      name: "maze",
      status: "pending",
      version: 1,
      mode: "unihost"
    })
    expect(d.lans.map((l) => l.name)).toEqual([...p.lans.map((l) => l.name)].sort())
    expect(d.deckies.map((x) => x.name)).toEqual([...p.deckies.map((x) => x.name)].sort())
    expect(d.edges.map((e) => [e.decky_uuid, e.lan_id])).toEqual(
      p.edges.map((e) => [`decky:${e.decky_name}`, `lan:${e.lan_name}`])
    )
    for (const row of d.deckies) {
      const planned = p.deckies.find((x) => x.name === row.name)
      expect(row.decky_config).toEqual({
        name: row.name,
        services: planned?.services,
        ips_by_lan: planned?.ips_by_lan,
        forwards_l3: planned?.forwards_l3,
        service_config: {}
      })
      expect(row.ip).toBe(Object.values(planned?.ips_by_lan ?? {})[0])
    }
  })
})

describe("seedConfig", () => {
  it.effect("keeps a given seed and draws one for null from Effect's Random", () =>
    Effect.gen(function* () {
      const given = config({ depth: 1, branching_factor: 1 }, 5)
      expect((yield* seedConfig(given)).seed).toBe(5)
      const blank = Schema.decodeUnknownSync(TopologyConfig)({ name: "n", depth: 1, branching_factor: 1 })
      expect(blank.seed).toBeNull()
      const drawn = yield* Effect.withRandom(seedConfig(blank), Random.make("fixed"))
      const again = yield* Effect.withRandom(seedConfig(blank), Random.make("fixed"))
      expect(drawn.seed).toBe(again.seed)
      expect(Number.isInteger(drawn.seed) && drawn.seed >= 0 && drawn.seed < 2 ** 31).toBe(true)
      expect(drawn).toEqual({ ...blank, seed: drawn.seed })
    })
  )
})

describe("the package (45)", () => {
  it("importing src/topology computes nothing: no PRNG is seeded, no plan generated", async () => {
    vi.resetModules()
    const fresh = await import("../../src/topology/Random.js")
    const spy = vi.spyOn(fresh.SeededRandom, "fromSeed")
    const pkg = await import("../../src/topology/index.js")
    expect(typeof pkg.generate).toBe("function")
    expect(spy).not.toHaveBeenCalled()
    // The same class is the one generate uses, so the spy would have seen a call.
    Either.getOrThrow(pkg.generate(config({ depth: 1, branching_factor: 1 }, 1)))
    expect(spy).toHaveBeenCalledTimes(1)
    spy.mockRestore()
  })
})
