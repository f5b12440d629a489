/**
 * The web persona shared by http and https (spec/honeypots.md §3–4), answering as Debian's Apache 2.4
 * does (issue 14; Apache.ts, Site.ts): HTTP/1.x on our own engine (H1.ts), h2 and h2c on node:http2.
 * Every request is logged as `http_request_fingerprint` (as its header block is parsed), `request`
 * (with any credentials it carried) and `http_access` (once answered); an error reply of the HTTP/1
 * engine before any request (400, 408, 414) is logged as `http_access` alone. The harness's serveTcp
 * owns accept, per-IP limits, deadlines and the peer of every event.
 */
import { readFile, realpath, stat } from "node:fs/promises"
import * as http2 from "node:http2"
import type * as net from "node:net"
import * as path from "node:path"
import { Duplex } from "node:stream"
import * as tls from "node:tls"
import { Clock, Effect, Option, Runtime, Schema } from "effect"
import {
  type Connection,
  type Emitter,
  type HoneypotContextService,
  normalizeIp,
  type Peer,
  type ServiceEvents
} from "../runtime/index.js"
import { ALLOW_STATIC, parseHost, parseTarget, type Signature } from "./Apache.js"
import { classifyAuthorization, extractFormCredentials } from "./Credentials.js"
import type { HttpEvent } from "./Events.js"
import { type Deadlines, errorReply, type H1Handler, type H1Request, serveH1, Wire } from "./H1.js"
import { SettingsTap } from "./H2Settings.js"
import { ja4h } from "./Ja4h.js"
import {
  DEFAULT_SERVER_HEADER,
  FAKE_APPS,
  type FakeApp,
  fakeAppPage,
  serverHeaderCandidates
} from "./Pages.js"
import {
  dateHeader,
  httpDate,
  respond,
  type Site,
  type SiteRequest,
  type SiteResponse,
  type StaticFile
} from "./Site.js"

/** Bytes of a request body we read; at most `BODY_LOG_BYTES` of them reach the event. */
export const BODY_READ_BYTES = 4096
export const BODY_LOG_BYTES = 512
/** h2 header block limit. */
export const MAX_HEADER_BYTES = 16 * 1024
/** Slowloris guard: the whole header block must arrive within this many ms (`header_timeout_ms`). */
export const HEADERS_TIMEOUT_MS = 20_000
/** The longest header timeout an operator may set. */
export const REQUEST_TIMEOUT_MS = 60_000
/**
 * After the last response (an error, HTTP/1.0, Connection: close) the server half-closes, as Apache's
 * lingering close does; a client that ignores that FIN loses the socket, and its per-IP slot, this
 * long after (on Effect's Clock).
 */
export const ERROR_LINGER_MS = 1_000

export const HttpVersion = Schema.Literal("http/1.1", "http/2", "http/3")

const HeaderMap = Schema.Record({ key: Schema.String, value: Schema.String })

/** Config keys shared by http and https (spec §3). */
export const webConfigFields = {
  /** Omitted: Debian's Apache (`Apache/2.4.71 (Debian)`), or a seeded nginx / IIS string for those apps. */
  server_header: Schema.optional(Schema.String),
  /**
   * Status of every response the site decides (not of protocol errors). Omitted: Apache's own,
   * 403 everywhere with fake_app none (Require all denied), 200/404/405/501 for apache_default's
   * static site, 200 for a fake_app page or custom_body.
   */
  response_code: Schema.optional(Schema.Int.pipe(Schema.between(200, 599))),
  fake_app: Schema.optionalWith(Schema.Literal(...FAKE_APPS), { default: () => "none" as const }),
  /**
   * Headers added to every response, right after Server: a map, or its JSON text, which is what the
   * catalog's textarea and an INI value carry.
   */
  extra_headers: Schema.optionalWith(Schema.Union(HeaderMap, Schema.parseJson(HeaderMap)), {
    default: () => ({})
  }),
  custom_body: Schema.optional(Schema.String),
  /** Directory whose files are served by path (read-only). */
  files: Schema.optional(Schema.String),
  /**
   * Slowloris guard: a request's header block must be complete this many ms after it began, else
   * `408` (Apache's mod_reqtimeout `header=20`), on Effect's Clock.
   */
  header_timeout_ms: Schema.optionalWith(Schema.Int.pipe(Schema.between(1_000, REQUEST_TIMEOUT_MS)), {
    default: () => HEADERS_TIMEOUT_MS
  })
} as const

