/**
 * What Debian's Apache 2.4 answers, as a scanner sees it (issue 14): its request-line and header
 * checks (HttpProtocolOptions Strict, LimitRequestLine 8190, LimitRequestFieldSize 8190,
 * LimitRequestFields 100), its canned error pages with the ServerSignature footer, and its response
 * header order. Pure functions: the HTTP/1 engine (H1.ts) and the h2 adapter (App.ts) write what these
 * decide. Measured against apache2 2.4 of Debian by test/fidelity/http.test.ts.
 */

/** Apache's LimitRequestLine and LimitRequestFieldSize defaults. */
export const LIMIT_REQUEST_LINE = 8190
export const LIMIT_FIELD_SIZE = 8190
/** LimitRequestFields. */
export const LIMIT_FIELDS = 100
/** KeepAliveTimeout (s) and MaxKeepAliveRequests of Debian's apache2.conf. */
export const KEEPALIVE_TIMEOUT_S = 5
export const MAX_KEEPALIVE_REQUESTS = 100

export const REASONS: Readonly<Record<number, string>> = {
  200: "OK",
  206: "Partial Content",
  301: "Moved Permanently",
  302: "Found",
  304: "Not Modified",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  413: "Request Entity Too Large",
  414: "Request-URI Too Long",
  416: "Requested Range Not Satisfiable",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable"
}

export const reasonOf = (status: number): string => REASONS[status] ?? "Unknown"

/** Methods Apache's core registers (it answers 405 to these where they do not apply, 501 to others). */
export const KNOWN_METHODS: ReadonlySet<string> = new Set([
  "GET",
  "HEAD",
  "PUT",
  "POST",
  "DELETE",
  "CONNECT",
  "OPTIONS",
  "TRACE",
  "PATCH",
  "PROPFIND",
  "PROPPATCH",
  "MKCOL",
  "COPY",
  "MOVE",
  "LOCK",
  "UNLOCK",
  "VERSION-CONTROL",
  "CHECKOUT",
  "UNCHECKOUT",
  "CHECKIN",
  "UPDATE",
  "LABEL",
  "REPORT",
  "MKWORKSPACE",
  "MKACTIVITY",
  "BASELINE-CONTROL",
  "MERGE"
])

/** The methods a static file allows; Apache prints them in its hash's order, which varies per process. */
export const ALLOW_STATIC = ["GET", "POST", "OPTIONS", "HEAD"] as const

/** Statuses after which Apache closes the connection (ap_status_drops_connection). */
export const dropsConnection = (status: number): boolean =>
  status === 400 ||
  status === 408 ||
  status === 411 ||
  status === 413 ||
  status === 414 ||
  status === 417 ||
  status === 500 ||
  status === 501 ||
  status === 503

export const escapeHtml = (s: string): string =>
  s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c] ?? c)

/** The notes Apache appends to a 400 page for its header limits. */
export type BadRequestNote = "field_size" | "field_count" | "plain_http" | "none"

const NOTES: Readonly<Record<BadRequestNote, string>> = {
  none: "",
  field_size: "Size of a request header field exceeds server limit.",
  field_count: "The number of request header fields exceeds this server's limit.",
  plain_http:
    "Reason: You're speaking plain HTTP to an SSL-enabled server port.<br />\n Instead use the HTTPS scheme to access this URL, please.<br />\n"
}

/** The body of ap_send_error_response's canned page for `status` (get_canned_error_string). */
const cannedMessage = (status: number, method: string, note: BadRequestNote): string => {
  switch (status) {
    case 400:
      return `<p>Your browser sent a request that this server could not understand.<br />\n${NOTES[note]}</p>\n`
    case 403:
      return "<p>You don't have permission to access this resource.</p>\n"
    case 404:
      return "<p>The requested URL was not found on this server.</p>\n"
    case 405:
      return `<p>The requested method ${escapeHtml(method)} is not allowed for this URL.</p>\n`
    case 408:
      return "<p>Server timeout waiting for the HTTP request from the client.</p>\n"
    case 414:
      return "<p>The requested URL's length exceeds the capacity\nlimit for this server.<br />\n</p>\n"
    case 501:
      return `<p>${escapeHtml(method)} not supported for current URL.<br />\n</p>\n`
    default:
      return "<p>The server encountered an internal error or\nmisconfiguration and was unable to complete\nyour request.</p>\n"
  }
}

