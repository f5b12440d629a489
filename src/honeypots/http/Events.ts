/**
 * The web persona's events (spec/honeypots.md §3), shared by http and https: the field schemas are
 * declared once here and each service logs them under its own slug. The peer (`src_ip`, `src_port`)
 * comes from the connection's emitter; `remote_addr` stays only on the three events of the original's
 * Caddy module, whose documented format names the peer as `ip:port`.
 */
import { Schema } from "effect"
import { CredentialEventFields, defineEvents, type EventsOf, Sd } from "../runtime/index.js"

/** The module's protocol tag: `h1` for HTTP/1.x, `h2` for h2 and h2c. */
const Proto = Sd.Literal("h1", "h2")

/** Go's `RemoteAddr` spelling of the peer: `1.2.3.4:5678`, `[::1]:5678`. */
const RemoteAddr = Sd.Text

export const webEventFields = {
  /**
   * One per request the app answers, once its body (at most 4096 bytes) is read. `headers` is the
   * request's header map (h2 pseudo-headers dropped), `body` its first 512 bytes; the credential
   * fields appear when an Authorization header or a login form carried a secret.
   */
  request: {
    method: Sd.Text,
    path: Sd.Text,
    headers: Sd.Json(Schema.Record({ key: Schema.String, value: Schema.String })),
    body: Sd.Text,
    user_agent: Sd.Text,
    // Schema.optional, not Sd.optional: secret_kind's Literal encodes to its literals, not `string`.
    principal: Schema.optional(CredentialEventFields.principal),
    secret_printable: Schema.optional(CredentialEventFields.secret_printable),
    secret_b64: Schema.optional(CredentialEventFields.secret_b64),
    secret_kind: Schema.optional(CredentialEventFields.secret_kind)
  },
  /** JA4H and the header order, as soon as a request's header block is parsed (before its body). */
  http_request_fingerprint: {
    remote_addr: RemoteAddr,
    proto: Proto,
    method: Sd.Text,
    path: Sd.Text,
    ja4h: Sd.Text,
    /** Lowercase header names in wire order (h2 pseudo-headers included). */
    headers_ordered: Sd.Json(Schema.Array(Schema.String)),
    /** Every Cookie value, `; `-joined. */
    cookie: Sd.Text,
    /** The first Accept-Language value, or empty. */
    accept_language: Sd.Text
  },
  /**
   * A response was written: after each request the app answered, and after an error reply of the
   * HTTP/1 parser (400, 408, 431), which reaches no app and so has an empty method and path.
   * `bytes` counts body bytes only (0 for HEAD and for error replies).
   */
  http_access: {
    remote_addr: RemoteAddr,
    method: Sd.Text,
    path: Sd.Text,
    proto: Proto,
    status: Sd.Int,
    bytes: Sd.Int
  },
  /** Once per h2/h2c connection: the client's first SETTINGS frame (names → values, and wire order). */
  http2_settings: {
    remote_addr: RemoteAddr,
    settings: Sd.Json(Schema.Record({ key: Schema.String, value: Schema.Number })),
    frame_order: Sd.Json(Schema.Array(Schema.Int))
  }
} as const

export const httpEvents = defineEvents("http", webEventFields)

/** Every event of the web persona (http's and https's unions are the same type). */
export type HttpEvent = EventsOf<typeof httpEvents>
