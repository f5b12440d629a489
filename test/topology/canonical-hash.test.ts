// The canonical JSON and hash of a hydrated topology (spec/topology.md §6, spec/README.md "Portable hashes",
// acceptance case 17).
import { describe, expect, it } from "@effect/vitest"
import { Either, Schema } from "effect"
import { canonicalHash, canonicalJson, compareCodePoints } from "../../src/topology/CanonicalHash.js"
import { generate, toDetail } from "../../src/topology/Generator.js"
import { TopologyConfig, TopologyDetail } from "../../src/topology/Model.js"

const detail = () =>
  toDetail(
    Either.getOrThrow(
      generate({
        ...Schema.decodeSync(TopologyConfig)({ name: "hash", depth: 2, branching_factor: 2 }),
        seed: 3
      })
    ),
    { now: new Date("2024-05-01T10:00:00Z") }
  )

describe("canonicalJson", () => {
  it("sorts keys at every level, no whitespace, volatile keys dropped at every level", () => {
    expect(
      canonicalJson({
        b: 1,
        a: [{ z: true, y: 2, status: "x" }, null],
        version: 3,
        nested: { created_at: "t", deep: { last_seen: 1, w: 1, h: 2, keep: "é" } },
        status_changed_at: 1,
        updated_at: 1,
        last_error: "boom",
        x: 1
      })
    ).toBe('{"a":[{"z":true},null],"b":1,"nested":{"deep":{"keep":"é"}}}')
  })

  it("writes Dates as ISO strings, drops undefined keys, and non-finite numbers as null", () => {
    expect(
      canonicalJson({ at: new Date("2024-01-02T03:04:05Z"), gone: undefined, n: Number.NaN, l: [undefined] })
    ).toBe('{"at":"2024-01-02T03:04:05.000Z","l":[null],"n":null}')
    expect(canonicalJson('a"b\n')).toBe('"a\\"b\\n"')
    expect(canonicalJson(10n)).toBe("10")
  })

  it("orders keys by code point (UTF-8 byte order), not UTF-16 units", () => {
    // U+FF5E sorts before U+1F600 by code point, after it by UTF-16 units (0xFF5E > 0xD83D).
    const keys = ["\u{1F600}", "\uFF5E", "a", "B", ""]
    expect(Object.keys(JSON.parse(canonicalJson(Object.fromEntries(keys.map((k) => [k, 1])))))).toEqual([
      "",
      "B",
      "a",
      "\uFF5E",
      "\u{1F600}"
    ])
    expect(compareCodePoints("\uFF5E", "\u{1F600}")).toBeLessThan(0)
    expect(compareCodePoints("ab", "a")).toBeGreaterThan(0)
  })
})

describe("canonicalHash (17)", () => {
  it("is stable and hex SHA-256", () => {
    expect(canonicalHash(detail())).toBe(canonicalHash(detail()))
    expect(canonicalHash(detail())).toMatch(/^[0-9a-f]{64}$/)
    expect(canonicalHash({})).toBe("44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a")
  })

  it("does not depend on key order", () => {
    const d = detail()
    const reversed = JSON.parse(JSON.stringify(d), (_k, v) =>
      v !== null && typeof v === "object" && !Array.isArray(v)
        ? Object.fromEntries(Object.entries(v).reverse())
        : v
    )
    expect(canonicalHash(reversed)).toBe(canonicalHash(d))
  })

  it("ignores status, version, timestamps, last_error and layout", () => {
    const d = detail()
    const moved: TopologyDetail = {
      topology: {
        ...d.topology,
        status: "active",
        version: 7,
        status_changed_at: new Date(),
        created_at: new Date(1)
      },
      lans: d.lans.map((lan) => ({ ...lan, x: 12.5, y: 3 })),
      deckies: d.deckies.map((decky) => ({ ...decky, last_error: "it broke", x: 1, y: 2 })),
      edges: d.edges
    }
    expect(canonicalHash(moved)).toBe(canonicalHash(d))
  })

  it("changes when services, state or a name change", () => {
    const d = detail()
    const base = canonicalHash(d)
    const [first, ...rest] = d.deckies
    if (first === undefined) throw new Error("no decky")
    expect(
      canonicalHash({ ...d, deckies: [{ ...first, services: [...first.services, "ssh"] }, ...rest] })
    ).not.toBe(base)
    expect(canonicalHash({ ...d, deckies: [{ ...first, state: "running" }, ...rest] })).not.toBe(base)
    expect(canonicalHash({ ...d, topology: { ...d.topology, name: "other" } })).not.toBe(base)
    expect(canonicalHash({ ...d, topology: { ...d.topology, needs_resync: true } })).not.toBe(base)
  })

  it("does not mutate its input", () => {
    const d = detail()
    const before = structuredClone(d)
    canonicalHash(d)
    canonicalJson(d)
    expect(d).toEqual(before)
  })

  it("the decoded detail and its JSON encoding hash alike", () => {
    const d = detail()
    const wire = JSON.parse(JSON.stringify(Schema.encodeSync(TopologyDetail)(d)))
    expect(canonicalHash(wire)).toBe(canonicalHash(d))
  })
})
