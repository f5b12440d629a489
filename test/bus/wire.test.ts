import { Either } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  Decoder,
  decodeBody,
  encodeFrame,
  envelopeJson,
  jsonTooDeep,
  MAX_BODY,
  MAX_HEADER,
  MAX_JSON_DEPTH,
  makeEnvelope,
  parseBody,
  VERBS,
  WireError
} from "../../src/bus/Wire.js"

const enc = (verb: (typeof VERBS)[number], args: string, body?: string) =>
  Either.getOrThrow(encodeFrame(verb, args, body))

describe("Wire", () => {
  it("round-trips a frame split at every byte boundary", () => {
    const bytes = enc("PUB", "attacker.observed", '{"payload":{"a":1}}')
    for (let cut = 0; cut <= bytes.length; cut++) {
      const d = new Decoder()
      const a = Either.getOrThrow(d.push(bytes.subarray(0, cut)))
      const b = Either.getOrThrow(d.push(bytes.subarray(cut)))
      const frames = [...a, ...b]
      expect(frames).toHaveLength(1)
      expect(frames[0]?.verb).toBe("PUB")
      expect(frames[0]?.args).toBe("attacker.observed")
      expect(Buffer.from(frames[0]?.body ?? []).toString()).toBe('{"payload":{"a":1}}')
    }
  })

  it("accepts CRLF, rejects tab separator, lowercase verbs and empty headers", () => {
    const crlf = Buffer.concat([Buffer.from("SUB a.b\r\n"), Buffer.from([0, 0, 0, 0])])
    expect(Either.getOrThrow(new Decoder().push(crlf))[0]?.args).toBe("a.b")
    const tab = Buffer.concat([Buffer.from("PUB\tx\n"), Buffer.from([0, 0, 0, 0])])
    expect(Either.isLeft(new Decoder().push(tab))).toBe(true)
    expect(Either.isLeft(new Decoder().push(Buffer.from("pub x\n\0\0\0\0")))).toBe(true)
    expect(Either.isLeft(new Decoder().push(Buffer.from("\n\0\0\0\0")))).toBe(true)
  })

  it("header limit is 4096 bytes including LF", () => {
    const ok = Buffer.concat([Buffer.from(`SUB ${"a".repeat(MAX_HEADER - 5)}\n`), Buffer.alloc(4)])
    expect(Either.isRight(new Decoder().push(ok))).toBe(true)
    const bad = Buffer.from(`SUB ${"a".repeat(MAX_HEADER - 4)}\n`)
    const r = new Decoder().push(bad)
    expect(Either.isLeft(r) && r.left.reason).toBe("header-too-long")
  })

  it("body limit is 1 MiB inclusive, declared oversize fails before the body arrives", () => {
    const len = Buffer.alloc(4)
    len.writeUInt32BE(MAX_BODY + 1)
    const r = new Decoder().push(Buffer.concat([Buffer.from("PUB x\n"), len]))
    expect(Either.isLeft(r) && r.left.reason).toBe("body-too-large")
    len.writeUInt32BE(MAX_BODY)
    expect(Either.getOrThrow(new Decoder().push(Buffer.concat([Buffer.from("PUB x\n"), len])))).toHaveLength(
      0
    )
  })

  it("body must be empty or a JSON object", () => {
    expect(Either.getOrThrow(parseBody(new Uint8Array(0)))).toEqual({})
    expect(Either.isLeft(parseBody(Buffer.from("[1]")))).toBe(true)
    expect(Either.isLeft(parseBody(Buffer.from("{nope")))).toBe(true)
  })

  it("a body nested deeper than MAX_JSON_DEPTH is body-too-deep; at the limit it decodes", () => {
    // {"a":[[…]]}: the object plus the arrays.
    expect(
      Either.isRight(
        parseBody(Buffer.from(`{"a":${"[".repeat(MAX_JSON_DEPTH - 1)}${"]".repeat(MAX_JSON_DEPTH - 1)}}`))
      )
    ).toBe(true)
    const deep = parseBody(Buffer.from(`{"a":${"[".repeat(MAX_JSON_DEPTH)}${"]".repeat(MAX_JSON_DEPTH)}}`))
    expect(Either.isLeft(deep) && deep.left.reason).toBe("body-too-deep")
    const huge = decodeBody(Buffer.from(`{"a":${'{"a":'.repeat(5000)}1${"}".repeat(5000)}}`))
    expect(huge instanceof WireError && huge.reason).toBe("body-too-deep")
  })

  // Reference: the nesting depth of a parsed JSON value (objects and arrays count, scalars do not).
  const depthOf = (v: unknown): number =>
    typeof v === "object" && v !== null ? 1 + Math.max(0, ...Object.values(v).map(depthOf)) : 0

  it("property: jsonTooDeep agrees with the parsed depth, whatever the strings contain", () => {
    // Strings full of brackets, quotes and backslashes are the cases a scanner gets wrong.
    const tricky = fc.string({
      unit: fc.constantFrom("[", "]", "{", "}", '"', "\\", "a", "\u00e9"),
      maxLength: 12
    })
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: "small", withCrossShrink: true },
        tricky,
        fc.integer(),
        fc.array(tie("node"), { maxLength: 3 }),
        fc.dictionary(tricky, tie("node"), { maxKeys: 3 })
      )
    })).node
    fc.assert(
      fc.property(value, fc.integer({ min: 0, max: 12 }), (v, max) => {
        const text = JSON.stringify(v)
        expect(jsonTooDeep(text, max)).toBe(depthOf(v) > max)
      }),
      { numRuns: 5000 }
    )
  })

  it("envelope key order and id format", () => {
    const e = makeEnvelope("a.b", { x: 1 }, "t")
    expect(e.id).toMatch(/^[0-9a-f]{32}$/)
    expect(Object.keys(JSON.parse(envelopeJson(e)))).toEqual(["v", "id", "topic", "type", "ts", "payload"])
  })

  it("property: decoder never throws on arbitrary chunked bytes", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 600 }), { maxLength: 12 }), (chunks) => {
        const d = new Decoder()
        for (const c of chunks) {
          const r = d.push(c)
          if (Either.isLeft(r)) expect(typeof r.left.reason).toBe("string")
        }
      }),
      { numRuns: 3000 }
    )
  })

  it("property: encode → decode round-trip for many frames", () => {
    const frame = fc.record({
      verb: fc.constantFrom(...VERBS),
      args: fc.stringMatching(/^[a-z0-9_.*>:-]{0,40}$/),
      body: fc.option(fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 })), {
        nil: undefined
      })
    })
    fc.assert(
      fc.property(fc.array(frame, { maxLength: 20 }), fc.integer({ min: 1, max: 64 }), (frames, step) => {
        const bytes = Buffer.concat(
          frames.map((f) => enc(f.verb, f.args, f.body === undefined ? undefined : JSON.stringify(f.body)))
        )
        const d = new Decoder()
        const out = []
        for (let i = 0; i < bytes.length; i += step)
          out.push(...Either.getOrThrow(d.push(bytes.subarray(i, i + step))))
        expect(out.map((f) => f.verb)).toEqual(frames.map((f) => f.verb))
        expect(out.map((f) => f.args)).toEqual(frames.map((f) => f.args.trim()))
        out.forEach((f, i) => {
          const body = frames[i]?.body
          expect(Either.getOrThrow(parseBody(f.body))).toEqual(
            body === undefined ? {} : JSON.parse(JSON.stringify(body))
          )
        })
      }),
      { numRuns: 500 }
    )
  })
})