export interface WebConfig {
  readonly server_header?: string | undefined
  readonly response_code?: number | undefined
  readonly fake_app: FakeApp
  readonly extra_headers: Readonly<Record<string, string>>
  readonly custom_body?: string | undefined
  readonly files?: string | undefined
  readonly header_timeout_ms: number
}

export interface WebPersona {
  readonly service: string
  /** The default port of the service (80, 443): the port Apache's footer names without a Host port. */
  readonly port: number
  readonly serverHeader: string
}

export const choosePersona = (
  ctx: HoneypotContextService,
  config: WebConfig,
  service: string,
  port: number
): WebPersona => ({
  service,
  port,
  serverHeader:
    config.server_header !== undefined && config.server_header !== ""
      ? config.server_header
      : config.fake_app === "nginx_default" || config.fake_app === "iis_default"
        ? ctx.seed.pick(serverHeaderCandidates(config.fake_app))
        : DEFAULT_SERVER_HEADER
})

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

/**
 * The index page's modification time, stable per decky (its ETag and Last-Modified do not change
 * across restarts): a day of 2024–2025 drawn from the decky's seed, with microseconds.
 */
const indexMtimeUs = (ctx: HoneypotContextService): number => {
  const b = ctx.seed.bytes(8, "http:index-mtime")
  const base = Date.UTC(2024, 0, 1) * 1000
  return base + (b.readUInt32BE(0) % (700 * 86_400)) * 1_000_000 + (b.readUInt32BE(4) % 1_000_000)
}

/** A permutation of Apache's static Allow list, fixed per decky. */
const allowOrder = (ctx: HoneypotContextService): string => {
  const left: Array<string> = [...ALLOW_STATIC]
  const out: Array<string> = []
  const b = ctx.seed.bytes(left.length, "http:allow-order")
  for (let i = 0; left.length > 0; i++) out.push(...left.splice((b[i] ?? 0) % left.length, 1))
  return out.join(",")
}

/** The persona's site (Site.ts): what every path answers. */
export const makeSite = (ctx: HoneypotContextService, config: WebConfig, persona: WebPersona): Site => {
  const extraHeaders = Object.entries(config.extra_headers).filter(([k]) => TOKEN.test(k))
  const allow = allowOrder(ctx)
  const page = (text: string, contentType: string): StaticFile => ({
    body: Buffer.from(text, "utf8"),
    contentType,
    mtimeUs: indexMtimeUs(ctx)
  })
  if (config.custom_body !== undefined)
    return {
      kind: "app",
      allow,
      page: page(config.custom_body, "text/html; charset=UTF-8"),
      status: config.response_code,
      extraHeaders,
      source: "custom"
    }
  const fake = fakeAppPage(config.fake_app, persona.serverHeader, ctx.hostname)
  if (fake === undefined)
    return {
      kind: "denied",
      allow,
      page: undefined,
      status: config.response_code,
      extraHeaders,
      source: "forbidden"
    }
  if (config.fake_app === "apache_default")
    return {
      kind: "static",
      allow,
      page: page(fake, "text/html"),
      status: config.response_code,
      extraHeaders,
      source: "fake_app"
    }
  return {
    kind: "app",
    allow,
    page: page(fake, "text/html; charset=UTF-8"),
    status: config.response_code,
    extraHeaders,
    source: "fake_app"
  }
}

