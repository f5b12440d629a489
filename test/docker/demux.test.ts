// The log demultiplexer and progress splitter decode attacker-influenced bytes (a honeypot container's
// output), so they are property-tested: chunking never changes the result, lines stay bounded, garbage
// never throws.
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  demuxAll,
  encodeFrame,
  JsonLines,
  type LogLine,
  LogDemuxer,
  MAX_JSON_LINE_BYTES,
  RawLogDecoder
} from "../../src/docker/Demux.js"

const te = new TextEncoder()
const bytes = (s: string) => te.encode(s)
const concat = (parts: ReadonlyArray<Uint8Array>) => new Uint8Array(Buffer.concat(parts))

/** Cut `all` at the given offsets (sorted, deduplicated, in range). */
const cut = (all: Uint8Array, offsets: ReadonlyArray<number>): Array<Uint8Array> => {
  const points = [...new Set(offsets.map((o) => o % (all.length + 1)))].sort((a, b) => a - b)
  const out: Array<Uint8Array> = []
  let prev = 0
  for (const p of points) {
    out.push(all.subarray(prev, p))
    prev = p
  }
  out.push(all.subarray(prev))
  return out
}

/** The model: per stream, the concatenated payload split on \n, pieces over `max` cut, tail flushed. */
const model = (frames: ReadonlyArray<readonly [LogLine["stream"], string]>, max: number) => {
  const per: Record<string, string> = {}
  for (const [s, p] of frames) per[s] = (per[s] ?? "") + p
  const out: Record<string, Array<string>> = {}
  for (const [s, text] of Object.entries(per)) {
    const lines: Array<string> = []
    const parts = text.split("\n")
    parts.forEach((part, i) => {
      const last = i === parts.length - 1
      if (last && part === "") return
      let rest = part
      // The splitter emits a full piece only once a further byte arrives, so exactly k*max bytes are k pieces.
      while (rest.length > max) {
        lines.push(rest.slice(0, max))
        rest = rest.slice(max)
      }
      lines.push(rest)
    })
    if (lines.length > 0) out[s] = lines
  }
  return out
}

const byStream = (lines: ReadonlyArray<LogLine>) => {
  const out: Record<string, Array<string>> = {}
  for (const l of lines) (out[l.stream] ??= []).push(l.line)
  return out
}

const asciiText = fc.string({ unit: fc.constantFrom("a", "b", "x", " ", "\n"), maxLength: 60 })
const frameArb = fc.tuple(fc.constantFrom<LogLine["stream"]>("stdout", "stderr", "stdin"), asciiText)

