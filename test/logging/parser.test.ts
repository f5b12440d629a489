import { describe, expect, it } from "@effect/vitest"
import { Schema } from "effect"
import fc from "fast-check"
import {
  formatEventLine,
  IP_FIELD_NAMES,
  normalizeTimestamp,
  ParsedEvent,
  parseRfc5424,
  UNKNOWN_IP
} from "../../src/logging/index.js"

const at = new Date(Date.UTC(2026, 3, 21, 12, 0, 0, 123))
const parse = (line: string) => {
  const p = parseRfc5424(line)
  expect(p).not.toBeNull()
  if (p === null) throw new Error("unreachable")
  return p
}

describe("parseRfc5424 examples", () => {
  it("parses a formatter line", () => {
    const line = formatEventLine({
      hostname: "decky-01",
      appName: "ftp",
      msgId: "auth_attempt",
      fields: { username: "root", src_ip: "10.1.2.3", ok: false },
      msg: "hello",
      timestamp: at
    })
    const p = parse(line)
    expect(p).toMatchObject({
      timestamp: "2026-04-21 12:00:00",
      decky: "decky-01",
      service: "ftp",
      event_type: "auth_attempt",
      attacker_ip: "10.1.2.3",
      fields: { username: "root", src_ip: "10.1.2.3", ok: "false" },
      msg: "hello",
      raw_line: line
    })
    // The value is a valid instance of the shared schema.
    expect(Schema.is(ParsedEvent)(p)).toBe(true)
    expect(Schema.decodeUnknownSync(ParsedEvent)(Schema.encodeSync(ParsedEvent)(p))).toEqual(p)
  })

  it("returns null on a non-matching header", () => {
    expect(parseRfc5424("hello world")).toBeNull()
    expect(parseRfc5424("<134>2 ts h a - m -")).toBeNull()
    expect(parseRfc5424("<134>1 ts h a -")).toBeNull()
  })

  it("unescapes \\\" \\\\ \\] in SD values and keeps unknown pairs verbatim", () => {
    const p = parse(`<134>1 2026-01-01T00:00:00+00:00 d s - e [relay@55555 a="q\\"x" b="back\\\\slash" c="br\\]k" d="\\t"] m`)
    expect(p.fields).toEqual({ a: 'q"x', b: "back\\slash", c: "br]k", d: "\\t" })
    expect(p.msg).toBe("m")
  })

  it("only the first relay@55555 element contributes; other SD-IDs are skipped", () => {
    const p = parse(
      '<134>1 2026-01-01T00:00:00Z d s - e [other@1 src_ip="9.9.9.9"][relay@55555 user="a"][relay@55555 user="b"] tail'
    )
    expect(p.fields).toEqual({ user: "a" })
    expect(p.msg).toBe("tail")
    expect(p.attacker_ip).toBe(UNKNOWN_IP)
  })

  it("attacker_ip priority over SD params", () => {
    const p = parse('<134>1 2026-01-01T00:00:00Z d s - e [relay@55555 ip="5.5.5.5" remote_addr="4.4.4.4" src="3.3.3.3"]')
    expect(p.attacker_ip).toBe("3.3.3.3")
    for (const name of IP_FIELD_NAMES) {
      const q = parse(`<134>1 2026-01-01T00:00:00Z d s - e [relay@55555 ${name}="7.7.7.7"]`)
      expect(q.attacker_ip).toBe("7.7.7.7")
    }
  })

  it("host:port values are split and set remote_port (unless present)", () => {
    const p = parse('<134>1 2026-01-01T00:00:00Z d s - e [relay@55555 src_ip="1.2.3.4:5555"]')
    expect(p.attacker_ip).toBe("1.2.3.4")
    expect(p.fields.remote_port).toBe("5555")
    const v6 = parse('<134>1 2026-01-01T00:00:00Z d s - e [relay@55555 src_ip="[2001:db8::1]:22" remote_port="9"]')
    expect(v6.attacker_ip).toBe("2001:db8::1")
    expect(v6.fields.remote_port).toBe("9")
    const bare6 = parse('<134>1 2026-01-01T00:00:00Z d s - e [relay@55555 src_ip="::1"]')
    expect(bare6.attacker_ip).toBe("::1")
    expect(bare6.fields.remote_port).toBeUndefined()
  })

  it("fallback A: key=value in msg", () => {
    const p = parse("<134>1 2026-01-01T00:00:00Z d s - e - note ip=8.8.8.8 remote_ip=6.6.6.6:99")
    expect(p.attacker_ip).toBe("6.6.6.6")
    expect(p.fields).toEqual({})
  })

  it("fallback B: anchored prose", () => {
    expect(parse("<134>1 2026-01-01T00:00:00Z d sshd - - - Failed password for root from 203.0.113.9 port 22").attacker_ip).toBe(
      "203.0.113.9"
    )
    expect(parse("<134>1 2026-01-01T00:00:00Z d s - e - 1.1.1.1 auth failure; RHOST=198.51.100.7").attacker_ip).toBe(
      "198.51.100.7"
    )
    expect(parse("<134>1 2026-01-01T00:00:00Z d s - e - rhost: 192.0.2.1").attacker_ip).toBe("192.0.2.1")
    expect(parse("<134>1 2026-01-01T00:00:00Z d s - e - 10.0.0.1 client:2001:db8::7 x").attacker_ip).toBe("2001:db8::7")
    // Anchored beats the earlier bare address (the local listener in sshd's prose).
    expect(
      parse("<134>1 2026-01-01T00:00:00Z d sshd - - - Connection on 10.0.0.2 port 22 from 198.51.100.1").attacker_ip
    ).toBe("198.51.100.1")
  })

  it("fallback C: first bare IPv4; Unknown otherwise", () => {
    expect(parse("<134>1 2026-01-01T00:00:00Z d s - e - peer 999.1.1.1 then 10.0.0.5 and 10.0.0.6").attacker_ip).toBe(
      "10.0.0.5"
    )
    expect(parse("<134>1 2026-01-01T00:00:00Z d s - e - nothing here").attacker_ip).toBe(UNKNOWN_IP)
  })

  it("double-wrapped lines take the inner host/app/msgid", () => {
    const p = parse(
      '<134>1 2026-01-01T00:00:00+00:00 outer bash - - - 2026-01-01T00:00:01.5+00:00 decky-07 bash 42 - CMD uid=0 pwd=/root cmd=ls src=10.9.8.7'
    )
    expect(p.decky).toBe("decky-07")
    expect(p.service).toBe("bash")
    expect(p.event_type).toBe("command")
    expect(p.msg).toBe("CMD uid=0 pwd=/root cmd=ls src=10.9.8.7")
    expect(p.attacker_ip).toBe("10.9.8.7")
    expect(p.timestamp).toBe("2026-01-01 00:00:00")
  })

  it("CMD lines only become command when MSGID is -", () => {
    expect(parse("<134>1 2026-01-01T00:00:00Z d bash - - - CMD ls").event_type).toBe("command")
    expect(parse("<134>1 2026-01-01T00:00:00Z d bash - exec - CMD ls").event_type).toBe("exec")
  })

  it("timestamps: reformatted, raw when unparsable", () => {
    expect(normalizeTimestamp("2026-04-21T23:59:58.999999-05:00")).toBe("2026-04-21 23:59:58")
    expect(normalizeTimestamp("2026-02-30T00:00:00Z")).toBe("2026-02-30T00:00:00Z")
    expect(normalizeTimestamp("Apr")).toBe("Apr")
    expect(parse("<134>1 - d s - e -").timestamp).toBe("-")
  })

  it("newlines, quotes, brackets and backslashes round-trip through the escapes", () => {
    const fields = { v: 'a"b]c\\d\ne\r\nf', w: "\\n literal" }
    const msg = 'line1\nline2 \\n not a newline ] " ü 漢字'
    const line = formatEventLine({ hostname: "h", appName: "a", msgId: "m", fields, msg, timestamp: at })
    expect(line).not.toMatch(/[\r\n]/)
    const p = parse(line)
    expect(p.fields).toEqual(fields)
    expect(p.msg).toBe(msg)
  })

  it("a __proto__ param is an ordinary field", () => {
    const p = parse('<134>1 2026-01-01T00:00:00Z d s - e [relay@55555 __proto__="x" src_ip="1.2.3.4:1"]')
    expect(Object.getPrototypeOf(p.fields)).toBe(Object.prototype)
    expect(Object.hasOwn(p.fields, "__proto__")).toBe(true)
    expect(p.fields.remote_port).toBe("1")
  })
})

