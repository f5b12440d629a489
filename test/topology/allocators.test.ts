// MazeNET allocators (spec/topology.md §5, acceptance cases 1–9): host addresses of a LAN skip the
// gateway and come out in order; /24s under a base come out in address order around reservations.
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { IpAllocator, SubnetAllocator } from "../../src/topology/Allocators.js"

const ips = (subnet: string) => Either.getOrThrow(IpAllocator.make(subnet))
const subnets = (base: string, reserved: Iterable<string> = []) =>
  Either.getOrThrow(SubnetAllocator.make(base, reserved))
const next = (a: { nextFree: () => Either.Either<string, unknown> }) => Either.getOrThrow(a.nextFree())
const failure = <E extends { readonly _tag: string; readonly message: string }>(
  e: Either.Either<unknown, E>
) =>
  Either.match(e, {
    onLeft: (err) => ({ tag: err._tag, message: err.message }),
    onRight: () => undefined
  })

describe("IpAllocator", () => {
  it("hands out .2 to .6 of a /29 in order, then is exhausted (1)", () => {
    const a = ips("10.0.0.0/29")
    expect([next(a), next(a), next(a), next(a), next(a)]).toEqual([
      "10.0.0.2",
      "10.0.0.3",
      "10.0.0.4",
      "10.0.0.5",
      "10.0.0.6"
    ])
    expect(failure(a.nextFree())).toEqual({
      tag: "AllocatorExhausted",
      message: "no free IPs left in 10.0.0.0/29"
    })
  })

  it("reserve takes an address, release gives it back (2)", () => {
    const a = ips("10.0.0.0/24")
    expect(a.isFree("10.0.0.9")).toBe(true)
    expect(Either.isRight(a.reserve("10.0.0.9"))).toBe(true)
    expect(a.isFree("10.0.0.9")).toBe(false)
    expect(Either.isRight(a.reserve("10.0.0.9"))).toBe(true) // idempotent
    a.release("10.0.0.9")
    expect(a.isFree("10.0.0.9")).toBe(true)
  })

  it("refuses the gateway and addresses outside the subnet (3)", () => {
    const a = ips("10.0.0.0/24")
    expect(failure(a.reserve("10.0.0.1"))).toEqual({
      tag: "TopologyRejected",
      message: "10.0.0.1 is the gateway of 10.0.0.0/24"
    })
    expect(failure(a.reserve("10.0.1.5"))).toEqual({
      tag: "TopologyRejected",
      message: "10.0.1.5 not in 10.0.0.0/24"
    })
    // Network and broadcast addresses are not hosts; neither is a spelling ipaddress refuses.
    expect(failure(a.reserve("10.0.0.0"))?.message).toBe("10.0.0.0 not in 10.0.0.0/24")
    expect(failure(a.reserve("10.0.0.255"))?.message).toBe("10.0.0.255 not in 10.0.0.0/24")
    expect(failure(a.reserve("10.0.0.07"))?.message).toBe("10.0.0.07 not in 10.0.0.0/24")
    expect(a.isFree("10.0.0.1")).toBe(false)
    expect(a.isFree("10.0.1.5")).toBe(false)
    expect(a.isFree("junk")).toBe(false)
    expect(a.gateway).toBe("10.0.0.1")
  })

  it("skips a reserved address (4)", () => {
    const a = ips("10.0.0.0/24")
    Either.getOrThrow(a.reserve("10.0.0.2"))
    expect(next(a)).toBe("10.0.0.3")
  })

  it("a /30 has one address to give (5)", () => {
    const a = ips("10.0.0.0/30")
    expect(next(a)).toBe("10.0.0.2")
    expect(failure(a.nextFree())).toEqual({
      tag: "AllocatorExhausted",
      message: "no free IPs left in 10.0.0.0/30"
    })
  })

  it("rescans for released addresses once the cursor is past the end", () => {
    const a = ips("10.0.0.0/29")
    for (let i = 0; i < 5; i++) next(a)
    a.release("10.0.0.4")
    expect(next(a)).toBe("10.0.0.4")
    expect(Either.isLeft(a.nextFree())).toBe(true)
  })

  it("parses loosely (host bits dropped) and refuses what is not a network", () => {
    const a = ips("10.1.2.77/24")
    expect(a.subnet).toBe("10.1.2.0/24")
    expect(next(a)).toBe("10.1.2.2")
    expect(ips("10.1.2.0/255.255.255.0").subnet).toBe("10.1.2.0/24")
    expect(failure(IpAllocator.make("10.1.2/24"))?.tag).toBe("TopologyRejected")
    expect(failure(IpAllocator.make("10.1.2.0/33"))?.tag).toBe("TopologyRejected")
    // /31 and /32: the first host is still the gateway.
    const p2p = ips("10.0.0.0/31")
    expect(next(p2p)).toBe("10.0.0.1")
    expect(Either.isLeft(ips("10.0.0.9/32").nextFree())).toBe(true)
  })
})