describe("LogDemuxer", () => {
  it("decodes stdout and stderr frames into lines tagged with their stream", () => {
    const all = concat([encodeFrame("stdout", bytes("hello\n")), encodeFrame("stderr", bytes("err\n"))])
    expect(demuxAll([all])).toEqual({
      lines: [
        { stream: "stdout", line: "hello" },
        { stream: "stderr", line: "err" }
      ]
    })
  })

  it("joins a line split over frames and keeps per-stream partial lines apart", () => {
    const all = concat([
      encodeFrame("stdout", bytes("hel")),
      encodeFrame("stderr", bytes("oops")),
      encodeFrame("stdout", bytes("lo\nwor")),
      encodeFrame("stderr", bytes("\n")),
      encodeFrame("stdout", bytes("ld"))
    ])
    expect(demuxAll([all]).lines).toEqual([
      { stream: "stdout", line: "hello" },
      { stream: "stderr", line: "oops" },
      { stream: "stdout", line: "world" }
    ])
  })

  it("property: any chunking gives the model's lines, in the same order as one big chunk", () => {
    fc.assert(
      fc.property(
        fc.array(frameArb, { maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        fc.integer({ min: 1, max: 24 }),
        (frames, offsets, max) => {
          const all = concat(frames.map(([s, p]) => encodeFrame(s, bytes(p))))
          const whole = demuxAll([all], max)
          const chunked = demuxAll(cut(all, offsets), max)
          expect(chunked).toEqual(whole)
          expect(whole.error).toBeUndefined()
          expect(byStream(whole.lines)).toEqual(model(frames, max))
        }
      ),
      { numRuns: 400 }
    )
  })

  it("property: arbitrary bytes never throw, lines stay within the bound, errors are sticky", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 10 }),
        fc.integer({ min: 1, max: 32 }),
        (chunks, max) => {
          const d = new LogDemuxer(max)
          let error: string | undefined
          const lines: Array<LogLine> = []
          for (const c of chunks) {
            const r = d.push(c)
            lines.push(...r.lines)
            if (r.error !== undefined) error ??= r.error
            if (error !== undefined) expect(r.error).toBe(error)
          }
          lines.push(...d.end().lines)
          for (const l of lines) expect(l.line.length).toBeLessThanOrEqual(max)
        }
      ),
      { numRuns: 400 }
    )
  })

  it("a huge declared frame is streamed, not buffered: lines come out before the frame ends", () => {
    const header = new Uint8Array([1, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff])
    const d = new LogDemuxer(16)
    const r = d.push(concat([header, bytes("a\nb\n"), bytes("x".repeat(40))]))
    expect(r.error).toBeUndefined()
    expect(r.lines.map((l) => l.line)).toEqual(["a", "b", "x".repeat(16), "x".repeat(16)])
    expect(d.end().error).toBe("log stream ended inside a frame")
  })

  it("rejects a stream that is not multiplexed (TTY output, wrong framing)", () => {
    expect(demuxAll([bytes("hello world\n")]).error).toMatch(/not a multiplexed log stream/)
    expect(demuxAll([new Uint8Array([1, 1, 0, 0, 0, 0, 0, 0])]).error).toMatch(/bad frame header/)
  })

  it("reports a frame cut short and a header cut short at end of stream", () => {
    const f = encodeFrame("stdout", bytes("abcdef\n"))
    expect(demuxAll([f.subarray(0, f.length - 2)]).error).toBe("log stream ended inside a frame")
    expect(demuxAll([f.subarray(0, 5)]).error).toBe("log stream ended inside a frame")
    expect(demuxAll([f]).error).toBeUndefined()
  })

  it("an engine error frame (stream 3) ends decoding with its text; earlier lines are kept", () => {
    const all = concat([
      encodeFrame("stdout", bytes("ok\n")),
      encodeFrame("system", bytes("container gone\n"))
    ])
    expect(demuxAll([all])).toEqual({
      lines: [{ stream: "stdout", line: "ok" }],
      error: "engine error in log stream: container gone"
    })
  })

  it("keeps empty lines and flushes an unterminated last line at end", () => {
    const all = encodeFrame("stdout", bytes("\n\nlast"))
    expect(demuxAll([all]).lines.map((l) => l.line)).toEqual(["", "", "last"])
  })

  it("decodes UTF-8 split across frames", () => {
    const euro = bytes("€\n")
    const all = concat([encodeFrame("stdout", euro.subarray(0, 1)), encodeFrame("stdout", euro.subarray(1))])
    expect(demuxAll([all]).lines).toEqual([{ stream: "stdout", line: "€" }])
  })
})

describe("RawLogDecoder (TTY containers)", () => {
  it("property: everything is stdout, split on newlines, bounded, chunking-invariant", () => {
    fc.assert(
      fc.property(
        asciiText,
        fc.array(fc.nat(), { maxLength: 10 }),
        fc.integer({ min: 1, max: 16 }),
        (text, offsets, max) => {
          const run = (chunks: ReadonlyArray<Uint8Array>) => {
            const d = new RawLogDecoder(max)
            return [...chunks.flatMap((c) => d.push(c).lines), ...d.end().lines]
          }
          const all = bytes(text)
          const whole = run([all])
          expect(run(cut(all, offsets))).toEqual(whole)
          expect(byStream(whole)).toEqual(model([["stdout", text]], max))
        }
      ),
      { numRuns: 300 }
    )
  })
})

describe("JsonLines (build, import and event progress)", () => {
  const run = (chunks: ReadonlyArray<Uint8Array>) => {
    const d = new JsonLines()
    const values: Array<unknown> = []
    for (const c of chunks) {
      const r = d.push(c)
      values.push(...r.values)
      if (r.error !== undefined) return { values, error: r.error }
    }
    const r = d.end()
    values.push(...r.values)
    return r.error === undefined ? { values } : { values, error: r.error }
  }

  it("property: newline-delimited JSON values survive any chunking; blank and CRLF lines are fine", () => {
    const value = fc.oneof(
      fc.record({ stream: fc.string() }),
      fc.record({ status: fc.string(), id: fc.string() }),
      fc.record({ aux: fc.record({ ID: fc.string() }) })
    )
    fc.assert(
      fc.property(
        fc.array(value, { maxLength: 10 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (values, offsets) => {
          const text = values.map((v) => `${JSON.stringify(v)}\r\n\n`).join("")
          const all = bytes(text)
          expect(run(cut(all, offsets))).toEqual({ values })
        }
      ),
      { numRuns: 300 }
    )
  })

  it("accepts a last message without newline and rejects malformed JSON", () => {
    expect(run([bytes('{"a":1}\n{"b":2}')])).toEqual({ values: [{ a: 1 }, { b: 2 }] })
    expect(run([bytes('{"a":1}\n{nope}\n')]).error).toMatch(/malformed progress message: \{nope\}/)
  })

  it("refuses a message over the bound instead of buffering it", () => {
    const big = bytes(`{"stream":"${"x".repeat(MAX_JSON_LINE_BYTES)}"}\n`)
    expect(run([big]).error).toMatch(/progress message over/)
  })
})