const MIME: Readonly<Record<string, string>> = {
  ".html": "text/html",
  ".htm": "text/html",
  ".txt": "text/plain",
  ".css": "text/css",
  ".js": "text/javascript",
  ".json": "application/json",
  ".xml": "application/xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".ico": "image/vnd.microsoft.icon",
  ".svg": "image/svg+xml",
  ".pdf": "application/pdf",
  ".zip": "application/zip",
  ".gz": "application/gzip"
}

/** A regular file under the files dir by decoded path (realpath-checked, ≤16 MiB). */
const fileFor = (root: string, urlPath: string): Effect.Effect<Option.Option<StaticFile>> =>
  Effect.gen(function* () {
    const base = yield* Effect.tryPromise(() => realpath(root))
    const target = yield* Effect.tryPromise(() => realpath(path.join(base, path.normalize(`/${urlPath}`))))
    if (target !== base && !target.startsWith(base + path.sep)) return Option.none()
    const st = yield* Effect.tryPromise(() => stat(target))
    if (!st.isFile() || st.size > 16 * 1024 * 1024) return Option.none()
    const body = yield* Effect.tryPromise(() => readFile(target))
    return Option.some({
      body,
      contentType: MIME[path.extname(target).toLowerCase()] ?? "application/octet-stream",
      mtimeUs: Math.floor(st.mtimeMs * 1000)
    })
  }).pipe(Effect.orElseSucceed(() => Option.none()))

type AnyRequest = http2.Http2ServerRequest
type AnyResponse = http2.Http2ServerResponse

/** A connection's emitter: http's or https's events (one type), the TCP peer already filled in. */
export type WebEmitter = Emitter<HttpEvent>

/** What node's h2 callbacks need of the serveTcp connection a request belongs to. */
export interface ConnectionLink {
  readonly emitter: WebEmitter
}

/**
 * The connection behind a node request or client error. node hands its callbacks the stream we gave
 * it (the socket, a TLS socket, a replay Duplex) or an h2 session over it, none of which knows the
 * serveTcp connection, so handOff records the connection's link against them. One registry per
 * running instance; entries go with the streams (a WeakMap).
 */
export class ConnectionRegistry {
  private readonly links = new WeakMap<object, ConnectionLink>()
  private pending: ConnectionLink | undefined

  /** Attach to an http2 server: sessions created while a hand-off is in progress inherit its link. */
  watch(server: {
    on: (event: "session", listener: (session: http2.ServerHttp2Session) => void) => unknown
  }): void {
    server.on("session", (session) => {
      if (this.pending !== undefined) this.links.set(session, this.pending)
    })
  }

  /** Run `emit` with `link` registered for `stream` and any session it synchronously creates. */
  during(stream: object, link: ConnectionLink, emit: () => void): void {
    this.links.set(stream, link)
    this.pending = link
    try {
      emit()
    } finally {
      this.pending = undefined
    }
  }

  ofStream(stream: object): ConnectionLink | undefined {
    return this.links.get(stream)
  }

  ofRequest(req: AnyRequest): ConnectionLink | undefined {
    const viaSocket = this.links.get(req.socket)
    if (viaSocket !== undefined) return viaSocket
    const session = "stream" in req ? req.stream.session : undefined
    return session === undefined ? undefined : this.links.get(session)
  }
}

/**
 * The peer as Go's `RemoteAddr` spells it (`1.2.3.4:80`, `[::1]:443`): the `remote_addr` of the
 * original's Caddy module events, derived from the emitter's peer so it cannot disagree with it.
 */
const remoteAddr = (peer: Peer | undefined): string => {
  if (peer === undefined) return ""
  const host = peer.ip.includes(":") ? `[${peer.ip}]` : peer.ip
  return peer.port === null ? host : `${host}:${peer.port}`
}