/** Where the footer says the server is: the request's host and port, else ServerName and the default port. */
export interface Signature {
  readonly serverHeader: string
  readonly host: string
  readonly port: number
}

/** ServerSignature On: `<address>Apache/2.4.x (Debian) Server at host Port n</address>`. */
export const signatureLine = (sig: Signature): string =>
  `<address>${escapeHtml(sig.serverHeader)} Server at ${escapeHtml(sig.host)} Port ${sig.port}</address>\n`

export const errorPage = (
  status: number,
  method: string,
  sig: Signature,
  note: BadRequestNote = "none"
): string =>
  `<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN" "http://www.w3.org/TR/html4/strict.dtd">\n<html><head>\n<title>${status} ${reasonOf(status)}</title>\n</head><body>\n<h1>${reasonOf(status)}</h1>\n${cannedMessage(status, method, note)}<hr>\n${signatureLine(sig)}</body></html>\n`

/** RFC 9110 token characters: a method, a header name. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

export type RequestLine =
  | { readonly _tag: "Http1"; readonly method: string; readonly target: string; readonly minor: 0 | 1 }
  | { readonly _tag: "Http09"; readonly method: string; readonly target: string }
  | { readonly _tag: "Bad" }

const BAD: RequestLine = { _tag: "Bad" }

/**
 * A request line as HttpProtocolOptions Strict reads it: `METHOD SP target SP HTTP/1.x`, single
 * spaces, no control characters; `METHOD SP target` is HTTP/0.9 (Allow0.9).
 */
export const parseRequestLine = (line: string): RequestLine => {
  if (/[\x00-\x1f\x7f]/.test(line)) return BAD
  const parts = line.split(" ")
  const [method = "", target = "", version] = parts
  if (parts.length < 2 || parts.length > 3 || !TOKEN.test(method) || target === "") return BAD
  if (version === undefined) return { _tag: "Http09", method, target }
  if (version === "HTTP/1.1") return { _tag: "Http1", method, target, minor: 1 }
  if (version === "HTTP/1.0") return { _tag: "Http1", method, target, minor: 0 }
  return BAD
}

export interface HeaderField {
  readonly name: string
  readonly value: string
}

/** One header line, Strict: a token, a colon right after it, no obs-fold, no control characters. */
export const parseHeaderLine = (line: string): HeaderField | undefined => {
  const colon = line.indexOf(":")
  if (colon <= 0) return undefined
  const name = line.slice(0, colon)
  if (!TOKEN.test(name)) return undefined
  const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "")
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(value)) return undefined
  return { name, value }
}

/** A Host value as Apache's fix_hostname takes it: lowercased, port split off; undefined if invalid. */
export const parseHost = (value: string): { readonly host: string; readonly port?: number } | undefined => {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]*)(?::(\d*))?$/.exec(value)
  if (m === null) return undefined
  const host = (m[1] ?? "").toLowerCase().replace(/\.+$/, "")
  if (host === "" && value !== "") return undefined
  const portText = m[2]
  if (portText === undefined || portText === "") return { host }
  const port = Number(portText)
  return port > 65535 ? undefined : { host, port }
}

export type Target =
  | { readonly _tag: "Path"; readonly path: string; readonly host?: string; readonly port?: number }
  | { readonly _tag: "Asterisk" }
  | { readonly _tag: "Bad" }
  | { readonly _tag: "NotFound" }

/**
 * Whether an origin-form target is its own path (most requests): no `%`, `?` or `#`, and no segment
 * that is empty (but a trailing one), `.` or `..`. One pass over the characters, no regular expression.
 */
