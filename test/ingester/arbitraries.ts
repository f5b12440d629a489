// fast-check arbitraries for evidence records: valid ones (hostile text included) and JSON values that are
// almost records, for holding the ingester's direct decode to the Schema's.
import fc from "fast-check"
import type { EvidenceRecord } from "../../src/collector/Record.js"

const token = (max: number) => fc.stringMatching(new RegExp(`^[\\x21-\\x7e]{1,${max}}$`))

export const hostileText = fc.oneof(
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 20 }),
  fc.string({
    unit: fc.constantFrom("\\", '"', "\n", "\r", "\x00", "\x1b", "\u2028", "x", " "),
    maxLength: 16
  }),
  fc.constantFrom("\ud800", "a\udfff", "\udc00\ud800")
)

const fieldName = fc.oneof(
  fc
    .stringMatching(/^[A-Za-z0-9_]{1,32}$/)
    .filter((k) => k !== "src_ip" && k !== "src_port" && k !== "__proto__"),
  fc.constantFrom("constructor", "toString", "hasOwnProperty", "n", "secret_b64")
)

export const arbitraryRecord: fc.Arbitrary<EvidenceRecord> = fc.record(
  {
    timestamp: fc.date({
      min: new Date(Date.UTC(1970, 0, 1)),
      max: new Date(Date.UTC(9999, 11, 31, 23, 59, 59, 999)),
      noInvalidDate: true
    }),
    decky: token(255),
    service: token(48),
    event_type: token(32),
    attacker_ip: fc.oneof(
      fc.ipV4(),
      fc.ipV6(),
      fc.constant("Unknown"),
      hostileText.filter((s) => s !== "")
    ),
    attacker_port: fc.option(fc.integer({ min: 0, max: 65535 }), { nil: null }),
    fields: fc.dictionary(fieldName, hostileText, { maxKeys: 6 }),
    msg: hostileText,
    severity: fc.constantFrom(0, 1, 2, 3, 4, 5, 6, 7),
    raw_line: hostileText,
    source: fc.oneof(
      fc.record({ container: fc.string({ maxLength: 12 }) }),
      fc.record({ container: fc.string({ maxLength: 12 }), ts: fc.string({ maxLength: 30 }) })
    )
  },
  {
    requiredKeys: [
      "timestamp",
      "decky",
      "service",
      "event_type",
      "attacker_ip",
      "attacker_port",
      "fields",
      "msg",
      "severity",
      "raw_line"
    ]
  }
)

/** Values a JSON line could hold in place of a field: wrong types, edge numbers, nesting. */
const oddValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    null,
    true,
    false,
    0,
    -1,
    1.5,
    8,
    65536,
    -0,
    1e21,
    "",
    " ",
    "x",
    "Unknown",
    "2026-01-01",
    "1"
  ),
  fc.constantFrom("not a date", "2026-13-40T00:00:00Z", "9999-12-31T23:59:59.999Z", "10000-01-01T00:00:00Z"),
  fc.constantFrom("1969-12-31T23:59:59.999Z", "a b", "é", "x".repeat(256), "x".repeat(49), "x".repeat(33)),
  fc.constantFrom([], {}, [1], { container: 1 }, { container: "c", ts: 5 }, { container: "c", ts: null }),
  fc.constantFrom({ src_ip: "1.2.3.4" }, { "bad-key": "v" }, { __proto__: "x" }, { k: 1 }, { k: null }),
  fc.string({ maxLength: 8 }),
  fc.integer()
)

/** The record's keys, and one it does not have: what the near-record arbitraries edit. */
export const RECORD_KEYS = [
  "timestamp",
  "decky",
  "service",
  "event_type",
  "attacker_ip",
  "attacker_port",
  "fields",
  "msg",
  "severity",
  "raw_line",
  "source",
  "extra"
] as const

/** A valid record (as `toValue` copies it) with one to three keys set to `odd` values or removed. */
export const editedRecord = (
  toValue: (r: EvidenceRecord) => Record<string, unknown>,
  odd: fc.Arbitrary<unknown>
): fc.Arbitrary<Record<string, unknown>> =>
  fc
    .tuple(
      arbitraryRecord,
      fc.array(fc.tuple(fc.constantFrom(...RECORD_KEYS), fc.option(odd, { nil: undefined })), {
        minLength: 1,
        maxLength: 3
      })
    )
    .map(([record, edits]) => {
      const value = toValue(record)
      for (const [key, v] of edits) {
        if (v === undefined) delete value[key]
        else value[key] = v
      }
      return value
    })

/** A valid record's JSON value with one to three keys replaced, removed or added. */
export const nearRecord: fc.Arbitrary<unknown> = editedRecord((r) => JSON.parse(JSON.stringify(r)), oddValue)