describe("SubnetAllocator", () => {
  it("two octets: /24s of the /16 in order, reservations skipped, reserve idempotent (6)", () => {
    const a = subnets("172.20")
    expect([next(a), next(a), next(a)]).toEqual(["172.20.0.0/24", "172.20.1.0/24", "172.20.2.0/24"])
    const b = subnets("172.20", ["172.20.0.0/24", "172.20.2.0/24"])
    expect([next(b), next(b)]).toEqual(["172.20.1.0/24", "172.20.3.0/24"])
    Either.getOrThrow(b.reserve("172.20.4.0/24"))
    Either.getOrThrow(b.reserve("172.20.4.0/24"))
    expect(b.isFree("172.20.4.0/24")).toBe(false)
    expect(b.isFree("172.20.5.0/24")).toBe(true)
    expect(next(b)).toBe("172.20.5.0/24")
    expect(b.isFree("172.20.5.0/24")).toBe(false)
    // A trailing dot is ignored.
    expect(next(subnets("172.20."))).toBe("172.20.0.0/24")
  })

  it("exhausts a fully reserved /16; 172.20.0.0/16 is the same as 172.20 (7)", () => {
    const reserved = Array.from({ length: 256 }, (_, i) => `10.0.${i}.0/24`)
    expect(failure(subnets("10.0", reserved).nextFree())).toEqual({
      tag: "AllocatorExhausted",
      message: "no free /24s left under 10.0.0.0/16"
    })
    const short = subnets("172.20")
    const long = subnets("172.20.0.0/16")
    expect(long.parent).toBe(short.parent)
    const drawn = (a: SubnetAllocator) => Array.from({ length: 256 }, () => next(a))
    expect(drawn(long)).toEqual(drawn(short))
    expect(Either.isLeft(long.nextFree())).toBe(true)
  })

  it("a /12 holds exactly 4096 /24s; the 257th is 172.17.0.0/24 (8)", () => {
    const a = subnets("172.16.0.0/12")
    expect(a.capacity).toBe(4096)
    const all = Array.from({ length: 4096 }, () => next(a))
    expect(all[0]).toBe("172.16.0.0/24")
    expect(all[256]).toBe("172.17.0.0/24")
    expect(all[4095]).toBe("172.31.255.0/24")
    expect(new Set(all).size).toBe(4096)
    expect(failure(a.nextFree())?.message).toBe("no free /24s left under 172.16.0.0/12")
  })

  it("refuses a base narrower than /24 and unrecognised bases; the message names the parent (9)", () => {
    expect(failure(SubnetAllocator.make("10.0.0.0/25"))).toEqual({
      tag: "TopologyRejected",
      message: "subnet base 10.0.0.0/25 is narrower than /24; cannot carve /24 children out of it"
    })
    for (const bad of ["10", "10.0.0", "", "999.1", "10.0.0.0/40", "a.b"]) {
      expect(failure(SubnetAllocator.make(bad))?.message).toBe(
        `unrecognised subnet base '${bad}'; expected 'x.y' or CIDR`
      )
    }
    // A /24 base (four octets or a CIDR) is one slot; host bits in a CIDR base are dropped.
    const one = subnets("192.168.7.0")
    expect(next(one)).toBe("192.168.7.0/24")
    expect(failure(one.nextFree())?.message).toBe("no free /24s left under 192.168.7.0/24")
    expect(subnets("10.1.2.3/16").parent).toBe("10.1.0.0/16")
  })

  it("a reservation wider or narrower than /24 blocks every /24 it overlaps", () => {
    const a = subnets("10.0", ["10.0.0.0/23", "10.0.2.128/25", "not a subnet"])
    expect(next(a)).toBe("10.0.3.0/24")
    const wide = subnets("172.16.0.0/12", ["172.16.0.0/16"])
    expect(next(wide)).toBe("172.17.0.0/24")
    expect(wide.isFree("172.16.9.0/24")).toBe(false)
    expect(wide.isFree("172.17.0.0/16")).toBe(false) // holds the /24 just handed out
    expect(wide.isFree("172.18.0.0/16")).toBe(true)
    expect(failure(wide.reserve("junk"))?.tag).toBe("TopologyRejected")
  })
})