const mapsToItself = (target: string): boolean => {
  if (target.charCodeAt(0) !== 0x2f) return false
  let start = 1
  for (let i = 1; i <= target.length; i++) {
    const c = i < target.length ? target.charCodeAt(i) : 0x2f
    if (c === 0x25 || c === 0x3f || c === 0x23) return false
    if (c !== 0x2f) continue
    const length = i - start
    if (length === 0 && i < target.length) return false
    if (length === 1 && target.charCodeAt(start) === 0x2e) return false
    if (length === 2 && target.charCodeAt(start) === 0x2e && target.charCodeAt(start + 1) === 0x2e)
      return false
    start = i + 1
  }
  return true
}

/**
 * The request target as Apache maps it: `*`, an origin form or an absolute http(s) URI. The path is
 * %-decoded (a bad escape is 400; %2F and %00 are 404, AllowEncodedSlashes Off), `.` and `..`
 * segments resolved (climbing above / is 400) and repeated slashes merged.
 */
export const parseTarget = (target: string, method = "GET"): Target => {
  if (target === "*") return { _tag: "Asterisk" }
  if (mapsToItself(target)) return { _tag: "Path", path: target }
  // CONNECT's authority form: the footer names that host and port.
  const authority = method === "CONNECT" ? /^([^/?#@]+):(\d{1,5})$/.exec(target) : null
  if (authority !== null) {
    const h = parseHost(`${authority[1]}:${authority[2]}`)
    return h === undefined
      ? { _tag: "Bad" }
      : { _tag: "Path", path: "/", host: h.host, ...(h.port === undefined ? {} : { port: h.port }) }
  }
  let rest = target
  let host: { host: string; port?: number } | undefined
  const abs = /^https?:\/\/([^/?#]*)(.*)$/i.exec(target)
  if (abs !== null) {
    host = parseHost(abs[1] ?? "")
    if (host === undefined) return { _tag: "Bad" }
    rest = abs[2] === "" ? "/" : (abs[2] ?? "/")
  }
  if (!rest.startsWith("/")) return { _tag: "Bad" }
  const raw = rest.split(/[?#]/)[0] ?? "/"
  if (/%(?![0-9A-Fa-f]{2})/.test(raw)) return { _tag: "Bad" }
  if (/%(2f|00)/i.test(raw)) return { _tag: "NotFound" }
  const decoded = raw.replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) =>
    String.fromCharCode(Number.parseInt(h, 16))
  )
  const out: Array<string> = []
  for (const seg of decoded.split("/").slice(1)) {
    if (seg === "..") {
      if (out.length === 0) return { _tag: "Bad" }
      out.pop()
    } else if (seg !== "." && seg !== "") out.push(seg)
  }
  const trailing = decoded.endsWith("/") || decoded.endsWith("/.") || decoded.endsWith("/..")
  const path = `/${out.join("/")}${trailing && out.length > 0 ? "/" : ""}`
  return host === undefined
    ? { _tag: "Path", path }
    : { _tag: "Path", path, host: host.host, ...(host.port === undefined ? {} : { port: host.port }) }
}

/** Apache's default FileETag (MTime Size): `"<size hex>-<mtime µs hex>"`. */
export const etagOf = (size: number, mtimeUs: number): string =>
  `"${size.toString(16)}-${mtimeUs.toString(16)}"`

/** A single `bytes=a-b` range of a body of `size` bytes (Apache serves more only as multipart). */
export const parseRange = (
  value: string,
  size: number
): { start: number; end: number } | "unsatisfiable" | undefined => {
  const m = /^bytes=(\d*)-(\d*)$/.exec(value.trim())
  if (m === null) return undefined
  const [a = "", b = ""] = [m[1], m[2]]
  if (a === "" && b === "") return undefined
  if (a === "") {
    const n = Number(b)
    if (n === 0) return "unsatisfiable"
    return { start: Math.max(0, size - n), end: size - 1 }
  }
  const start = Number(a)
  const end = b === "" ? size - 1 : Math.min(Number(b), size - 1)
  if (start >= size) return "unsatisfiable"
  if (end < start) return undefined
  return { start, end }
}
