/**
 * The site a persona serves, decided the way Debian's Apache decides it (issue 14). Given a parsed
 * request it returns the status, the headers in Apache's order and the body; HTTP/1 (H1.ts) and h2
 * (App.ts) only write it. Three kinds of site:
 * - `denied` (fake_app none, the default): `<Directory />` Require all denied, so 403 everywhere;
 * - `static` (fake_app apache_default): Debian's default site, index.html at / and /index.html, 404
 *   elsewhere, 405/501 for the methods a static file does not take;
 * - `app` (custom_body, the other fake apps): the page on every path and method (the operator's
 *   response_code or 200).
 * A `files` directory is served first in every kind. TRACE is 405 everywhere (TraceEnable Off).
 */
import { gzipSync } from "node:zlib"
import {
  type BadRequestNote,
  errorPage,
  etagOf,
  KNOWN_METHODS,
  parseRange,
  type Signature
} from "./Apache.js"

export type BodySource = "file" | "custom" | "fake_app" | "forbidden" | "error"

export type SiteKind = "denied" | "static" | "app"

/** One resource with the metadata Apache's static handler prints. */
export interface StaticFile {
  readonly body: Buffer
  readonly contentType: string
  /** Modification time in microseconds (Last-Modified, ETag). */
  readonly mtimeUs: number
}

export interface SiteRequest {
  readonly method: string
  /** The decoded, normalised path; undefined for `*`, empty for an encoded slash or NUL. */
  readonly path: string | undefined
  readonly headers: Readonly<Record<string, string>>
  readonly head: boolean
  readonly sig: Signature
}

export interface SiteResponse {
  readonly status: number
  /** Every header but Date, Server, Connection/Keep-Alive and Content-Type, in Apache's order. */
  readonly headers: ReadonlyArray<readonly [string, string]>
  readonly contentType: string | undefined
  readonly body: Buffer
  readonly source: BodySource
}

export interface Site {
  readonly kind: SiteKind
  /** The index page (static), or the page of every path (app). */
  readonly page: StaticFile | undefined
  /** Explicit status of the operator (response_code). */
  readonly status: number | undefined
  /**
   * The Allow list of a static file: GET, POST, OPTIONS and HEAD in the order of the server
   * process's hash (Apache's differs from one start to the next; the persona's is fixed per decky).
   */
  readonly allow: string
  /** Headers of the operator's, after Server on every response. */
  readonly extraHeaders: ReadonlyArray<readonly [string, string]>
  readonly source: BodySource
}

export const httpDate = (ms: number): string => new Date(ms).toUTCString()

/** The Date header's value at `now`, formatted once per second (every response carries one). */
let dateSecond = -1
let dateText = ""
export const dateHeader = (now: number): string => {
  const second = Math.floor(now / 1000)
  if (second !== dateSecond) {
    dateSecond = second
    dateText = httpDate(now)
  }
  return dateText
}

/**
 * The last error page rendered, kept for the next request that needs the same one (a scanner's
 * requests mostly do): one entry, so an attacker's Host values cannot grow it.
 */
let lastPage: { readonly key: string; readonly page: Buffer } | undefined

const pageOf = (status: number, method: string, sig: Signature, note: BadRequestNote | undefined): Buffer => {
  const key = `${status}\n${method}\n${note ?? ""}\n${sig.port}\n${sig.host}\n${sig.serverHeader}`
  if (lastPage !== undefined && lastPage.key === key) return lastPage.page
  const page = Buffer.from(errorPage(status, method, sig, note), "latin1")
  lastPage = { key, page }
  return page
}

const error = (
  status: number,
  req: SiteRequest,
  extra: ReadonlyArray<readonly [string, string]> = [],
  note?: BadRequestNote
): SiteResponse => {
  const page = pageOf(status, req.method, req.sig, note)
  return {
    status,
    // A HEAD error carries no Content-Length: Apache never generates the page.
    headers: req.head ? extra : [...extra, ["Content-Length", String(page.length)]],
    contentType: "text/html; charset=iso-8859-1",
    body: req.head ? Buffer.alloc(0) : page,
    source: "error"
  }
}

/** A parse-level error page (400, 408, 414), before any site is chosen. */
export const errorResponse = (status: number, req: SiteRequest, note?: BadRequestNote): SiteResponse =>
  error(status, req, [], note)

const acceptsGzip = (headers: Readonly<Record<string, string>>): boolean =>
  (headers["accept-encoding"] ?? "")
    .split(",")
    .some((c) => /^\s*(x-)?gzip\s*(;\s*q=(?!0(\.0*)?\s*$)[0-9.]+\s*)?$/i.test(c))

