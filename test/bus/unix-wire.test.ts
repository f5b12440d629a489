// Properties of the hot-path wire pieces UnixBus and the broker use: the decoder's in-chunk fast path
// and its buffered slow path must agree for every way a byte stream can be cut into chunks, and the
// FrameWriter must produce exactly what encodeFrame produces.

import { Either } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Decoder, encodeFrame, FrameWriter, MAX_HEADER, VERBS, type Verb } from "../../src/bus/Wire.js"

const verb = fc.constantFrom<Verb>(...VERBS)
const args = fc.stringMatching(/^[a-z0-9.>*_-]{0,40}$/)
const body = fc.oneof(
  fc.constant(""),
  fc
    .dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.integer(), fc.string({ maxLength: 30 })))
    .map((d) => JSON.stringify({ payload: d }))
)
const frame = fc.record({ verb, args, body })

/** Cut `bytes` at the given fractions into chunks (possibly empty ones). */
const cut = (bytes: Buffer, points: ReadonlyArray<number>): Array<Buffer> => {
  const at = [...new Set(points.map((p) => Math.floor(p * bytes.length)))].sort((a, b) => a - b)
  const out: Array<Buffer> = []
  let prev = 0
  for (const p of at) {
    out.push(bytes.subarray(prev, p))
    prev = p
  }
  out.push(bytes.subarray(prev))
  return out
}

type Decoded = { frames: Array<[string, string, string]>; error: string | undefined }

const decodeAll = (chunks: ReadonlyArray<Buffer>): Decoded => {
  const d = new Decoder()
  const frames: Array<[string, string, string]> = []
  for (const c of chunks) {
    const err = d.feed(c, (v, a, buf, s, e) => {
      frames.push([v, a, buf.toString("utf8", s, e)])
      return true
    })
    if (err !== undefined) return { frames, error: err.reason }
  }
  return { frames, error: undefined }
}

describe("wire hot paths", () => {
  it("valid streams decode to the same frames however they are chunked", () => {
    fc.assert(
      fc.property(
        fc.array(frame, { maxLength: 30 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 12 }),
        (frames, points) => {
          const bytes = Buffer.concat(
            frames.map((f) => Either.getOrThrow(encodeFrame(f.verb, f.args, f.body)))
          )
          const whole = decodeAll([bytes])
          const split = decodeAll(cut(bytes, points))
          const byteByByte = decodeAll([...bytes].map((b) => Buffer.from([b])))
          expect(whole.error).toBeUndefined()
          expect(whole.frames).toEqual(frames.map((f) => [f.verb, f.args.trim(), f.body]))
          expect(split).toEqual(whole)
          expect(byteByByte).toEqual(whole)
        }
      ),
      { numRuns: 300 }
    )
  })

  it("arbitrary bytes: the verdict and the frames before it do not depend on chunking", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 600 }),
        fc.array(frame, { maxLength: 4 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 8 }),
        (garbage, frames, points) => {
          const good = frames.map((f) => Either.getOrThrow(encodeFrame(f.verb, f.args, f.body)))
          const bytes = Buffer.concat([...good, Buffer.from(garbage), ...good])
          const whole = decodeAll([bytes])
          expect(decodeAll(cut(bytes, points))).toEqual(whole)
        }
      ),
      { numRuns: 1000 }
    )
  })

  it("header limit: 4096 bytes with the LF pass, 4097 fail, in one chunk or many", () => {
    for (const chunked of [false, true]) {
      const ok = Buffer.concat([Buffer.from(`PUB ${"a".repeat(MAX_HEADER - 5)}\n`), Buffer.alloc(4)])
      const bad = Buffer.concat([Buffer.from(`PUB ${"a".repeat(MAX_HEADER - 4)}\n`), Buffer.alloc(4)])
      const split = (b: Buffer) => (chunked ? cut(b, [0.3, 0.6, 0.9]) : [b])
      expect(decodeAll(split(ok))).toEqual({
        frames: [["PUB", "a".repeat(MAX_HEADER - 5), ""]],
        error: undefined
      })
      expect(decodeAll(split(bad)).error).toBe("header-too-long")
      // No LF at all: rejected once more than 4096 bytes are buffered, not before.
      expect(decodeAll(split(Buffer.alloc(MAX_HEADER, 97))).error).toBeUndefined()
      expect(decodeAll(split(Buffer.alloc(MAX_HEADER + 1, 97))).error).toBe("header-too-long")
    }
  })

  it("FrameWriter emits exactly encodeFrame's bytes, across arena rotations", () => {
    fc.assert(
      fc.property(
        fc.array(frame, { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 64, max: 4096 }),
        (frames, arena) => {
          const w = new FrameWriter(arena)
          const taken: Array<Buffer> = []
          frames.forEach((f, i) => {
            const header = (f.args.length > 0 ? `${f.verb} ${f.args}` : f.verb).trimEnd()
            const half = Math.floor(f.body.length / 2)
            expect(w.appendParts(header, f.body.slice(0, half), f.body.slice(half), "")).toBe(true)
            if (i % 3 === 2) taken.push(...w.take())
          })
          expect(w.pendingFrames).toBe(frames.length % 3)
          taken.push(...w.take())
          expect(w.pendingBytes).toBe(0)
          const expected = Buffer.concat(
            frames.map((f) => Either.getOrThrow(encodeFrame(f.verb, f.args, f.body)))
          )
          expect(Buffer.concat(taken).equals(expected)).toBe(true)
        }
      ),
      { numRuns: 300 }
    )
  })
})
