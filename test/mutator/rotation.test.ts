// The rotation rules of spec/topology.md §9: the pick pool, the draw, and when a decky is due.
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option, Random } from "effect"
import { SERVICE_NAMES } from "../../src/catalog/Services.js"
import { HONEYPOT_SLUGS } from "../../src/honeypots/Registry.js"
import { canRun, drawServices, dueness, MAX_DRAWS, pickPool } from "../../src/mutator/Rotation.js"
import { makeDecky, makeDeployment } from "../fleet/fakeRuntime.js"

describe("pickPool", () => {
  it("a known archetype gives its services, in its order", () => {
    expect(pickPool({ archetype: "database-server" })).toEqual(["mysql", "postgres", "redis"])
    expect(pickPool({ archetype: "windows-server" })).toEqual(["smb", "rdp", "ldap"])
  })

  it("no archetype, or an unknown one, gives every non-singleton service this build can run", () => {
    const runnable = SERVICE_NAMES.filter(canRun)
    expect(pickPool({ archetype: null })).toEqual(runnable)
    expect(pickPool({ archetype: "toaster" })).toEqual(runnable)
    // Exactly the emulated slugs: no singleton (sniffer) and nothing without an emulator (snmp, sip…).
    expect([...runnable].sort()).toEqual([...HONEYPOT_SLUGS].sort())
    expect(runnable).not.toContain("sniffer")
    expect(runnable).not.toContain("snmp")
  })

  it("drops what the runtime cannot run; an archetype with nothing runnable has an empty pool", () => {
    expect(pickPool({ archetype: "printer" })).toEqual(["ftp"]) // snmp has no emulator
    expect(pickPool({ archetype: "domain-controller" })).toEqual(["ldap", "smb", "rdp"]) // llmnr dropped
    expect(pickPool({ archetype: "voip-server" })).toEqual([]) // sip only
    expect(pickPool({ archetype: "linux-server" }, (s) => s !== "http")).toEqual(["ssh"])
  })
})

const seeded = <A>(seed: number, self: Effect.Effect<A>) => Effect.withRandom(self, Random.make(seed))

describe("drawServices", () => {
  it.effect(
    "draws 1..3 distinct services of the pool, in pool order, never the current set when another exists",
    () =>
      Effect.gen(function* () {
        const pool = pickPool({ archetype: null })
        for (let seed = 0; seed < 200; seed++) {
          const current = ["ssh", "http"]
          const drawn = Option.getOrThrow(yield* seeded(seed, drawServices(pool, current)))
          expect(drawn.length).toBeGreaterThanOrEqual(1)
          expect(drawn.length).toBeLessThanOrEqual(3)
          expect(new Set(drawn).size).toBe(drawn.length)
          expect(drawn.every((s) => pool.includes(s))).toBe(true)
          expect([...drawn]).toEqual(pool.filter((s) => drawn.includes(s)))
          expect([...drawn].sort()).not.toEqual(current.sort())
        }
      })
  )

  it.effect("a two-service pool never repeats the current set, whatever the draws", () =>
    Effect.gen(function* () {
      const pool = pickPool({ archetype: "linux-server" })
      const seen = new Set<string>()
      for (let seed = 0; seed < 100; seed++) {
        const drawn = Option.getOrThrow(yield* seeded(seed, drawServices(pool, ["ssh", "http"])))
        expect([...drawn].sort()).not.toEqual(["http", "ssh"])
        seen.add(drawn.join(","))
      }
      expect([...seen].sort()).toEqual(["http", "ssh"])
    })
  )

  it.effect(`a one-service pool gives up after ${MAX_DRAWS} draws and keeps the same set`, () =>
    Effect.gen(function* () {
      expect(Option.getOrThrow(yield* drawServices(["ftp"], ["ftp"]))).toEqual(["ftp"])
      expect(Option.getOrThrow(yield* drawServices(["ftp"], ["ssh"]))).toEqual(["ftp"])
    })
  )

  it.effect("an empty pool draws nothing", () =>
    Effect.gen(function* () {
      expect(Option.isNone(yield* drawServices([], ["ssh"]))).toBe(true)
    })
  )

  it.effect("the draw follows Effect's Random: the same seed gives the same set", () =>
    Effect.gen(function* () {
      const pool = pickPool({ archetype: null })
      const a = yield* seeded(42, drawServices(pool, ["ssh"]))
      const b = yield* seeded(42, drawServices(pool, ["ssh"]))
      expect(a).toEqual(b)
    })
  )
})

describe("dueness", () => {
  const now = 1_800_000_000
  const d = (overrides: Parameters<typeof makeDecky>[1]) => makeDecky("web01", overrides)
  const fleet = (interval: number | null) => makeDeployment([d({})], { mutate_interval: interval }).config

  it("uses the decky's interval, else the deployment's (minutes)", () => {
    expect(dueness(d({ mutate_interval: 5, last_mutated: now - 60 }), fleet(30), now)).toEqual({
      _tag: "Pending",
      seconds: 240
    })
    expect(dueness(d({ last_mutated: now - 60 }), fleet(30), now)).toEqual({ _tag: "Pending", seconds: 1740 })
    expect(dueness(d({ mutate_interval: 5, last_mutated: now - 300 }), fleet(30), now)).toEqual({
      _tag: "Due"
    })
    // Never mutated (0): due at the first pass.
    expect(dueness(d({}), fleet(30), now)).toEqual({ _tag: "Due" })
  })

  it("no interval anywhere: skipped unless forced or asked for by name", () => {
    expect(dueness(d({}), fleet(null), now)).toEqual({ _tag: "Skip" })
    expect(dueness(d({}), fleet(null), now, { force: true })).toEqual({ _tag: "Due" })
    expect(dueness(d({}), fleet(null), now, { only: new Set(["web01"]) })).toEqual({ _tag: "Due" })
  })

  it("`only` forces the named deckies and skips every other, due or not", () => {
    const due = d({ mutate_interval: 1, last_mutated: 0 })
    expect(dueness(due, fleet(30), now, { only: new Set(["db01"]) })).toEqual({ _tag: "Skip" })
    expect(
      dueness(d({ mutate_interval: 60, last_mutated: now }), fleet(30), now, { only: new Set(["web01"]) })
    ).toEqual({
      _tag: "Due"
    })
  })
})
