// The typed event codecs: every Sd field codec's direct renderer writes exactly what its Schema encodes
// (and refuses what the Schema refuses), and every registered service's events use only such codecs,
// so emitting never pays for a Schema encode.
import { describe, expect, it } from "@effect/vitest"
import { Arbitrary, Effect, Either, FastCheck as fc, Option, Schema, SchemaAST } from "effect"
import { loadAllHoneypots } from "../../../src/honeypots/Registry.js"
import { defineEvents, RenderSd, Sd } from "../../../src/honeypots/runtime/index.js"

const renderer = (schema: Schema.Schema.Any): ((v: unknown) => string | undefined) => {
  const r = SchemaAST.getAnnotation<(v: unknown) => string | undefined>(schema.ast, RenderSd)
  if (Option.isNone(r)) throw new Error("codec without a renderer")
  return r.value
}

/** An own `__proto__` key: the renderer keeps it (it is evidence), a Schema encode drops it. */
const ownProto = (v: unknown) => typeof v === "object" && v !== null && Object.hasOwn(v, "__proto__")

/** For any value of the codec's type the renderer equals the encode; for any other value both refuse. */
const agrees = <A, I extends string>(codec: Schema.Schema<A, I>, others: fc.Arbitrary<unknown>) => {
  const render = renderer(codec)
  const encode = Schema.encodeUnknownEither(codec)
  fc.assert(
    fc.property(
      Arbitrary.make(Schema.typeSchema(codec)).filter((v) => !ownProto(v)),
      (v) => {
        expect(render(v)).toBe(Either.getOrThrow(encode(v)))
      }
    ),
    { numRuns: 2_000 }
  )
  fc.assert(
    fc.property(others, (v) => {
      const encoded = encode(v)
      if (Either.isLeft(encoded)) expect(render(v)).toBeUndefined()
      else expect(render(v)).toBe(encoded.right)
    }),
    { numRuns: 2_000 }
  )
}

const anything = fc.oneof(
  fc.anything(),
  fc.double(),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, -0, 1.5, null, undefined, "", "x", true)
)

describe("Sd codecs render what their Schema encodes", () => {
  it("Text, NullableText, Int, Number, Bool", () => {
    agrees(Sd.Text, anything)
    agrees(Sd.NullableText, anything)
    agrees(Sd.Int, anything)
    agrees(Sd.Number, anything)
    agrees(Sd.Bool, anything)
  })

  it("Literal and Json (plain inner Schemas), including hostile strings", () => {
    agrees(Sd.Literal("per_ip", "global"), fc.oneof(anything, fc.constantFrom("per_ip", "global", "PER_IP")))
    agrees(Sd.Json(Schema.Array(Schema.String)), fc.oneof(anything, fc.array(fc.string({ unit: "binary" }))))
    // An own `__proto__` key is the one difference: the renderer keeps it, a Schema encode drops it.
    const key = fc.string().filter((k) => k !== "__proto__")
    agrees(
      Sd.Json(Schema.Record({ key: Schema.String, value: Schema.Number })),
      fc.oneof(
        anything.filter((v) => !ownProto(v)),
        fc.dictionary(key, fc.oneof(fc.double(), fc.string()))
      )
    )
    agrees(Sd.Json(Schema.Array(Schema.Int)), fc.array(fc.oneof(fc.integer(), fc.double())))
    // ...and the renderer keeps that key an attacker sent: it is evidence.
    const record = renderer(Sd.Json(Schema.Record({ key: Schema.String, value: Schema.Number })))
    expect(record(JSON.parse('{"__proto__":0,"a":1}'))).toBe('{"__proto__":0,"a":1}')
  })

  it("a Json field whose inner Schema transforms is not short-cut (the Schema encodes it)", () => {
    const events = defineEvents("t", { e: { at: Sd.Json(Schema.Array(Schema.NumberFromString)) } })
    expect(events.directTypes).not.toContain("e")
    expect(Either.getOrThrow(events.encode({ _tag: "e", at: [1, 2] }))).toEqual({ at: '["1","2"]' })
  })
})

describe("defineEvents", () => {
  const events = defineEvents("t", {
    e: { a: Sd.Text, n: Sd.optional(Sd.Int), b: Sd.Bool },
    custom: { x: Schema.String }
  })

  it("renders in declaration order, skips an absent optional, and falls back to the Schema to refuse", () => {
    expect(Object.entries(Either.getOrThrow(events.encode({ _tag: "e", b: true, a: "v", n: 3 })))).toEqual([
      ["a", "v"],
      ["n", "3"],
      ["b", "true"]
    ])
    expect(Either.getOrThrow(events.encode({ _tag: "e", a: "v", b: false }))).toEqual({ a: "v", b: "false" })
    expect(Either.isLeft(events.encode({ _tag: "e", a: "v", b: true, n: 1.5 }))).toBe(true)
    // A field without a renderer makes its event type go through the Schema, still correct.
    expect(events.directTypes).toEqual(
      expect.arrayContaining(["e", "startup", "connection_refused", "connection_closed"])
    )
    expect(events.directTypes).not.toContain("custom")
    expect(Either.getOrThrow(events.encode({ _tag: "custom", x: "y" }))).toEqual({ x: "y" })
  })

  it.effect("every registered service's events all render directly", () =>
    Effect.gen(function* () {
      for (const m of yield* loadAllHoneypots)
        expect({
          slug: m.slug,
          slow: m.events.types.filter((t) => !m.events.directTypes.includes(t))
        }).toEqual({
          slug: m.slug,
          slow: []
        })
    })
  )
})
