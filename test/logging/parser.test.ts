// The HoneypotEvent's wire form: encode → RFC 5424 line → parse → decode is the identity for every
// event, hostile text included; foreign lines (a real sshd through rsyslog) keep the spec's guessing.
import { describe, expect, it } from "@effect/vitest"
import { Either, Schema } from "effect"
import fc from "fast-check"
import {
  encodeEventLine,
  guessAttackerIp,
  type HoneypotEvent,
  HoneypotEventLine,
  hasUnsafeCharacter,
  IP_FIELD_NAMES,
  parseEventLine,
  parseTimestamp,
  SystemLogPayload,
  UNKNOWN_IP
} from "../../src/logging/index.js"

const at = new Date(Date.UTC(2026, 3, 21, 12, 0, 0, 123))

const event = (over: Partial<HoneypotEvent> = {}): HoneypotEvent => ({
  timestamp: at,
  decky: "decky-01",
  service: "ftp",
  event_type: "auth_attempt",
  attacker_ip: "10.1.2.3",
  attacker_port: 40000,
  fields: { username: "root", ok: "false" },
  msg: "",
  severity: 6,
  ...over
})

const decode = Schema.decodeUnknownEither(HoneypotEventLine)
const encode = Schema.encodeSync(HoneypotEventLine)

const parse = (line: string) => {
  const p = parseEventLine(line)
  expect(p).toBeDefined()
  if (p === undefined) throw new Error("unreachable")
  return p
}

describe("the event line", () => {
  it("is the RFC 5424 layout with the peer first in the relay@55555 element", () => {
    const line = encodeEventLine(event({ msg: "hello" }))
    expect(line).toBe(
      '<134>1 2026-04-21T12:00:00.123000+00:00 decky-01 ftp - auth_attempt [relay@55555 src_ip="10.1.2.3" src_port="40000" username="root" ok="false"] hello'
    )
    expect(Either.getOrThrow(decode(line))).toEqual(event({ msg: "hello" }))
  })

  it("an event without peer or fields still carries the (empty) SD element: it is ours, not foreign", () => {
    const startup = event({
      event_type: "startup",
      attacker_ip: UNKNOWN_IP,
      attacker_port: null,
      fields: {},
      msg: "up"
    })
    const line = encodeEventLine(startup)
    expect(line).toBe("<134>1 2026-04-21T12:00:00.123000+00:00 decky-01 ftp - startup [relay@55555] up")
    // A foreign parser would have guessed an address out of this message; ours does not.
    const tricky = { ...startup, msg: "listening from 1.2.3.4" }
    expect(Either.getOrThrow(decode(encodeEventLine(tricky)))).toEqual(tricky)
  })

  it("severity is the PRI's low three bits", () => {
    const line = encodeEventLine(event({ severity: 4 }))
    expect(line.startsWith("<132>1 ")).toBe(true)
    expect(parse(line).severity).toBe(4)
  })

  it("control characters never reach the line raw, and come back exactly", () => {
    const hostile = "a\x1b[31m\x00b\x7f\x9b\u2028\t\r\n\\x41 \\"
    const e = event({ fields: { mail_from: hostile }, msg: ` ${hostile} ` })
    const line = encodeEventLine(e)
    expect(hasUnsafeCharacter(line)).toBe(false)
    expect(line).toContain('mail_from="a\\x1b[31m\\x00b\\x7f\\x9b\\u2028\\t\\r\\n\\\\x41 \\\\"')
    expect(Either.getOrThrow(decode(line))).toEqual(e)
  })

  it("refuses what is not an event: a bad header token, a reserved field name, a bad time", () => {
    expect(Either.isLeft(Schema.validateEither(HoneypotEventLine)(event({ decky: "two words" })))).toBe(true)
    expect(
      Either.isLeft(
        Schema.validateEither(HoneypotEventLine)(event({ fields: JSON.parse('{"__proto__":"x"}') }))
      )
    ).toBe(true)
    expect(
      Either.isLeft(Schema.validateEither(HoneypotEventLine)(event({ fields: { src_ip: "1.1.1.1" } })))
    ).toBe(true)
    expect(Either.isLeft(Schema.validateEither(HoneypotEventLine)(event({ fields: { "a-b": "x" } })))).toBe(
      true
    )
    expect(Either.isLeft(decode("hello world"))).toBe(true)
    expect(Either.isLeft(decode("<134>1 Apr d s - e [relay@55555]"))).toBe(true)
  })

  it("a bad src_port is dropped; params that cannot be fields (__proto__, over-long) stay in the raw line only", () => {
    const long = "n".repeat(33)
    const p = parse(
      `<134>1 2026-01-01T00:00:00Z d s - e [relay@55555 src_ip="1.2.3.4" src_port="99999" __proto__="x" ${long}="y" k="v"]`
    )
    expect(p.attacker_ip).toBe("1.2.3.4")
    expect(p.attacker_port).toBeNull()
    expect(Object.getPrototypeOf(p.fields)).toBe(Object.prototype)
    expect(p.fields).toEqual({ k: "v" })
    expect(Either.getOrThrow(decode(encodeEventLine(p)))).toEqual(p)
  })

  it("the system.log payload is the event's summary", () => {
    const payload = Schema.encodeSync(SystemLogPayload)(event())
    expect(payload).toEqual({
      decky: "decky-01",
      service: "ftp",
      event_type: "auth_attempt",
      attacker_ip: "10.1.2.3",
      timestamp: "2026-04-21T12:00:00.123Z"
    })
  })
})

