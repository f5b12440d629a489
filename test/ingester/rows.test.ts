// The ingester's direct decode and row rendering (src/ingester/Rows.ts) against the Schemas they stand in
// for: the direct decode never accepts what EvidenceRecord refuses and yields exactly its value; the row
// is exactly LogEntry's encoding, column order included.
import { describe, expect, it } from "@effect/vitest"
import { Either, Schema } from "effect"
import fc from "fast-check"
import { EvidenceRecord, EvidenceRecordJson } from "../../src/collector/Record.js"
import { LogEntry } from "../../src/db/Rows.js"
import type { SqlValue } from "../../src/db/Upsert.js"
import {
  decodeRecordLine,
  directRecord,
  LOG_ROW_COLUMNS,
  logRow,
  pushLogRowValues
} from "../../src/ingester/Rows.js"
import { arbitraryRecord, nearRecord } from "./arbitraries.js"
import { jsonLine, record } from "./records.js"

const RUNS = { numRuns: 3_000 }
const schemaDecode = Schema.decodeUnknownEither(EvidenceRecord)
const encodeEntry = Schema.encodeSync(LogEntry)
const encodeLine = Schema.encodeSync(EvidenceRecordJson)

describe("direct record decode", () => {
  it("takes every valid record's line, and yields the Schema's value", () => {
    fc.assert(
      fc.property(arbitraryRecord, (r) => {
        const line = encodeLine(r)
        const direct = directRecord(JSON.parse(line))
        expect(direct).toBeDefined()
        expect(direct).toEqual(Either.getOrThrow(schemaDecode(JSON.parse(line))))
        expect(Either.getOrThrow(decodeRecordLine(line))).toEqual(direct)
      }),
      RUNS
    )
  })

  it("never accepts a value the Schema refuses, and agrees when both accept", () => {
    fc.assert(
      fc.property(nearRecord, (value) => {
        const direct = directRecord(value)
        const viaSchema = schemaDecode(value)
        if (direct !== undefined) expect(Either.getOrThrow(viaSchema)).toEqual(direct)
        // Whatever the direct path leaves, the line decode still answers with the Schema's verdict.
        const line = JSON.stringify(value)
        expect(Either.isRight(decodeRecordLine(line))).toBe(Either.isRight(viaSchema))
      }),
      RUNS
    )
  })

  it("answers non-JSON and non-objects with the Schema's error", () => {
    for (const line of ["", "{", "null", "[]", '"x"', "42", '{"timestamp":"x"}', "\u0000"]) {
      const d = decodeRecordLine(line)
      expect(Either.isLeft(d)).toBe(true)
    }
  })
})

describe("log row", () => {
  it("is LogEntry's encoding, key for key and in column order", () => {
    fc.assert(
      fc.property(arbitraryRecord, (r) => {
        const expected = encodeEntry({ ...r, trace_id: null, span_id: null })
        const row = logRow(r)
        expect(row).toEqual(expected)
        expect(Object.keys(row)).toEqual(Object.keys(expected))
      }),
      RUNS
    )
  })

  it("binds logRow's values in LOG_ROW_COLUMNS order, which is logRow's key order", () => {
    fc.assert(
      fc.property(fc.array(arbitraryRecord, { maxLength: 4 }), (records) => {
        const values: Array<SqlValue> = []
        for (const r of records) pushLogRowValues(r, values)
        const expected = records.flatMap((r) => {
          const row = logRow(r)
          expect(Object.keys(row)).toEqual([...LOG_ROW_COLUMNS])
          return LOG_ROW_COLUMNS.map((c) => row[c])
        })
        expect(values).toEqual(expected)
      }),
      RUNS
    )
  })

  it("renders the naive-UTC time, fields as JSON text and an empty message as NULL", () => {
    const r = record({ fields: { a: "1" }, msg: "" })
    expect(logRow(r)).toMatchObject({
      timestamp: "2026-01-01 12:00:00.000000",
      fields: '{"a":"1"}',
      msg: null
    })
    expect(jsonLine(r).endsWith("\n")).toBe(true)
  })
})
