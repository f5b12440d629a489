// The HTTP/2 SETTINGS tap behind the `http2_settings` event: exact decoding of hand-built frames,
// and properties over attacker bytes (any chunking gives the same answer; nothing throws; the tap
// lets go after a bounded number of bytes).

import fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  H2_PREFACE,
  MAX_SETTINGS_PAYLOAD,
  parseSettingsPayload,
  SettingsTap,
  settingName
} from "../../src/honeypots/http/H2Settings.js"

const frame = (type: number, payload: Buffer, flags = 0, stream = 0): Buffer => {
  const head = Buffer.alloc(9)
  head.writeUIntBE(payload.length, 0, 3)
  head[3] = type
  head[4] = flags
  head.writeUInt32BE(stream, 5)
  return Buffer.concat([head, payload])
}

const settingsPayload = (pairs: ReadonlyArray<readonly [number, number]>): Buffer => {
  const b = Buffer.alloc(pairs.length * 6)
  pairs.forEach(([id, value], i) => {
    b.writeUInt16BE(id, i * 6)
    b.writeUInt32BE(value, i * 6 + 2)
  })
  return b
}

/** Feed `bytes` cut at `cuts`; every answer the tap gives, and whether it let go. */
const feedChunked = (bytes: Buffer, cuts: ReadonlyArray<number>) => {
  const tap = new SettingsTap()
  const answers = []
  let at = 0
  for (const cut of [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)) {
    const found = tap.feed(bytes.subarray(at, cut))
    if (found !== undefined) answers.push(found)
    at = cut
  }
  const last = tap.feed(bytes.subarray(at))
  if (last !== undefined) answers.push(last)
  return { answers, done: tap.done }
}

describe("http2 SETTINGS tap", () => {
  it("decodes names, values and wire order; a repeated id keeps its last value; GREASE and unknown ids", () => {
    const payload = Buffer.concat([
      settingsPayload([
        [0x3, 100],
        [0x4, 10_485_760],
        [0xfafa, 7],
        [0x2, 0],
        [0x7, 1],
        [0x3, 250]
      ]),
      Buffer.from([0x00, 0x01, 0x00]) // a trailing partial pair is ignored
    ])
    expect(parseSettingsPayload(payload)).toEqual({
      settings: {
        ENABLE_PUSH: 0,
        GREASE: 7,
        INITIAL_WINDOW_SIZE: 10_485_760,
        MAX_CONCURRENT_STREAMS: 250,
        UNKNOWN: 1
      },
      frameOrder: [3, 4, 0xfafa, 2, 7, 3]
    })
    expect(Object.keys(parseSettingsPayload(payload).settings)).toEqual([
      "ENABLE_PUSH",
      "GREASE",
      "INITIAL_WINDOW_SIZE",
      "MAX_CONCURRENT_STREAMS",
      "UNKNOWN"
    ])
    expect([1, 2, 3, 4, 5, 6, 8].map(settingName)).toEqual([
      "HEADER_TABLE_SIZE",
      "ENABLE_PUSH",
      "MAX_CONCURRENT_STREAMS",
      "INITIAL_WINDOW_SIZE",
      "MAX_FRAME_SIZE",
      "MAX_HEADER_LIST_SIZE",
      "ENABLE_CONNECT_PROTOCOL"
    ])
  })

  it("answers only for a SETTINGS frame of 1–16384 bytes right after the preface", () => {
    const settings = frame(0x4, settingsPayload([[0x3, 100]]))
    const one = (bytes: Buffer) => feedChunked(bytes, [])
    expect(one(Buffer.concat([H2_PREFACE, settings])).answers).toHaveLength(1)
    for (const bad of [
      Buffer.concat([Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), settings]),
      Buffer.concat([H2_PREFACE, frame(0x8, Buffer.alloc(4)), settings]), // WINDOW_UPDATE first
      Buffer.concat([H2_PREFACE, frame(0x4, Buffer.alloc(0))]), // empty SETTINGS
      Buffer.concat([H2_PREFACE, frame(0x4, Buffer.alloc(MAX_SETTINGS_PAYLOAD + 6))])
    ]) {
      const r = one(bad)
      expect(r.answers).toEqual([])
      expect(r.done).toBe(true)
    }
    // Not yet complete: no answer, still listening.
    const partial = one(Buffer.concat([H2_PREFACE, settings]).subarray(0, 36))
    expect(partial).toEqual({ answers: [], done: false })
  })

  it("any chunking of the same bytes gives the same single answer (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.nat({ max: 0xffffffff })), {
          minLength: 1,
          maxLength: 40
        }),
        fc.uint8Array({ maxLength: 64 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (pairs, trailer, cuts) => {
          const bytes = Buffer.concat([H2_PREFACE, frame(0x4, settingsPayload(pairs)), Buffer.from(trailer)])
          const r = feedChunked(bytes, cuts)
          expect(r.done).toBe(true)
          expect(r.answers).toHaveLength(1)
          expect(r.answers[0]).toEqual(parseSettingsPayload(settingsPayload(pairs)))
          expect(r.answers[0]?.frameOrder).toEqual(pairs.map(([id]) => id))
        }
      ),
      { numRuns: 500 }
    )
  })

  it("random or mutated bytes never throw, and the tap lets go within preface + header + 16 KiB (property)", () => {
    const bound = H2_PREFACE.length + 9 + MAX_SETTINGS_PAYLOAD
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 256 }),
          fc
            .tuple(fc.uint8Array({ maxLength: 64 }), fc.nat({ max: 9 }))
            .map(
              ([tail, n]) =>
                new Uint8Array(Buffer.concat([H2_PREFACE.subarray(0, 24 - n), Buffer.from(tail)]))
            ),
          fc
            .tuple(fc.nat({ max: 0xffffff }), fc.nat({ max: 255 }), fc.uint8Array({ maxLength: 64 }))
            .map(([length, type, body]) => {
              const head = Buffer.alloc(9)
              head.writeUIntBE(length, 0, 3)
              head[3] = type
              return new Uint8Array(Buffer.concat([H2_PREFACE, head, Buffer.from(body)]))
            })
        ),
        fc.array(fc.nat(), { maxLength: 8 }),
        (raw, cuts) => {
          const bytes = Buffer.from(raw)
          const r = feedChunked(bytes, cuts)
          expect(r.answers.length).toBeLessThanOrEqual(1)
          if (bytes.length >= bound) expect(r.done).toBe(true)
        }
      ),
      { numRuns: 2000 }
    )
    // A stream far past the bound: done, and later bytes are not kept.
    const tap = new SettingsTap()
    const head = Buffer.alloc(9)
    head.writeUIntBE(MAX_SETTINGS_PAYLOAD, 0, 3)
    head[3] = 0x4
    tap.feed(Buffer.concat([H2_PREFACE, head]))
    expect(tap.done).toBe(false)
    expect(tap.feed(Buffer.alloc(MAX_SETTINGS_PAYLOAD))).toBeDefined()
    expect(tap.done).toBe(true)
    expect(tap.feed(Buffer.alloc(1 << 20))).toBeUndefined()
  })
})
