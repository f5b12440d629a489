import { Either } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as Topics from "../../src/bus/Topics.js"

const token = fc.stringMatching(/^[a-z0-9_:-]{1,6}$/)
const topic = fc.array(token, { minLength: 1, maxLength: 6 }).map((t) => t.join("."))

describe("Topics", () => {
  it("builders accept ids and reject bad segments", () => {
    expect(Either.getOrThrow(Topics.topologyMutation("t1", "applied"))).toBe("topology.t1.mutation.applied")
    expect(Either.getOrThrow(Topics.decky("host:web1", "state"))).toBe("decky.host:web1.state")
    expect(Either.getOrThrow(Topics.attacker("session.ended"))).toBe("attacker.session.ended")
    for (const bad of ["", "a.b", "a*", "a>", "a b", "a\tb"])
      expect(Either.isLeft(Topics.topologyStatus(bad))).toBe(true)
    expect(Either.isLeft(Topics.attacker(""))).toBe(true)
    expect(Either.isLeft(Topics.attacker("a..b"))).toBe(true)
    expect(Either.isLeft(Topics.system("x.>"))).toBe(true)
  })

  it("patterns and topics are printable ASCII without spaces and fit a frame header", () => {
    for (const bad of ["café.>", "a.\u0001", "a.\u007f", "a\u00a0b", "\u{1F600}", "a.b\u2028"])
      expect(Either.isLeft(Topics.validatePattern(bad))).toBe(true)
    expect(Either.isRight(Topics.validatePattern("a.~!#$%&'()+,-/:;<=?@[]^_`{|}.>"))).toBe(true)
    // `UNSUB <pattern>` plus the LF is exactly the 4096-byte header at the limit.
    expect(Topics.MAX_TOPIC_LENGTH).toBe(4096 - "UNSUB ".length - 1)
    expect(Either.isRight(Topics.validatePattern("x".repeat(Topics.MAX_TOPIC_LENGTH)))).toBe(true)
    const long = Topics.validatePattern("x".repeat(Topics.MAX_TOPIC_LENGTH + 1))
    expect(Either.isLeft(long) && long.left.message).toMatch(/longer than 4089/)
    // Builders refuse such segments up front.
    expect(Either.isLeft(Topics.decky("café", "state"))).toBe(true)
    expect(Either.isLeft(Topics.attacker("sessión.ended"))).toBe(true)
  })

  it("matching examples and fixed quirks", () => {
    expect(Topics.matches("topology.>", "topology.abc.status")).toBe(true)
    expect(Topics.matches("topology.>", "topology")).toBe(false)
    expect(Topics.matches("a.*", "a.b.c")).toBe(false)
    expect(Topics.matches("quirk.>.zzz", "quirk.anything")).toBe(false)
    expect(Topics.matches("gt.>", "gt.")).toBe(false)
    expect(Topics.matches("dot.*", "dot.")).toBe(false)
    expect(Topics.matches("system.*.health", "system.bus.health")).toBe(true)
    expect(Topics.matches("a.b", "a.bc")).toBe(false)
    expect(Either.isLeft(Topics.validatePattern("a.>.b"))).toBe(true)
    expect(Either.isLeft(Topics.validatePattern("a..b"))).toBe(true)
    expect(Either.isRight(Topics.validatePattern("a.*.>"))).toBe(true)
  })

  it("property: a topic matches itself, its > prefixes and its * forms", () => {
    fc.assert(
      fc.property(topic, fc.nat(), (t, n) => {
        const parts = t.split(".")
        expect(Topics.matches(t, t)).toBe(true)
        const k = n % parts.length
        expect(Topics.matches([...parts.slice(0, k), ">"].join("."), t)).toBe(true)
        const star = parts.map((p, i) => (i === k ? "*" : p)).join(".")
        expect(Topics.matches(star, t)).toBe(true)
        expect(Topics.matches(`${t}.>`, t)).toBe(false)
      })
    )
  })

  it("property: * never matches across dots", () => {
    fc.assert(
      fc.property(token, token, token, (a, b, c) => {
        expect(Topics.matches(`${a}.*`, `${a}.${b}.${c}`)).toBe(false)
      })
    )
  })

  it("property: an invalid pattern never matches", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), topic, (p, t) => {
        if (!Topics.isValidPattern(p)) expect(Topics.matches(p, t)).toBe(false)
      }),
      { numRuns: 5000 }
    )
  })
})
