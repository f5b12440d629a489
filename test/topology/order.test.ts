// The orders LANs are walked in (spec/topology.md §6, acceptance case 27).
import { describe, expect, it } from "@effect/vitest"
import { byName, teardownOrder } from "../../src/topology/Order.js"

const lan = (name: string, is_dmz = false) => ({ name, is_dmz })

describe("teardownOrder", () => {
  it("LAN-00..LAN-03 come down as LAN-03, LAN-02, LAN-01, LAN-00 (27)", () => {
    expect(teardownOrder([lan("LAN-00", true), lan("LAN-01"), lan("LAN-02"), lan("LAN-03")])).toEqual([
      "LAN-03",
      "LAN-02",
      "LAN-01",
      "LAN-00"
    ])
  })

  it("the DMZ comes down last whatever its name (a blank topology's 'dmz')", () => {
    expect(teardownOrder([lan("dmz", true), lan("LAN-02"), lan("office")])).toEqual([
      "office",
      "LAN-02",
      "dmz"
    ])
  })

  it("byName sorts ascending", () => {
    expect([lan("b"), lan("a"), lan("c")].sort(byName).map((l) => l.name)).toEqual(["a", "b", "c"])
  })
})