/** One request as both protocols hand it to the persona. */
interface Incoming {
  readonly method: string
  /** The request target as sent. */
  readonly target: string
  /** `0.9`, `1.0`, `1.1`, `2.0`. */
  readonly httpVersion: string
  readonly rawHeaders: ReadonlyArray<string>
  /** Lower-case names, pseudo-headers dropped. */
  readonly headers: Readonly<Record<string, string>>
  readonly site: SiteRequest
  readonly proto: "h1" | "h2"
}

/** The persona's request path: log the head, read the body, log the request, decide the answer. */
export const makeResponder = (
  config: WebConfig,
  site: Site,
  emitter: WebEmitter
): ((
  req: Incoming,
  readBody: Effect.Effect<{ readonly body: Buffer; readonly truncated: boolean }>
) => Effect.Effect<SiteResponse>) => {
  const remote_addr = remoteAddr(emitter.peer)
  return (req, readBody) =>
    Effect.gen(function* () {
      const fp = ja4h({ method: req.method, httpVersion: req.httpVersion, rawHeaders: [...req.rawHeaders] })
      yield* emitter.emit({
        _tag: "http_request_fingerprint",
        remote_addr,
        proto: req.proto,
        method: req.method,
        path: req.target,
        ja4h: fp.ja4h,
        headers_ordered: fp.headersOrdered,
        cookie: fp.cookie,
        accept_language: fp.acceptLanguage
      })
      const { body } = yield* readBody
      const bodyText = body.toString("utf8")
      const creds =
        classifyAuthorization(req.headers.authorization) ??
        extractFormCredentials(bodyText, req.headers["content-type"])
      yield* emitter.emit({
        _tag: "request",
        method: req.method,
        path: req.target,
        headers: { ...req.headers },
        body: body.subarray(0, BODY_LOG_BYTES).toString("utf8"),
        user_agent: req.headers["user-agent"] ?? "",
        ...(creds ?? {})
      })
      const file =
        config.files === undefined || req.site.path === undefined
          ? Option.none()
          : yield* fileFor(config.files, req.site.path)
      return respond(site, req.site, Option.getOrUndefined(file))
    })
}

/** The HTTP/1 engine's view of the persona, for one connection. */
export const h1Handler = (
  config: WebConfig,
  persona: WebPersona,
  site: Site,
  hostname: string,
  emitter: WebEmitter,
  tls: { readonly upgrade: string | undefined; readonly sni: string | undefined },
  deadlines: Deadlines
): H1Handler => {
  const responder = makeResponder(config, site, emitter)
  const remote_addr = remoteAddr(emitter.peer)
  const access = (method: string, target: string, status: number, bytes: number) =>
    emitter.emit({ _tag: "http_access", remote_addr, method, path: target, proto: "h1", status, bytes })
  return {
    serverHeader: persona.serverHeader,
    hostname,
    defaultPort: persona.port,
    headerTimeoutMs: config.header_timeout_ms,
    lingerMs: ERROR_LINGER_MS,
    deadlines,
    extraHeaders: site.extraHeaders,
    upgrade: tls.upgrade,
    sni: tls.sni,
    onRequest: (req: H1Request, readBody) =>
      responder({ ...req, httpVersion: req.version, proto: "h1" }, readBody),
    onError: (status, method, target, bytes) => access(method, target, status, bytes),
    onAccess: (req, status, bytes) => access(req.method, req.target, status, bytes)
  }
}

const headerValue = (v: string | ReadonlyArray<string> | undefined): string | undefined =>
  typeof v === "string" ? v : v === undefined ? undefined : v.join(", ")

/** Read at most BODY_READ_BYTES of an h2 body; the rest is discarded by node as it arrives. */
const readH2Body = (req: AnyRequest): Effect.Effect<{ body: Buffer; truncated: boolean }> =>
  Effect.async((resume) => {
    const chunks: Array<Buffer> = []
    let size = 0
    let done = false
    const finish = (truncated: boolean) => {
      if (done) return
      done = true
      resume(Effect.succeed({ body: Buffer.concat(chunks).subarray(0, BODY_READ_BYTES), truncated }))
    }
    req.on("data", (chunk: Buffer) => {
      if (size < BODY_READ_BYTES) chunks.push(chunk)
      size += chunk.length
      if (size > BODY_READ_BYTES) finish(true)
    })
    req.on("end", () => finish(false))
    req.on("error", () => finish(false))
    req.on("close", () => finish(false))
  })