describe("foreign lines (no relay@55555 element)", () => {
  it("guess the address from the prose: anchored, key=value, bare", () => {
    expect(
      parse("<38>1 2026-01-01T00:00:00Z d sshd 812 - - Failed password for root from 203.0.113.9 port 22")
        .attacker_ip
    ).toBe("203.0.113.9")
    expect(
      parse("<134>1 2026-01-01T00:00:00Z d s - e - 1.1.1.1 auth failure; RHOST=198.51.100.7").attacker_ip
    ).toBe("198.51.100.7")
    expect(
      parse("<134>1 2026-01-01T00:00:00Z d s - e - note ip=8.8.8.8 remote_ip=6.6.6.6:99").attacker_ip
    ).toBe("6.6.6.6")
    expect(parse("<134>1 2026-01-01T00:00:00Z d s - e - peer 999.1.1.1 then 10.0.0.5").attacker_ip).toBe(
      "10.0.0.5"
    )
    expect(parse("<134>1 2026-01-01T00:00:00Z d s - e - nothing here").attacker_ip).toBe(UNKNOWN_IP)
    expect(
      parse("<134>1 2026-01-01T00:00:00Z d sshd - - - Connection on 10.0.0.2 port 22 from 198.51.100.1")
        .attacker_ip
    ).toBe("198.51.100.1")
  })

  it("other SD-IDs contribute nothing; the line is still foreign", () => {
    const p = parse('<134>1 2026-01-01T00:00:00Z d s - e [other@1 src_ip="9.9.9.9"] from 192.0.2.4')
    expect(p.fields).toEqual({})
    expect(p.attacker_ip).toBe("192.0.2.4")
  })

  it("double-wrapped lines take the inner host/app/msgid; CMD under a NIL MSGID is a command", () => {
    const p = parse(
      "<134>1 2026-01-01T00:00:00+00:00 outer bash - - - 2026-01-01T00:00:01.5+00:00 decky-07 bash 42 - CMD uid=0 pwd=/root cmd=ls src=10.9.8.7"
    )
    expect(p.decky).toBe("decky-07")
    expect(p.event_type).toBe("command")
    expect(p.attacker_ip).toBe("10.9.8.7")
    expect(p.timestamp.toISOString()).toBe("2026-01-01T00:00:00.000Z")
    expect(parse("<134>1 2026-01-01T00:00:00Z d bash - exec - CMD ls").event_type).toBe("exec")
  })

  it("an unparsable time takes the reader's time when it gives one, else the line is refused", () => {
    expect(parseEventLine("<38>1 - d sshd - - - hello")).toBeUndefined()
    expect(parseEventLine("<38>1 - d sshd - - - hello", at)?.timestamp).toEqual(at)
  })

  it("non-RFC 5424 input gives undefined", () => {
    expect(parseEventLine("hello world")).toBeUndefined()
    expect(parseEventLine("<134>2 ts h a - m -")).toBeUndefined()
    expect(parseEventLine("<134>1 ts h a -")).toBeUndefined()
  })
})

describe("timestamps", () => {
  it("keep milliseconds, honour the offset, refuse impossible dates", () => {
    expect(parseTimestamp("2026-04-21T23:59:58.999999-05:00")?.toISOString()).toBe("2026-04-22T04:59:58.999Z")
    expect(parseTimestamp("2026-04-21 12:00:00")?.toISOString()).toBe("2026-04-21T12:00:00.000Z")
    expect(parseTimestamp("2026-02-30T00:00:00Z")).toBeUndefined()
    expect(parseTimestamp("Apr")).toBeUndefined()
  })
})

