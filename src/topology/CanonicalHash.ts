/**
 * The applied-state hash master and agent compare (spec/topology.md §6, spec/README.md "Portable
 * hashes"): SHA-256 of a canonical JSON we define ourselves, so any language can reproduce it:
 * - object keys sorted by Unicode code point (the same as sorting their UTF-8 bytes), at every level;
 * - no whitespace; strings as `JSON.stringify` writes them (non-ASCII raw, lone surrogates escaped),
 *   encoded as UTF-8;
 * - the volatile keys below dropped at every level, whatever object they sit in;
 * - a `Date` as its ISO-8601 UTC string; numbers as JavaScript prints them (`1`, not `1.0`); a non-finite
 *   number, an invalid date and (in arrays) `undefined` as `null`; object keys whose value is `undefined`
 *   omitted, as `JSON.stringify` does.
 * The input is only read.
 */
import { createHash } from "node:crypto"

/** Keys that change on every read or only move things on the canvas: never part of the applied state. */
export const VOLATILE_KEYS: ReadonlySet<string> = new Set([
  "created_at",
  "status_changed_at",
  "updated_at",
  "last_seen",
  "status",
  "version",
  "last_error",
  "x",
  "y",
  "w",
  "h"
])

/** UTF-16 code units remapped so that comparing them compares code points (surrogates after the BMP). */
const codePointUnit = (u: number): number => (u >= 0xe000 ? u - 0x800 : u >= 0xd800 ? u + 0x2000 : u)

export const compareCodePoints = (a: string, b: string): number => {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i)
    const y = b.charCodeAt(i)
    if (x !== y) return codePointUnit(x) - codePointUnit(y)
  }
  return a.length - b.length
}

const absent = (v: unknown): boolean => v === undefined || typeof v === "function" || typeof v === "symbol"

const encode = (value: unknown): string => {
  if (value === null || absent(value)) return "null"
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false"
    case "number":
      return Number.isFinite(value) ? JSON.stringify(value) : "null"
    case "bigint":
      return value.toString()
    case "string":
      return JSON.stringify(value)
  }
  if (value instanceof Date)
    return Number.isNaN(value.getTime()) ? "null" : JSON.stringify(value.toISOString())
  if (Array.isArray(value)) return `[${value.map(encode).join(",")}]`
  if (typeof value !== "object") return "null"
  const entries = Object.entries(value)
    .filter(([k, v]) => !VOLATILE_KEYS.has(k) && !absent(v))
    .sort(([a], [b]) => compareCodePoints(a, b))
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${encode(v)}`).join(",")}}`
}

/** The canonical JSON text of `value` (see the module comment). */
export const canonicalJson = (value: unknown): string => encode(value)

/** SHA-256 (lower-case hex) of the UTF-8 bytes of `canonicalJson(value)`. */
export const canonicalHash = (value: unknown): string =>
  createHash("sha256").update(canonicalJson(value), "utf8").digest("hex")