/** Hop-by-hop headers h2 forbids. */
const H2_DROPPED = new Set(["connection", "keep-alive", "transfer-encoding", "upgrade"])

/** The node:http2 request listener of a persona (h2c on 80, h2 after TLS). */
export const makeH2RequestHandler = (
  ctx: HoneypotContextService,
  runtime: Runtime.Runtime<never>,
  config: WebConfig,
  persona: WebPersona,
  site: Site,
  links: ConnectionRegistry,
  events: ServiceEvents<HttpEvent>
) => {
  const runFork = Runtime.runFork(runtime)
  // Every request arrives over a stream handOff registered; the socket's own address is a fallback
  // that keeps a request logged, with its peer, should node ever hand us one it did not come from.
  const emitterOf = (req: AnyRequest): WebEmitter =>
    links.ofRequest(req)?.emitter ??
    ctx.emitter(events, { ip: normalizeIp(req.socket?.remoteAddress), port: req.socket?.remotePort ?? 0 })
  const program = (req: AnyRequest, res: AnyResponse) =>
    Effect.gen(function* () {
      const emitter = emitterOf(req)
      const method = req.method ?? ""
      const target = req.url ?? "/"
      const headers: Record<string, string> = {}
      for (const [k, v] of Object.entries(req.headers)) {
        const value = headerValue(v)
        if (!k.startsWith(":") && value !== undefined) headers[k] = value
      }
      const authority = headerValue(req.headers[":authority"]) ?? headers.host
      const host = authority === undefined ? undefined : parseHost(authority)
      const t = parseTarget(target, method)
      const sig: Signature = {
        serverHeader: persona.serverHeader,
        host: host === undefined || host.host === "" ? ctx.hostname : host.host,
        port: host?.port ?? persona.port
      }
      const siteReq: SiteRequest = {
        method,
        path: t._tag === "Path" ? t.path : t._tag === "Asterisk" ? undefined : "",
        headers,
        head: method === "HEAD",
        sig
      }
      const out = yield* makeResponder(
        config,
        site,
        emitter
      )(
        {
          method,
          target,
          httpVersion: req.httpVersion,
          rawHeaders: req.rawHeaders,
          headers,
          site: siteReq,
          proto: "h2"
        },
        readH2Body(req)
      )
      if (res.headersSent || res.destroyed) return
      const now = yield* Clock.currentTimeMillis
      res.statusCode = out.status
      res.setHeader("Date", dateHeader(now))
      res.setHeader("Server", persona.serverHeader)
      for (const [k, v] of [...site.extraHeaders, ...out.headers])
        if (!H2_DROPPED.has(k.toLowerCase())) res.setHeader(k, v)
      if (out.contentType !== undefined) res.setHeader("Content-Type", out.contentType)
      if (method === "HEAD") res.end()
      else res.end(out.body)
      yield* emitter.emit({
        _tag: "http_access",
        remote_addr: remoteAddr(emitter.peer),
        method,
        path: target,
        proto: "h2",
        status: out.status,
        bytes: method === "HEAD" ? 0 : out.body.length
      })
    }).pipe(
      Effect.catchAllDefect((d) =>
        Effect.zipRight(
          Effect.logWarning(`${persona.service}: request handler defect`, d),
          Effect.sync(() => res.destroy())
        )
      )
    )
  return (req: AnyRequest, res: AnyResponse): void => {
    runFork(program(req, res))
  }
}

/** Sees the client's bytes as they pass; answers false once it wants no more. */
export type ChunkTap = (chunk: Buffer) => boolean

