// The topology status machine (spec/topology.md §3, acceptance case 16).
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { TOPOLOGY_STATUSES } from "../../src/topology/Model.js"
import { assertTransition, LEGAL_TRANSITIONS, legalNext } from "../../src/topology/Status.js"

const LEGAL: ReadonlyArray<readonly [string, string]> = [
  ["pending", "deploying"],
  ["pending", "torn_down"],
  ["deploying", "active"],
  ["deploying", "failed"],
  ["deploying", "degraded"],
  ["deploying", "tearing_down"],
  ["active", "degraded"],
  ["active", "tearing_down"],
  ["degraded", "active"],
  ["degraded", "tearing_down"],
  ["failed", "tearing_down"],
  ["tearing_down", "torn_down"],
  ["tearing_down", "degraded"]
]

const message = (e: Either.Either<unknown, { readonly _tag: string; readonly message: string }>) =>
  Either.match(e, { onLeft: (err) => `${err._tag}: ${err.message}`, onRight: () => "ok" })

describe("status machine", () => {
  it("the 13 legal pairs pass; every other pair over the 7 states is refused", () => {
    expect(Object.values(LEGAL_TRANSITIONS).flat()).toHaveLength(13)
    const legal = new Set(LEGAL.map(([a, b]) => `${a}>${b}`))
    let refused = 0
    for (const from of TOPOLOGY_STATUSES) {
      for (const to of TOPOLOGY_STATUSES) {
        const result = assertTransition(from, to)
        if (legal.has(`${from}>${to}`)) expect(result).toEqual(Either.right(to))
        else {
          expect(message(result)).toBe(`TopologyStatusError: illegal transition: '${from}' → '${to}'`)
          refused++
        }
      }
    }
    expect(refused).toBe(49 - 13)
  })

  it("legalNext lists the successors; torn_down has none", () => {
    for (const s of TOPOLOGY_STATUSES) {
      const expected = LEGAL.filter(([a]) => a === s).map(([, b]) => b)
      expect([...Either.getOrThrow(legalNext(s))].sort()).toEqual(expected.sort())
    }
    expect(Either.getOrThrow(legalNext("torn_down"))).toEqual([])
  })

  it("unknown states are refused by both", () => {
    expect(message(assertTransition("bogus", "active"))).toBe(
      "TopologyStatusError: unknown current status: 'bogus'"
    )
    expect(message(assertTransition("pending", "bogus"))).toBe(
      "TopologyStatusError: unknown new status: 'bogus'"
    )
    expect(message(assertTransition("bogus", "bogus"))).toBe(
      "TopologyStatusError: unknown current status: 'bogus'"
    )
    expect(message(legalNext("bogus"))).toBe("TopologyStatusError: unknown status: 'bogus'")
  })
})
