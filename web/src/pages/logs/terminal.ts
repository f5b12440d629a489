/**
 * Just enough of a terminal to read a recorded shell session as text: printable text, CR, LF, backspace
 * and tab move a cursor over lines; erase-line, clear-screen and cursor left/right are honoured; every
 * other escape sequence (CSI, OSC, charset) is dropped. A sequence split across two events is carried
 * over to the next one.
 */

const MAX_LINES = 5_000
/** The widest line kept: a recorded `ESC[999999999C` must not make a gigabyte of spaces. */
export const MAX_COLS = 1_000

// CSI with its parameters and final byte, OSC up to BEL/ST, charset selection, other 2-byte escapes,
// a single control character, or a run of printable text.
const TOKEN =
  /\x1b\[([0-?]*)[ -/]*([@-~])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[@-Z\\-_]|[\x00-\x1f\x7f]|[^\x00-\x1f\x7f\x1b]+/gy
/** An escape sequence cut off at the end of a chunk. */
const PARTIAL = /\x1b(?:\[[0-?]*[ -/]*|\][^\x07\x1b]{0,512}\x1b?|[()])?$/

export class Screen {
  private lines: Array<string> = [""]
  private row = 0
  private col = 0
  private carry = ""

  reset(): void {
    this.lines = [""]
    this.row = 0
    this.col = 0
    this.carry = ""
  }

  private write(text: string): void {
    if (this.col >= MAX_COLS) return
    const fit = text.slice(0, MAX_COLS - this.col)
    const line = (this.lines[this.row] ?? "").padEnd(this.col)
    this.lines[this.row] = line.slice(0, this.col) + fit + line.slice(this.col + fit.length)
    this.col += fit.length
  }

  private newline(): void {
    this.row += 1
    this.col = 0
    if (this.row >= this.lines.length) this.lines.push("")
    if (this.lines.length > MAX_LINES) {
      const drop = this.lines.length - MAX_LINES
      this.lines.splice(0, drop)
      this.row -= drop
    }
  }

  private csi(params: string, final: string): void {
    const n = Math.max(1, Number.parseInt(params, 10) || 1)
    const line = this.lines[this.row] ?? ""
    switch (final) {
      case "K": // erase in line: 0 = to the end, 1 = to the cursor, 2 = all
        if (params === "" || params === "0") this.lines[this.row] = line.slice(0, this.col)
        else if (params === "1") this.lines[this.row] = " ".repeat(this.col) + line.slice(this.col)
        else if (params === "2") this.lines[this.row] = ""
        break
      case "J": // erase in display: a full clear starts a fresh screen
        if (params === "2" || params === "3") this.reset()
        break
      case "C":
        this.col = Math.min(MAX_COLS, this.col + n)
        break
      case "D":
        this.col = Math.max(0, this.col - n)
        break
      default:
        break
    }
  }

  /** Feed one chunk of terminal output. */
  feed(chunk: string): void {
    let data = this.carry + chunk
    const partial = PARTIAL.exec(data)
    this.carry = partial === null ? "" : partial[0]
    if (this.carry !== "") data = data.slice(0, data.length - this.carry.length)
    TOKEN.lastIndex = 0
    for (let m = TOKEN.exec(data); m !== null; m = TOKEN.exec(data)) {
      const tok = m[0]
      if (m[2] !== undefined) this.csi(m[1] ?? "", m[2])
      else if (tok.startsWith("\x1b")) continue
      else if (tok === "\n") this.newline()
      else if (tok === "\r") this.col = 0
      else if (tok === "\b") this.col = Math.max(0, this.col - 1)
      else if (tok === "\t") this.write(" ".repeat(8 - (this.col % 8)))
      else if (tok.length === 1 && tok.charCodeAt(0) < 0x20) continue
      else if (tok === "\x7f") continue
      else this.write(tok)
    }
  }

  text(): string {
    return this.lines.map((l) => l.trimEnd()).join("\n")
  }
}