/**
 * The `http2_settings` tap for one h2 or h2c connection: the client's first SETTINGS frame, logged
 * once per connection (spec §3) through the connection's emitter.
 */
export const settingsTap =
  (runtime: Runtime.Runtime<never>) =>
  (emitter: WebEmitter): ChunkTap => {
    const tap = new SettingsTap()
    return (chunk) => {
      const found = tap.feed(chunk)
      if (found !== undefined)
        Runtime.runFork(runtime)(
          emitter.emit({
            _tag: "http2_settings",
            remote_addr: remoteAddr(emitter.peer),
            settings: found.settings,
            frame_order: found.frameOrder
          })
        )
      return !tap.done
    }
  }

/**
 * A socket replay: bytes we already read from the wire (a peeked preface) come first, then the live
 * socket. node:http2 and node:tls read from the native handle and would never see bytes pushed back
 * with `unshift`, but they accept any Duplex (through their JS stream adapter).
 */
class ReplayedSocket extends Duplex {
  readonly remoteAddress: string | undefined
  readonly remotePort: number | undefined
  readonly remoteFamily: string | undefined
  private readonly inner: net.Socket | tls.TLSSocket

  constructor(inner: net.Socket | tls.TLSSocket, head: Buffer, tap?: ChunkTap) {
    super()
    this.inner = inner
    this.remoteAddress = inner.remoteAddress
    this.remotePort = inner.remotePort
    this.remoteFamily = inner.remoteFamily
    let watching = tap
    const watch = (chunk: Buffer) => {
      if (watching !== undefined && !watching(chunk)) watching = undefined
    }
    if (head.length > 0) {
      watch(head)
      this.push(head)
    }
    inner.on("data", (chunk: Buffer) => {
      watch(chunk)
      if (!this.push(chunk)) inner.pause()
    })
    inner.on("end", () => this.push(null))
    inner.on("close", () => this.destroy())
    inner.on("error", (e) => this.destroy(e))
  }

  override _read(): void {
    this.inner.resume()
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.inner.write(chunk, callback)
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.inner.end()
    callback()
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.inner.destroy()
    callback(error)
  }

  setTimeout(ms: number, cb?: () => void): this {
    this.inner.setTimeout(ms, cb)
    return this
  }

  setNoDelay(noDelay?: boolean): this {
    this.inner.setNoDelay(noDelay)
    return this
  }

  setKeepAlive(enable?: boolean, delay?: number): this {
    this.inner.setKeepAlive(enable, delay)
    return this
  }
}

/**
 * Keep the connection's fiber (and so the harness's accounting, deadlines and shutdown) until its
 * socket closes; interrupting it destroys the socket.
 */
const untilClosed = (socket: net.Socket | tls.TLSSocket): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    if (socket.closed) resume(Effect.void)
    else socket.once("close", () => resume(Effect.void))
    return Effect.sync(() => socket.destroy())
  })

