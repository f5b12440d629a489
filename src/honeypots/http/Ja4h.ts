/**
 * JA4H, FoxIO's HTTP client fingerprint (github.com/FoxIO-LLC/ja4, JA4H), computed from the request
 * as it came off the wire: `<a>_<b>_<c>_<d>` where a = method, version, cookie/referer flags, header
 * count and language; b = hash of the header names in wire order; c/d = hashes of the sorted cookie
 * names and name=value pairs. Pure and total: every header list, however hostile, yields a value.
 */
import { createHash } from "node:crypto"

export interface Ja4hInput {
  /** The request method as received (`GET`, `PROPFIND`, …). */
  readonly method: string
  /** node's `req.httpVersion`: `1.0`, `1.1`, `2.0`. */
  readonly httpVersion: string
  /** node's `req.rawHeaders`: `[name, value, name, value, …]` in wire order, names in wire case. */
  readonly rawHeaders: ReadonlyArray<string>
}

/** What the fingerprint event reports beside the hash. */
export interface Ja4hResult {
  readonly ja4h: string
  /** Lowercase header names in wire order, pseudo-headers (h2) included. */
  readonly headersOrdered: ReadonlyArray<string>
  /** All Cookie header values, joined by `; ` (h2 may split cookies over several fields). */
  readonly cookie: string
  /** The first Accept-Language value, or "". */
  readonly acceptLanguage: string
}

const ZERO_HASH = "000000000000"

/** First 12 hex chars of SHA-256; an empty input hashes to twelve zeros (as FoxIO's reference does). */
export const hash12 = (s: string): string =>
  s === "" ? ZERO_HASH : createHash("sha256").update(s, "utf8").digest("hex").slice(0, 12)

/** Code-point order (what FoxIO's Rust `sort` on UTF-8 strings gives), not UTF-16 unit order. */
const byCodePoint = (a: string, b: string): number => {
  const x = [...a]
  const y = [...b]
  const n = Math.min(x.length, y.length)
  for (let i = 0; i < n; i++) {
    const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!
    if (d !== 0) return d
  }
  return x.length - y.length
}

/** The first `n` code points of `s`, zero-padded to `n` (FoxIO's `truncate_to`). */
const truncateTo = (s: string, n: number): string => {
  const cps = [...s].slice(0, n)
  return cps.join("") + "0".repeat(n - cps.length)
}

/** Two lowercase letters of the method (`ge`, `po`, `pr` for PROPFIND). */
const methodCode = (method: string): string => truncateTo(method.toLowerCase(), 2)

/** `10`, `11`, `20`, `30`: the version's major and minor digit (anything unparsable → `00`). */
const versionCode = (v: string): string => {
  const m = /^(\d)(?:\.(\d))?/.exec(v)
  return m === null ? "00" : `${m[1]}${m[2] ?? "0"}`
}

/** The primary language: first list item, `-` removed, lowercase, cut or zero-padded to 4. */
const languageCode = (value: string | undefined): string => {
  const primary = (value ?? "").trimStart().split(",")[0]!.replace(/-/g, "").toLowerCase()
  return truncateTo(primary, 4)
}

export const ja4h = (input: Ja4hInput): Ja4hResult => {
  const names: Array<string> = []
  const cookies: Array<string> = []
  const headersOrdered: Array<string> = []
  let hasCookie = false
  let hasReferer = false
  let language: string | undefined
  const raw = input.rawHeaders
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!
    const value = raw[i + 1]!
    const lower = name.toLowerCase()
    headersOrdered.push(lower)
    // RFC 9113 §8.3: pseudo-headers are not header fields; FoxIO leaves them out (issue #306).
    if (lower.startsWith(":")) continue
    if (lower === "cookie") {
      hasCookie = true
      cookies.push(value)
      continue
    }
    if (lower === "referer") {
      hasReferer = true
      continue
    }
    if (lower === "accept-language" && language === undefined) language = value
    names.push(name)
  }
  const pairs = cookies
    .flatMap((c) => c.split(";"))
    .map((c) => c.trim())
    .filter((c) => c !== "")
  const cookieNames = pairs.map((p) => p.split("=")[0]!).sort(byCodePoint)
  const cookiePairs = [...pairs].sort(byCodePoint)
  const count = String(Math.min(99, names.length)).padStart(2, "0")
  const a = `${methodCode(input.method)}${versionCode(input.httpVersion)}${hasCookie ? "c" : "n"}${hasReferer ? "r" : "n"}${count}${languageCode(language)}`
  return {
    ja4h: `${a}_${hash12(names.join(","))}_${hash12(cookieNames.join(","))}_${hash12(cookiePairs.join(","))}`,
    headersOrdered,
    cookie: cookies.join("; "),
    acceptLanguage: language ?? ""
  }
}
