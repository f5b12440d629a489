/** A log row's `fields` column: JSON text of string values (some of which are JSON themselves). */
import type { LogRow } from "../../api/client"

export type Fields = Readonly<Record<string, unknown>>

const cache = new WeakMap<LogRow, Fields | undefined>()

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v)

/** The decoded fields, or undefined when the column is not a JSON object. */
export const fieldsOf = (row: LogRow): Fields | undefined => {
  if (cache.has(row)) return cache.get(row)
  let decoded: Fields | undefined
  try {
    const v: unknown = JSON.parse(row.fields)
    decoded = isRecord(v) ? v : undefined
  } catch {
    decoded = undefined
  }
  cache.set(row, decoded)
  return decoded
}

/** A string field, when present and non-empty. */
export const textField = (fields: Fields | undefined, key: string): string | undefined => {
  const v = fields?.[key]
  return typeof v === "string" && v !== "" ? v : undefined
}

/** A value as display text: nested JSON (even inside a string) pretty-printed. */
export const showValue = (v: unknown): { readonly text: string; readonly block: boolean } => {
  if (typeof v === "string") {
    const t = v.trim()
    if (t.startsWith("{") || t.startsWith("[")) {
      try {
        const parsed: unknown = JSON.parse(t)
        if (typeof parsed === "object" && parsed !== null)
          return { text: JSON.stringify(parsed, null, 2), block: true }
      } catch {
        // not JSON: shown as written
      }
    }
    return { text: v, block: v.includes("\n") || v.length > 120 }
  }
  if (typeof v === "object" && v !== null) return { text: JSON.stringify(v, null, 2), block: true }
  return { text: String(v), block: false }
}

/** One line for the table when the row has no message: its fields as `k=v`. */
export const summaryOf = (row: LogRow): string => {
  if (row.msg !== null && row.msg !== "") return row.msg
  const f = fieldsOf(row)
  if (f === undefined) return row.fields
  return Object.entries(f)
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(" ")
}
