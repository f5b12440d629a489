// The collector's direct forms (src/collector/Record.ts, Collector.ts) against the Schemas they stand in
// for: `isHoneypotEvent` answers as `Schema.is(HoneypotEvent)` on valid and hostile values, `recordJson`
// is `EvidenceRecordJson`'s encoding byte for byte (and fails where it fails), and `systemLogPayload` is
// `SystemLogPayload`'s encoding, key order included.
import { describe, expect, it } from "@effect/vitest"
import { Either, Schema } from "effect"
import fc from "fast-check"
import { systemLogPayload } from "../../src/collector/Collector.js"
import {
  type EvidenceRecord,
  EvidenceRecordJson,
  isHoneypotEvent,
  recordJson
} from "../../src/collector/Record.js"
import { HoneypotEvent, SystemLogPayload } from "../../src/logging/HoneypotEvent.js"
import { arbitraryRecord, editedRecord, hostileText } from "../ingester/arbitraries.js"

const RUNS = { numRuns: 3_000 }
const isEvent = Schema.is(HoneypotEvent)
const encodeRecord = Schema.encodeUnknownEither(EvidenceRecordJson)
const encodeSystemLog = Schema.encodeSync(SystemLogPayload)

/** Values a parsed line or a buggy emitter could put in place of a field. */
const oddValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    undefined,
    null,
    true,
    0,
    -0,
    -1,
    1.5,
    7.5,
    8,
    65535,
    65536,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    2 ** 53,
    "",
    " ",
    "x",
    "a b",
    "é",
    "x".repeat(33),
    "x".repeat(49),
    "x".repeat(256),
    "x".repeat(255),
    "6"
  ),
  fc.constantFrom(
    new Date(Number.NaN),
    new Date(Date.UTC(1969, 11, 31, 23, 59, 59, 999)),
    new Date(Date.UTC(10000, 0, 1)),
    new Date(Date.UTC(9999, 11, 31, 23, 59, 59, 999)),
    new Date(0),
    "2026-01-01T00:00:00.000Z",
    12345
  ),
  fc.constantFrom(
    [],
    ["a"],
    {},
    { k: 1 },
    { k: null },
    { src_ip: "1.2.3.4" },
    { src_port: "1" },
    { "bad-key": "v" },
    { "": "v" },
    { ["x".repeat(33)]: "v" },
    JSON.parse('{"__proto__":"x"}'),
    { constructor: "c", toString: "t" },
    { container: 1 },
    { container: "c", ts: 5 },
    { container: "c", ts: null },
    { container: "c", ts: undefined },
    Object.create({ inherited: "x" })
  ),
  hostileText,
  fc.integer(),
  fc.double(),
  fc.dictionary(fc.string({ maxLength: 6 }), fc.oneof(hostileText, fc.integer()), { maxKeys: 3 })
)

/** A valid record with one to three keys replaced by odd values or removed. */
const nearRecord = editedRecord((r) => ({ ...r, fields: { ...r.fields } }), oddValue)

/** The encoding the Schema gives, or "fails" where it throws. */
const viaSchema = (r: unknown) => {
  const encoded = encodeRecord(r)
  return Either.isRight(encoded) ? encoded.right : "fails"
}
const viaDirect = (r: unknown) => {
  try {
    // Typed for records; hostile values are what this test feeds it.
    return recordJson(r as EvidenceRecord)
  } catch {
    return "fails"
  }
}

describe("isHoneypotEvent", () => {
  it("accepts every valid event", () => {
    fc.assert(
      fc.property(arbitraryRecord, (r) => {
        expect(isEvent(r)).toBe(true)
        expect(isHoneypotEvent(r)).toBe(true)
      }),
      RUNS
    )
  })

  it("answers as Schema.is(HoneypotEvent) on near-events with hostile values", () => {
    fc.assert(
      fc.property(nearRecord, (value) => {
        expect(isHoneypotEvent(value)).toBe(isEvent(value))
      }),
      { numRuns: 10_000 }
    )
  })

  it("answers as the Schema on values that are not events at all", () => {
    fc.assert(
      fc.property(fc.oneof(oddValue, fc.anything()), (value) => {
        expect(isHoneypotEvent(value)).toBe(isEvent(value))
      }),
      RUNS
    )
  })
})

describe("recordJson", () => {
  it("is EvidenceRecordJson's encoding of every valid record, byte for byte", () => {
    fc.assert(
      fc.property(arbitraryRecord, (r) => {
        const expected = viaSchema(r)
        expect(expected).not.toBe("fails")
        expect(recordJson(r)).toBe(expected)
      }),
      RUNS
    )
  })

  it("gives the Schema's text, or fails as it does, on hostile records", () => {
    fc.assert(
      fc.property(nearRecord, (value) => {
        expect(viaDirect(value)).toBe(viaSchema(value))
      }),
      { numRuns: 10_000 }
    )
  })

  it("writes `source` only when there is one, and `ts` only when set", () => {
    const [r] = fc.sample(arbitraryRecord, { numRuns: 1, seed: 7 })
    if (r === undefined) throw new Error("no sample")
    const { source: _, ...bare } = r
    expect(JSON.parse(recordJson(bare))).not.toHaveProperty("source")
    expect(JSON.parse(recordJson({ ...bare, source: { container: "c", ts: undefined } })).source).toEqual({
      container: "c"
    })
    expect(recordJson({ ...bare, source: { container: "c", ts: undefined } })).toBe(
      viaSchema({ ...bare, source: { container: "c", ts: undefined } })
    )
  })
})

describe("systemLogPayload", () => {
  it("is SystemLogPayload's encoding of every valid event, key order included", () => {
    fc.assert(
      fc.property(arbitraryRecord, (r) => {
        const expected = encodeSystemLog(r)
        const direct = systemLogPayload(r)
        expect(direct).toEqual(expected)
        expect(Object.keys(direct)).toEqual(Object.keys(expected))
      }),
      RUNS
    )
  })
})