const DEFLATED =
  /^text\/(html|plain|xml|css|javascript)\b|^application\/(x-javascript|javascript|ecmascript|rss\+xml|wasm|xml)\b/

/** Apache's static handler with mod_deflate (Debian's deflate.conf) in front of it. */
const staticFile = (file: StaticFile, req: SiteRequest, source: BodySource): SiteResponse => {
  const lastModified = httpDate(Math.floor(file.mtimeUs / 1000))
  const etag = etagOf(file.body.length, file.mtimeUs)
  const deflatable = DEFLATED.test(file.contentType)
  const vary: ReadonlyArray<readonly [string, string]> = deflatable ? [["Vary", "Accept-Encoding"]] : []
  const range = req.headers.range === undefined ? undefined : parseRange(req.headers.range, file.body.length)
  if (range !== undefined && range !== "unsatisfiable" && req.method === "GET") {
    const part = file.body.subarray(range.start, range.end + 1)
    return {
      status: 206,
      headers: [
        ["Last-Modified", lastModified],
        ["ETag", etag],
        ["Accept-Ranges", "bytes"],
        ["Content-Length", String(part.length)],
        ...vary,
        ["Content-Range", `bytes ${range.start}-${range.end}/${file.body.length}`]
      ],
      contentType: file.contentType,
      body: part,
      source
    }
  }
  if (deflatable && acceptsGzip(req.headers) && file.body.length > 0) {
    const gz = gzipSync(file.body, { memLevel: 9 })
    return {
      status: 200,
      headers: [
        ["Last-Modified", lastModified],
        ["ETag", etag.replace(/"$/, '-gzip"')],
        ["Accept-Ranges", "bytes"],
        ...vary,
        ["Content-Encoding", "gzip"],
        ...(req.head ? [] : ([["Content-Length", String(gz.length)]] as const))
      ],
      contentType: file.contentType,
      body: req.head ? Buffer.alloc(0) : gz,
      source
    }
  }
  return {
    status: 200,
    headers: [
      ["Last-Modified", lastModified],
      ["ETag", etag],
      ["Accept-Ranges", "bytes"],
      ["Content-Length", String(file.body.length)],
      ...vary
    ],
    contentType: file.contentType,
    body: req.head ? Buffer.alloc(0) : file.body,
    source
  }
}

/** A static resource under the method rules of Apache's default handler. */
const staticResource = (
  allow: string,
  file: StaticFile | undefined,
  req: SiteRequest,
  source: BodySource
): SiteResponse => {
  const m = req.method
  if (m === "OPTIONS")
    return {
      status: 200,
      headers: [
        ["Allow", allow],
        ["Content-Length", "0"]
      ],
      contentType: file === undefined ? undefined : file.contentType,
      body: Buffer.alloc(0),
      source
    }
  if (!KNOWN_METHODS.has(m)) return error(501, req, [["Allow", allow]])
  if (m !== "GET" && m !== "HEAD" && m !== "POST") return error(405, req, [["Allow", allow]])
  if (file === undefined) return error(404, req)
  return staticFile(file, req, source)
}

/** The answer to `req`; `file` is the operator's file at its path, if any (looked up by the caller). */
export const respond = (site: Site, req: SiteRequest, file: StaticFile | undefined): SiteResponse => {
  if (req.method === "TRACE") return error(405, req, [["Allow", ""]])
  if (req.path === undefined)
    return req.method === "OPTIONS"
      ? {
          status: 200,
          headers: [["Content-Length", "0"]],
          contentType: undefined,
          body: Buffer.alloc(0),
          source: "error"
        }
      : error(400, req)
  // An encoded slash or NUL (AllowEncodedSlashes Off).
  if (req.path === "") return error(404, req)
  if (file !== undefined) return staticResource(site.allow, file, req, "file")
  switch (site.kind) {
    case "denied":
      return error(site.status ?? 403, req)
    case "static": {
      const index = req.path === "/" || req.path === "/index.html" ? site.page : undefined
      return staticResource(site.allow, index, req, "fake_app")
    }
    case "app": {
      const body = site.page?.body ?? Buffer.alloc(0)
      return {
        status: site.status ?? 200,
        headers: [["Content-Length", String(body.length)]],
        contentType: site.page?.contentType ?? "text/html; charset=UTF-8",
        body: req.head ? Buffer.alloc(0) : body,
        source: site.source
      }
    }
  }
}
