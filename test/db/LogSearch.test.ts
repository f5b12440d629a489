import { Effect } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { LogRepo, parseSearch } from "../../src/db/index.js"
import { sqliteBackend } from "./backends.js"
import { useRuntime } from "./harness.js"

describe("parseSearch", () => {
  it("maps known keys to columns, other keys to fields, words to text", () => {
    expect(parseSearch(`decky:d1 event:login attacker-ip:1.2.3.4 user.name:root 'two words' x`)).toEqual([
      { kind: "column", column: "decky", value: "d1" },
      { kind: "column", column: "event_type", value: "login" },
      { kind: "column", column: "attacker_ip", value: "1.2.3.4" },
      { kind: "field", key: "username", value: "root" },
      { kind: "text", value: "two words" },
      { kind: "text", value: "x" }
    ])
  })

  it("falls back to whitespace splitting on an unterminated quote", () => {
    expect(parseSearch(`a "b c`)).toEqual([
      { kind: "text", value: "a" },
      { kind: "text", value: '"b' },
      { kind: "text", value: "c" }
    ])
  })

  it("never throws and only ever yields [A-Za-z0-9_] field keys (property)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 200 }), (s) => {
        for (const t of parseSearch(s)) if (t.kind === "field") expect(t.key).toMatch(/^[A-Za-z0-9_]+$/)
      }),
      { numRuns: 2000 }
    )
  })
})

describe("[sqlite] LogRepo search with hostile input", () => {
  const { backend } = sqliteBackend()
  const rt = useRuntime(backend)
  it("any search string is a parameterised query: counts are numbers, never SQL errors (property)", async () => {
    await rt().runPromise(
      Effect.flatMap(LogRepo, (r) =>
        r.addLog({
          timestamp: new Date(),
          decky: "d",
          service: "ssh",
          event_type: "e",
          attacker_ip: "1.1.1.1",
          attacker_port: 1,
          fields: { a: "1" },
          msg: "",
          severity: 6,
          raw_line: "l"
        })
      )
    )
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 80 }), async (s) => {
        const n = await rt().runPromise(Effect.flatMap(LogRepo, (r) => r.getTotalLogs({ search: s })))
        expect(n === 0 || n === 1).toBe(true)
      }),
      { numRuns: 200 }
    )
  })
})
