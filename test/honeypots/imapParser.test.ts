import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { type Arg, isValidTag, parseArgs, splitCommand } from "../../src/honeypots/imap/Parser.js"

const depth = (args: ReadonlyArray<Arg>): number =>
  args.reduce((d, a) => Math.max(d, a._tag === "list" ? 1 + depth(a.items) : 0), 0)

describe("imap parser (Dovecot's imap-parser rules)", () => {
  it("reads atoms, quoted strings with escapes and nested lists", () => {
    expect(parseArgs('admin "p\\"w d" (FLAGS (\\Seen)) NIL')).toEqual({
      ok: true,
      args: [
        { _tag: "atom", value: "admin" },
        { _tag: "string", value: 'p"w d' },
        {
          _tag: "list",
          items: [
            { _tag: "atom", value: "FLAGS" },
            { _tag: "list", items: [{ _tag: "atom", value: "\\Seen" }] }
          ]
        },
        { _tag: "atom", value: "NIL" }
      ]
    })
  })

  it("answers malformed input with Dovecot's error texts", () => {
    expect(parseArgs('"admin')).toEqual({ ok: false, error: "Missing '\"'" })
    expect(parseArgs("(")).toEqual({ ok: false, error: "Missing ')'" })
    expect(parseArgs(")")).toEqual({ ok: false, error: "Unexpected ')'" })
    expect(parseArgs("{abc}")).toEqual({ ok: false, error: "Invalid literal size" })
    expect(parseArgs("a\tb")).toEqual({ ok: false, error: "Invalid characters in atom" })
  })

  it("checks tags as imap-login does and splits tag, name and rest on single spaces", () => {
    expect(["a1", "x.y", "LOGIN", "~!@#$&"].every(isValidTag)).toBe(true)
    expect(["", "a+b", "a(", "*", "%", 'a"', "a\\", "a/b", "é", "a\u0001"].some(isValidTag)).toBe(false)
    expect(splitCommand("a  NOOP")).toEqual({ tag: "a", name: "", rest: "NOOP" })
    expect(splitCommand("GET / HTTP/1.0")).toEqual({ tag: "GET", name: "/", rest: "HTTP/1.0" })
  })

  it("is total and bounded on any input (fast-check)", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 400 }), fc.stringMatching(/^[a-z"()\\{} \t0-9]{0,200}$/)),
        (text) => {
          const r = parseArgs(text)
          if (r.ok) {
            expect(r.args.length).toBeLessThanOrEqual(512)
            expect(depth(r.args)).toBeLessThanOrEqual(17)
          } else expect(r.error.length).toBeGreaterThan(0)
          const { tag, name, rest } = splitCommand(text)
          expect(text.startsWith(tag)).toBe(true)
          expect(text.includes(name) && text.endsWith(rest)).toBe(true)
        }
      ),
      { numRuns: 5_000 }
    )
  })

  it("refuses nesting deeper than its bound instead of recursing", () => {
    expect(parseArgs("(".repeat(10_000))).toEqual({ ok: false, error: "Too deep parameter list nesting" })
    expect(parseArgs("a ".repeat(600)).ok).toBe(false)
  })
})