// ---- properties ------------------------------------------------------------------------------------

const RUNS = { numRuns: 5_000 }
const token = (max: number) => fc.stringMatching(new RegExp(`^[\\x21-\\x7e]{1,${max}}$`))
const hostile = fc.oneof(
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.string({
    unit: fc.constantFrom(
      "\\",
      '"',
      "]",
      "[",
      "\n",
      "\r",
      "\t",
      " ",
      "=",
      "\x00",
      "\x1b",
      "\x7f",
      "\x9b",
      "\u2028",
      "x",
      "n",
      "-"
    ),
    maxLength: 24
  }),
  // Unpaired surrogates: not encodable as UTF-8, so they must be escaped to survive a write.
  fc.constantFrom("\ud800", "a\udfff", "\udc00\ud800")
)
const fieldName = fc.oneof(
  fc
    .stringMatching(/^[A-Za-z0-9_]{1,32}$/)
    .filter((k) => k !== "src_ip" && k !== "src_port" && k !== "__proto__"),
  fc.constantFrom("constructor", "toString", "hasOwnProperty", "remote_addr", "src", "ip")
)
const peer = fc.oneof(
  fc.record({ attacker_ip: fc.constant(UNKNOWN_IP), attacker_port: fc.constant(null) }),
  fc.record({
    attacker_ip: fc.oneof(
      fc.ipV4(),
      fc.ipV6(),
      hostile.filter((s) => s !== "" && s !== UNKNOWN_IP)
    ),
    attacker_port: fc.option(fc.integer({ min: 0, max: 65535 }), { nil: null })
  })
)

const arbitraryEvent: fc.Arbitrary<HoneypotEvent> = fc
  .record({
    timestamp: fc.date({
      min: new Date(Date.UTC(1970, 0, 1)),
      max: new Date(Date.UTC(9999, 11, 31, 23, 59, 59, 999)),
      noInvalidDate: true
    }),
    decky: token(255),
    service: token(48),
    event_type: token(32),
    peer,
    fields: fc.dictionary(fieldName, hostile, { maxKeys: 6 }),
    msg: hostile,
    severity: fc.constantFrom(0, 1, 2, 3, 4, 5, 6, 7)
  })
  .map(({ peer, ...rest }) => ({ ...rest, ...peer }))

describe("properties", () => {
  it("encode → RFC 5424 → parse → decode is the identity for any HoneypotEvent", () => {
    fc.assert(
      fc.property(arbitraryEvent, (e) => {
        const line = encode(e)
        expect(hasUnsafeCharacter(line)).toBe(false)
        expect(line).not.toMatch(/[\r\n]/)
        const back = Either.getOrThrow(decode(line))
        expect(back).toEqual(e)
        expect(back.timestamp.getTime()).toBe(e.timestamp.getTime())
        expect(Object.keys(back.fields)).toEqual(Object.keys(e.fields))
      }),
      RUNS
    )
  })

  it("the line survives a UTF-8 write and read (what the collector sees)", () => {
    fc.assert(
      fc.property(arbitraryEvent, (e) => {
        const bytes = Buffer.from(encode(e), "utf8")
        expect(Either.getOrThrow(decode(bytes.toString("utf8")))).toEqual(e)
      }),
      { numRuns: 1_000 }
    )
  })

  it("a foreign line's IP-named key=value in the prose becomes attacker_ip", () => {
    fc.assert(
      fc.property(fc.constantFrom(...IP_FIELD_NAMES), fc.ipV4(), (name, ip) => {
        expect(guessAttackerIp(`something ${name}=${ip} happened`)).toBe(ip)
      }),
      RUNS
    )
  })

  it("never throws on arbitrary strings or on mutations of valid lines", () => {
    const mutated = fc
      .tuple(
        arbitraryEvent,
        fc.array(
          fc.tuple(
            fc.nat(),
            fc.nat({ max: 5 }),
            fc.constantFrom("", "\\", '"', "]", "[", " ", "-", "\n", "=", "[relay@55555 ")
          ),
          {
            maxLength: 6
          }
        )
      )
      .map(([e, edits]) => {
        let s = encodeEventLine(e)
        for (const [pos, del, ins] of edits) {
          const i = pos % (s.length + 1)
          s = s.slice(0, i) + ins + s.slice(i + del)
        }
        return s
      })
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: "binary", maxLength: 300 }), mutated), (s) => {
        const p = parseEventLine(s, at)
        if (p !== undefined) for (const v of Object.values(p.fields)) expect(typeof v).toBe("string")
        decode(s)
      }),
      RUNS
    )
  })
})
