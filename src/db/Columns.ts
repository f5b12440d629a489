// Schemas for how values sit in a row on both engines: booleans as 0/1, datetimes as naive UTC
// text, JSON as text, counts as number-or-string (MySQL returns big aggregates as strings).
import { ParseResult, Schema } from "effect"

/** BOOLEAN columns: SQLite and MySQL both hand back 0/1. */
export const SqlBool = Schema.transform(Schema.Number, Schema.Boolean, {
  strict: true,
  decode: (n) => n !== 0,
  encode: (b) => (b ? 1 : 0)
})

const pad = (n: number, w = 2) => String(n).padStart(w, "0")

/** Naive-UTC text, `YYYY-MM-DD HH:MM:SS.ffffff`: sorts as text on SQLite, accepted by DATETIME(6). */
export const formatUtc = (d: Date): string =>
  `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(
    d.getUTCMinutes()
  )}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}000`

/** DATETIME columns. Stored naive; readers assume UTC when no zone is present (spec §5.3). */
export const UtcDateTime = Schema.transformOrFail(Schema.String, Schema.DateFromSelf, {
  strict: true,
  decode: (s, _, ast) => {
    const iso = s.includes("T") ? s : s.replace(" ", "T")
    const d = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : `${iso}Z`)
    return Number.isNaN(d.getTime())
      ? ParseResult.fail(new ParseResult.Type(ast, s, `not a datetime: ${s}`))
      : ParseResult.succeed(d)
  },
  encode: (d) => ParseResult.succeed(formatUtc(d))
})

/** COUNT(*)/MAX(id): a number on SQLite, a number or a decimal string on MySQL. */
export const SqlCount = Schema.Union(
  Schema.Number,
  Schema.NumberFromString,
  Schema.BigIntFromSelf.pipe(
    Schema.transform(Schema.Number, { strict: true, decode: (b) => Number(b), encode: (n) => BigInt(n) })
  )
)

/** A JSON value held in a TEXT column. */
export const JsonText = Schema.parseJson()
