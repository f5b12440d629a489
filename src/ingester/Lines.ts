/**
 * Complete lines out of a window of the `.json` file. A trailing partial line stays for the next read
 * (the writer is mid-line); a line that does not end within MAX_LINE_BYTES is dropped whole, since no
 * writer of ours produces one and holding it would be an unbounded buffer.
 */

/** The longest line kept: a record is one event with its raw line, far below this. */
export const MAX_LINE_BYTES = 4 * 1024 * 1024

export interface Line {
  /** The line's text (UTF-8 decoded, no newline). */
  readonly text: string
  /** The file offset just after its newline: where the next line starts. */
  readonly end: number
}

export interface Split {
  readonly lines: ReadonlyArray<Line>
  /** The file offset up to which the window was consumed (complete lines, dropped bytes). */
  readonly next: number
  /** Still inside an over-long line: drop bytes up to the next newline. */
  readonly skipping: boolean
  /** Over-long lines started in this window. */
  readonly oversized: number
}

const NL = 0x0a

/**
 * Split `window`, read at file offset `base`. `skipping` carries an over-long line across windows. A
 * window shorter than `max` with no newline is a partial line: nothing is consumed.
 */
export const splitLines = (
  window: Uint8Array,
  base: number,
  skipping: boolean,
  max = MAX_LINE_BYTES
): Split => {
  const buf = Buffer.from(window.buffer, window.byteOffset, window.byteLength)
  let i = 0
  if (skipping) {
    const nl = buf.indexOf(NL, 0)
    if (nl < 0) return { lines: [], next: base + buf.length, skipping: true, oversized: 0 }
    i = nl + 1
  }
  const lines: Array<Line> = []
  for (;;) {
    const nl = buf.indexOf(NL, i)
    if (nl < 0) break
    lines.push({ text: buf.toString("utf8", i, nl), end: base + nl + 1 })
    i = nl + 1
  }
  if (buf.length - i >= max) return { lines, next: base + buf.length, skipping: true, oversized: 1 }
  return { lines, next: base + i, skipping: false, oversized: 0 }
}
