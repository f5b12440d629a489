// The replay's terminal (web/src/pages/logs/terminal.ts) reads what an attacker typed and what the fake
// shell printed: any bytes. Property: it never throws, never shows an escape sequence, and stays bounded
// (a recorded `ESC[999999999C` must not build a gigabyte line), whatever the chunks.
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { MAX_COLS, Screen } from "../../web/src/pages/logs/terminal.js"

const pieces = fc.oneof(
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.constantFrom(
    "\x1b[",
    "\x1b]0;title\x07",
    "\x1b[2J",
    "\x1b[K",
    "\r\n",
    "\b",
    "\t",
    "\x1b[999999999C",
    "\x1b(B"
  ),
  fc.integer({ min: 0, max: 99_999_999 }).map((n) => `\x1b[${n}C`)
)

describe("the replay's terminal", () => {
  it("renders text, CR/LF, backspace and erase-line like a terminal", () => {
    const s = new Screen()
    s.feed("root@web:~# ls\r\n")
    s.feed("abc\bX\r\nlong line\r\x1b[Kshort\r\n\x1b[1;32mgreen\x1b[0m")
    expect(s.text()).toBe("root@web:~# ls\nabX\nshort\ngreen")
    // a sequence split across two chunks is carried over
    const t = new Screen()
    t.feed("a\x1b[")
    t.feed("2Jb")
    expect(t.text()).toBe("b")
  })

  it("never throws, never shows an escape, and keeps every line ≤ MAX_COLS (fast-check)", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.array(pieces, { maxLength: 8 }).map((a) => a.join("")),
          { maxLength: 30 }
        ),
        (chunks) => {
          const s = new Screen()
          for (const c of chunks) s.feed(c)
          const text = s.text()
          expect(text.includes("\x1b")).toBe(false)
          for (const line of text.split("\n")) expect(line.length).toBeLessThanOrEqual(MAX_COLS)
        }
      ),
      { numRuns: 400 }
    )
  })
})
