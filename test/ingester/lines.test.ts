// Splitting windows of the `.json` file into complete lines: partial tails wait, over-long lines are
// dropped whole (across windows), offsets are file offsets.
import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { splitLines } from "../../src/ingester/Lines.js"

const bytes = (s: string) => new Uint8Array(Buffer.from(s, "utf8"))

describe("splitLines", () => {
  it("returns complete lines with the offset after each newline; a partial tail is not consumed", () => {
    const s = splitLines(bytes("a\nbc\nde"), 100, false)
    expect(s.lines).toEqual([
      { text: "a", end: 102 },
      { text: "bc", end: 105 }
    ])
    expect(s).toMatchObject({ next: 105, skipping: false, oversized: 0 })
  })

  it("a window without a newline is a partial line: nothing consumed", () => {
    expect(splitLines(bytes("abc"), 7, false)).toEqual({ lines: [], next: 7, skipping: false, oversized: 0 })
  })

  it("counts bytes, not characters (UTF-8)", () => {
    const s = splitLines(bytes("é€\nx\n"), 0, false)
    expect(s.lines).toEqual([
      { text: "é€", end: 6 },
      { text: "x", end: 8 }
    ])
  })

  it("drops a line that fills the whole window, and skips its remainder in the next windows", () => {
    const first = splitLines(bytes("0123456789"), 0, false, 10)
    expect(first).toEqual({ lines: [], next: 10, skipping: true, oversized: 1 })
    const middle = splitLines(bytes("abcdef"), 10, true, 10)
    expect(middle).toEqual({ lines: [], next: 16, skipping: true, oversized: 0 })
    const last = splitLines(bytes("gh\nok\n"), 16, true, 10)
    expect(last).toEqual({ lines: [{ text: "ok", end: 22 }], next: 22, skipping: false, oversized: 0 })
  })

  it("any text cut into windows at any points yields the same lines", () => {
    fc.assert(
      fc.property(
        fc.array(fc.stringMatching(/^[a-z{}":,é]{0,12}$/), { maxLength: 20 }),
        fc.array(fc.integer({ min: 1, max: 30 }), { minLength: 1, maxLength: 10 }),
        (lines, cuts) => {
          const text = bytes(lines.map((l) => `${l}\n`).join(""))
          const got: Array<string> = []
          let pos = 0
          let i = 0
          while (pos < text.length) {
            const len = Math.min(cuts[i++ % cuts.length] ?? 1, text.length - pos)
            // A window always starts at the first unconsumed byte and grows until a line ends in it.
            let end = pos + len
            for (;;) {
              const s = splitLines(text.subarray(pos, end), pos, false, 1 << 20)
              if (s.next > pos) {
                for (const l of s.lines) got.push(l.text)
                pos = s.next
                break
              }
              end = Math.min(end + 1, text.length)
            }
          }
          expect(got).toEqual(lines)
        }
      ),
      { numRuns: 500 }
    )
  })
})