const RUNS = { numRuns: 10_000 }
const token = (max: number) =>
  fc.stringMatching(/^[\x21-\x7e]+$/).filter((s) => s.length <= max && s !== "-")
const reserved = new Set<string>([...IP_FIELD_NAMES, "remote_port"])
const fieldName = fc.stringMatching(/^\w{1,12}$/).filter((k) => !reserved.has(k))
const anyText = fc.oneof(
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.string({ unit: fc.constantFrom("\\", '"', "]", "[", "\n", "\r", " ", "=", "n", "a", "é", "😀"), maxLength: 20 }),
  fc.string({ unit: "binary", maxLength: 20 })
)

describe("properties", () => {
  it("format → parse round-trips fields, msg and header tokens", () => {
    fc.assert(
      fc.property(
        token(255),
        token(48),
        token(32),
        fc.dictionary(fieldName, anyText, { maxKeys: 6 }),
        anyText.map((s) => s.trim()),
        fc.date({ min: new Date(Date.UTC(1970, 0, 1)), max: new Date(Date.UTC(9999, 11, 31)), noInvalidDate: true }),
        (hostname, appName, msgId, fields, msg, timestamp) => {
          const line = formatEventLine({ hostname, appName, msgId, fields, msg, timestamp })
          expect(line).not.toMatch(/[\r\n]/)
          const p = parseRfc5424(line)
          expect(p).not.toBeNull()
          expect(p?.decky).toBe(hostname)
          expect(p?.service).toBe(appName)
          expect(p?.event_type).toBe(msgId)
          expect(p?.fields).toEqual(fields)
          expect(p?.msg).toBe(msg)
          expect(p?.timestamp).toBe(timestamp.toISOString().slice(0, 19).replace("T", " "))
        }
      ),
      RUNS
    )
  })

  it("an IP field always becomes attacker_ip", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...IP_FIELD_NAMES),
        fc.ipV4(),
        fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
        (name, ip, port) => {
          const value = port === undefined ? ip : `${ip}:${port}`
          const p = parseRfc5424(formatEventLine({ hostname: "d", appName: "s", msgId: "e", fields: { [name]: value } }))
          expect(p?.attacker_ip).toBe(ip)
          expect(p?.fields.remote_port).toBe(port === undefined ? undefined : String(port))
        }
      ),
      RUNS
    )
  })

  it("never throws on arbitrary strings", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: "binary", maxLength: 300 })), (s) => {
        const p = parseRfc5424(s)
        if (p !== null) expect(typeof p.attacker_ip).toBe("string")
      }),
      RUNS
    )
  })

  it("never throws on mutations of valid lines", () => {
    const base = fc
      .record({ fields: fc.dictionary(fc.stringMatching(/^\w{1,8}$/), anyText, { maxKeys: 4 }), msg: anyText })
      .map(({ fields, msg }) => formatEventLine({ hostname: "h", appName: "a", msgId: "-", fields, msg, timestamp: at }))
    const mutation = fc.array(
      fc.tuple(fc.nat(), fc.nat({ max: 5 }), fc.constantFrom("", "\\", '"', "]", "[", " ", "-", "\n", "x", "=", "[relay@55555 ")),
      { maxLength: 6 }
    )
    fc.assert(
      fc.property(base, mutation, (line, edits) => {
        let s = line
        for (const [pos, del, ins] of edits) {
          const i = pos % (s.length + 1)
          s = s.slice(0, i) + ins + s.slice(i + del)
        }
        const p = parseRfc5424(s)
        if (p !== null) {
          expect(p.raw_line).toBe(s)
          for (const v of Object.values(p.fields)) expect(typeof v).toBe("string")
        }
      }),
      RUNS
    )
  })
})