/** nginx's answer to plain HTTP on its TLS port (an nginx persona's, where Apache's is mod_ssl's). */
const nginxPlainHttp = (server: string, now: number): Buffer => {
  const body = `<html>\r\n<head><title>400 The plain HTTP request was sent to HTTPS port</title></head>\r\n<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n<center>The plain HTTP request was sent to HTTPS port</center>\r\n<hr><center>${server}</center>\r\n</body>\r\n</html>\r\n`
  return Buffer.from(
    `HTTP/1.1 400 Bad Request\r\nServer: ${server}\r\nDate: ${httpDate(now)}\r\nContent-Type: text/html\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    "latin1"
  )
}

/** What a listener needs to serve one connection of a persona. */
export interface WebStack {
  readonly config: WebConfig
  readonly persona: WebPersona
  readonly site: Site
  readonly hostname: string
  readonly links: ConnectionRegistry
  readonly h2: http2.Http2Server | undefined
  /** HTTP/1.x is served (an h2-only https persona closes a client that did not choose h2). */
  readonly h1: boolean
  readonly tap: (emitter: WebEmitter) => ChunkTap
  /** The listener's HTTP/1 deadlines (makeDeadlines). */
  readonly deadlines: Deadlines
}

/**
 * serveTcp handler body for HTTP/1: take the socket off the connection and run the HTTP/1 engine
 * on it (`head`: bytes already read, the peeked h2c preface check). There is no login: the
 * connection never calls `conn.loggedIn()`, so the runtime's pre-login grace caps its life,
 * keep-alive included.
 */
export const serveH1Connection = (
  conn: Connection,
  stack: WebStack,
  emitter: WebEmitter,
  head: Buffer = Buffer.alloc(0)
): Effect.Effect<void> =>
  Effect.gen(function* () {
    const socket = yield* Effect.sync(() => conn.detach())
    const wire = new Wire(socket, head)
    const upgrade = stack.h2 === undefined ? undefined : "h2c"
    yield* serveH1(
      wire,
      h1Handler(
        stack.config,
        stack.persona,
        stack.site,
        stack.hostname,
        emitter,
        {
          upgrade,
          sni: undefined
        },
        stack.deadlines
      ),
      BODY_READ_BYTES
    )
  }).pipe(Effect.ensuring(Effect.sync(() => conn.socket().destroy())))

/** serveTcp handler body for h2c: hand the socket, with the peeked preface, to node:http2. */
export const handOffH2 = (
  conn: Connection,
  server: http2.Http2Server,
  links: ConnectionRegistry,
  emitter: WebEmitter,
  head: Buffer,
  tap: (emitter: WebEmitter) => ChunkTap
): Effect.Effect<void> =>
  Effect.gen(function* () {
    const socket = yield* Effect.sync(() => {
      const socket = conn.detach()
      const handed = new ReplayedSocket(socket, head, tap(emitter))
      links.during(handed, { emitter }, () => {
        server.emit("connection", handed)
      })
      return socket
    })
    yield* untilClosed(socket)
  })

/** How the opening of an https connection ended (serveTls). */
type TlsOpening =
  /** Handshake done, HTTP/1.x chosen (or nothing: no ALPN is HTTP/1.1 for mod_ssl). */
  | { readonly _tag: "Http1"; readonly secure: tls.TLSSocket }
  /** Plain HTTP on the TLS port, answered with `bodyBytes` of page; the event is still to log. */
  | { readonly _tag: "PlainHttp"; readonly handler: H1Handler; readonly bodyBytes: number }
  /** The socket closed: after an h2 session, a failed handshake, a refused ALPN, a cut. */
  | { readonly _tag: "Closed" }

const CLOSED: TlsOpening = { _tag: "Closed" }

/** The error code node gives an OpenSSL error (`ERR_SSL_<REASON>`). */
const errorCode = (e: Error): string | undefined =>
  "code" in e && typeof e.code === "string" ? e.code : undefined

/**
 * serveTcp handler body for https: terminate TLS here, then serve the decrypted stream with the
 * HTTP/1 engine, or hand it to node:http2 when ALPN chose h2 (through a replay Duplex, so the
 * SETTINGS tap sees the client's frames). One that never finishes the handshake is closed
 * `handshakeTimeoutMs` after the hand-off (by the runtime, reason `handshake`).
 *
 * TLS reads the accepted socket's native handle from the first byte, as mod_ssl's OpenSSL does, and
 * plain HTTP is OpenSSL's own finding, the one mod_ssl (and nginx) answer in plain text:
 * `SSL_R_HTTP_REQUEST`, a first record header reading `GET `, `POST `, `HEAD ` or `PUT `. The
 * handshake, an h2 session and the wait for its close are callbacks under one suspension of the
 * connection's fiber, as many as an HTTP/1 connection needs before its engine runs.
 */
export const serveTls = (
  conn: Connection,
  stack: WebStack,
  secureContext: tls.SecureContext,
  alpn: ReadonlyArray<string>,
  handshakeTimeoutMs: number,
  emitter: WebEmitter
): Effect.Effect<void> =>
  Effect.gen(function* () {
    // The runtime's sweeper closes the connection if the handshake is not done in time.
    const handshaken = conn.within(handshakeTimeoutMs)
    const clock = yield* Effect.clock
    const opening = yield* Effect.async<TlsOpening>((resume) => {
      // Bytes the runtime already buffered go back in front: TLSSocket feeds a net.Socket's readable
      // buffer to its engine first (as Connection.startTls relies on), then reads the handle itself.
      let settled = false
      const settle = (opening: TlsOpening) => {
        if (settled) return
        settled = true
        resume(Effect.succeed(opening))
      }
      const socket = conn.detach()
      if (socket.destroyed) return settle(CLOSED)
      const secure = new tls.TLSSocket(socket, {
        isServer: true,
        secureContext,
        ...(alpn.length > 0 ? { ALPNProtocols: [...alpn] } : {})
      })
      let plain: TlsOpening | undefined
      secure.on("error", (e) => {
        // OpenSSL sends no alert for it, and node closes the socket with the TLS one: the answer
        // goes out now, in plain text, on the socket underneath.
        if (plain === undefined && errorCode(e) === "ERR_SSL_HTTP_REQUEST" && socket.writable) {
          const handler = h1Handler(
            stack.config,
            stack.persona,
            stack.site,
            stack.hostname,
            emitter,
            { upgrade: undefined, sni: undefined },
            stack.deadlines
          )
          const now = clock.unsafeCurrentTimeMillis()
          const page = stack.persona.serverHeader.startsWith("nginx")
            ? nginxPlainHttp(stack.persona.serverHeader, now)
            : errorReply(handler, 400, now, "plain_http", 80)
          socket.end(page)
          plain = { _tag: "PlainHttp", handler, bodyBytes: page.length - page.indexOf("\r\n\r\n") - 4 }
        }
        secure.destroy()
      })
      secure.once("close", () => socket.destroy())
      socket.once("close", () => settle(plain ?? CLOSED))
      secure.once("secure", () => {
        handshaken()
        const h2 = stack.h2
        if (secure.alpnProtocol === "h2" && h2 !== undefined) {
          // node:http2 serves it from here; the fiber waits for the socket to close.
          const tapped = new ReplayedSocket(secure, Buffer.alloc(0), stack.tap(emitter))
          stack.links.during(tapped, { emitter }, () => h2.emit("connection", tapped))
        } else if (!stack.h1 || (secure.alpnProtocol !== false && secure.alpnProtocol !== "http/1.1"))
          secure.destroy()
        else settle({ _tag: "Http1", secure })
      })
      return Effect.sync(() => socket.destroy())
    })
    if (opening._tag === "PlainHttp") return yield* opening.handler.onError(400, "", "", opening.bodyBytes)
    if (opening._tag === "Closed") return
    const secure = opening.secure
    const servername = secure.servername
    yield* serveH1(
      new Wire(secure, Buffer.alloc(0)),
      h1Handler(
        stack.config,
        stack.persona,
        stack.site,
        stack.hostname,
        emitter,
        {
          upgrade: stack.h2 === undefined ? undefined : "h2",
          sni: typeof servername === "string" && servername !== "" ? servername : undefined
        },
        stack.deadlines
      ),
      BODY_READ_BYTES
    )
  }).pipe(Effect.ensuring(Effect.sync(() => conn.socket().destroy())))

/** The HTTP/2 server of a persona (h2c on 80, h2 after TLS), with the limits both share. */
export const makeH2Server = (
  onRequest: (req: AnyRequest, res: AnyResponse) => void,
  links: ConnectionRegistry
) => {
  const h2 = http2.createServer(
    { maxSessionMemory: 4, maxHeaderListPairs: 128, maxSendHeaderBlockLength: MAX_HEADER_BYTES },
    onRequest
  )
  h2.on("sessionError", () => {})
  links.watch(h2)
  return h2
}
