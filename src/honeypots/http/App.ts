/**
 * The web persona shared by http and https (spec/honeypots.md §3–4): every method and path is
 * answered with a file, the custom body, a fake app page or the 403 page, and every request is
 * logged as one `request` event with any credentials it carried. node:http / node:http2 parse the
 * wire; the harness's serveTcp still owns accept, per-IP limits, deadlines and the peer of every
 * event (each connection's emitter reaches node's callbacks through a `ConnectionRegistry`).
 */
import { readFile, realpath, stat } from "node:fs/promises"
import * as http from "node:http"
import * as http2 from "node:http2"
import type * as net from "node:net"
import * as path from "node:path"
import { Duplex } from "node:stream"
import * as tls from "node:tls"
import { Effect, Option, Runtime, Schema } from "effect"
import {
  type Connection,
  type Emitter,
  type HoneypotContextService,
  normalizeIp,
  type Peer,
  type ServiceEvents
} from "../runtime/index.js"
import { classifyAuthorization, extractFormCredentials } from "./Credentials.js"
import type { HttpEvent } from "./Events.js"
import { SettingsTap } from "./H2Settings.js"
import { ja4h } from "./Ja4h.js"
import { FAKE_APPS, type FakeApp, fakeAppPage, forbiddenPage, serverHeaderCandidates } from "./Pages.js"

/** Bytes of a request body we read; at most `BODY_LOG_BYTES` of them reach the event. */
export const BODY_READ_BYTES = 4096
export const BODY_LOG_BYTES = 512
/** Request header block limit (node's default is 16 KiB; Apache's is 8 KiB per line, 100 lines). */
export const MAX_HEADER_BYTES = 16 * 1024
/** Slowloris guard: the whole header block must arrive within this many ms (`header_timeout_ms`). */
export const HEADERS_TIMEOUT_MS = 20_000
/** node's bound on a whole request; the header timeout may not exceed it (node refuses to start). */
export const REQUEST_TIMEOUT_MS = 60_000
/**
 * After an error reply (400/408/431) the server half-closes; a client that ignores that FIN loses the
 * socket, and its per-IP slot, this long after (as serveTcp's own END_LINGER_MS).
 */
export const ERROR_LINGER_MS = 1_000

export const HttpVersion = Schema.Literal("http/1.1", "http/2", "http/3")

const HeaderMap = Schema.Record({ key: Schema.String, value: Schema.String })

/** Config keys shared by http and https (spec §3). */
export const webConfigFields = {
  server_header: Schema.optional(Schema.String),
  /**
   * Status of every response. Omitted, it follows the body: 403 with the built-in Forbidden page,
   * 200 with a fake_app page, custom_body or a served file (see `statusFor`). The schema and the
   * runtime share that one rule (the original's schema said 200 while its runtime sent 403).
   */
  response_code: Schema.optional(Schema.Int.pipe(Schema.between(200, 599))),
  fake_app: Schema.optionalWith(Schema.Literal(...FAKE_APPS), { default: () => "none" as const }),
  /**
   * Headers added to every response: a map, or its JSON text, which is what the catalog's textarea
   * and an INI value carry (the original passed a string through as-is and a dict as JSON).
   */
  extra_headers: Schema.optionalWith(Schema.Union(HeaderMap, Schema.parseJson(HeaderMap)), {
    default: () => ({})
  }),
  custom_body: Schema.optional(Schema.String),
  /** Directory whose files are served by path (read-only). */
  files: Schema.optional(Schema.String),
  /**
   * Slowloris guard: a request's header block must be complete this many ms after it began, else
   * `408` (Apache's mod_reqtimeout `header=20`). node enforces it on its own timers, not Effect's
   * Clock, so tests shorten it here rather than with TestClock.
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

export type BodySource = "file" | "custom" | "fake_app" | "forbidden"

/** The one place the default status is decided. */
export const statusFor = (config: WebConfig, source: BodySource): number =>
  config.response_code ?? (source === "forbidden" ? 403 : 200)

export interface WebPersona {
  readonly service: string
  readonly port: number
  readonly serverHeader: string
}

export const choosePersona = (
  ctx: HoneypotContextService,
  config: WebConfig,
  service: string,
  port: number
) => ({
  service,
  port,
  serverHeader:
    config.server_header !== undefined && config.server_header !== ""
      ? config.server_header
      : ctx.seed.pick(serverHeaderCandidates(config.fake_app))
})

type AnyRequest = http.IncomingMessage | http2.Http2ServerRequest

/** A connection's emitter: http's or https's events (one type), the TCP peer already filled in. */
export type WebEmitter = Emitter<HttpEvent>

/** What node's callbacks need of the serveTcp connection a request or a parser error belongs to. */
export interface ConnectionLink {
  readonly emitter: WebEmitter
  /** An error reply was sent and the socket half-closed: close it soon if the client does not. */
  readonly closeSoon: () => void
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
type AnyResponse = http.ServerResponse | http2.Http2ServerResponse

/** Resolve a URL path inside the files dir; `undefined` unless it is a regular file under it. */
const fileFor = (root: string, urlPath: string): Effect.Effect<Option.Option<Buffer>> =>
  Effect.gen(function* () {
    const rel = yield* Effect.try(() => decodeURIComponent(urlPath.split("?")[0] ?? "/"))
    const base = yield* Effect.tryPromise(() => realpath(root))
    const target = yield* Effect.tryPromise(() => realpath(path.join(base, path.normalize(`/${rel}`))))
    if (target !== base && !target.startsWith(base + path.sep)) return Option.none()
    const st = yield* Effect.tryPromise(() => stat(target))
    if (!st.isFile() || st.size > 16 * 1024 * 1024) return Option.none()
    return Option.some(yield* Effect.tryPromise(() => readFile(target)))
  }).pipe(Effect.orElseSucceed(() => Option.none()))

/** Read at most BODY_READ_BYTES of the body; the rest is discarded by node as it arrives. */
const readBody = (req: AnyRequest): Effect.Effect<{ body: Buffer; truncated: boolean }> =>
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

const headerValue = (v: string | ReadonlyArray<string> | undefined): string | undefined =>
  typeof v === "string" ? v : v === undefined ? undefined : v.join(", ")

/** Request headers as an object; pseudo-headers (`:path`, …) of h2 are dropped. */
const headerMap = (req: AnyRequest): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(req.headers)) {
    if (k.startsWith(":")) continue
    const value = headerValue(v)
    if (value !== undefined) out[k] = value
  }
  return out
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

/** The protocol tag of the original's Caddy module: `h1` for HTTP/1.x, `h2` for h2 and h2c. */
const protoTag = (req: AnyRequest): "h1" | "h2" => (req.httpVersionMajor >= 2 ? "h2" : "h1")

/** Build the node request listener for one listener of the persona. */
export const makeRequestHandler = (
  ctx: HoneypotContextService,
  runtime: Runtime.Runtime<never>,
  config: WebConfig,
  persona: WebPersona,
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
      const method = req.method ?? ""
      const urlPath = req.url ?? "/"
      const emitter = emitterOf(req)
      const remote_addr = remoteAddr(emitter.peer)
      const proto = protoTag(req)
      // Emitted as the header block arrives, before the body is read (the original's listener tap
      // saw the wire before its upstream app did).
      const fp = ja4h({ method, httpVersion: req.httpVersion, rawHeaders: req.rawHeaders })
      yield* emitter.emit({
        _tag: "http_request_fingerprint",
        remote_addr,
        proto,
        method,
        path: urlPath,
        ja4h: fp.ja4h,
        headers_ordered: fp.headersOrdered,
        cookie: fp.cookie,
        accept_language: fp.acceptLanguage
      })
      const { body, truncated } = yield* readBody(req)
      const bodyText = body.toString("utf8")
      const creds =
        classifyAuthorization(headerValue(req.headers.authorization)) ??
        extractFormCredentials(bodyText, headerValue(req.headers["content-type"]))
      yield* emitter.emit({
        _tag: "request",
        method,
        path: urlPath,
        headers: headerMap(req),
        body: body.subarray(0, BODY_LOG_BYTES).toString("utf8"),
        user_agent: headerValue(req.headers["user-agent"]) ?? "",
        ...(creds ?? {})
      })

      const file = config.files === undefined ? Option.none() : yield* fileFor(config.files, urlPath)
      const fake = fakeAppPage(config.fake_app, persona.serverHeader, ctx.hostname)
      const [source, payload]: readonly [BodySource, string | Buffer] = Option.isSome(file)
        ? ["file", file.value]
        : config.custom_body !== undefined
          ? ["custom", config.custom_body]
          : fake !== undefined
            ? ["fake_app", fake]
            : ["forbidden", forbiddenPage(persona.serverHeader, ctx.hostname, persona.port)]
      const bytes = typeof payload === "string" ? Buffer.from(payload, "utf8") : payload
      if (res.headersSent || res.destroyed) return
      res.statusCode = statusFor(config, source)
      res.setHeader(
        "Content-Type",
        source === "file" ? "application/octet-stream" : "text/html; charset=UTF-8"
      )
      for (const [k, v] of Object.entries(config.extra_headers)) {
        if (/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k)) res.setHeader(k, v)
      }
      // Forced last so extra_headers cannot reveal a second identity.
      res.setHeader("Server", persona.serverHeader)
      res.setHeader("Content-Length", String(bytes.length))
      if (truncated && req.httpVersionMajor < 2) res.setHeader("Connection", "close")
      const sent = method === "HEAD" ? 0 : bytes.length
      if (method === "HEAD") res.end()
      else res.end(bytes)
      // `bytes` counts body bytes only, like the original's response writer (and curl's size_download).
      yield* emitter.emit({
        _tag: "http_access",
        remote_addr,
        method,
        path: urlPath,
        proto,
        status: res.statusCode,
        bytes: sent
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
 * socket closes; interrupting it destroys the socket. One callback, no racing fibers: this runs for
 * every request a scanner sends.
 */
const untilClosed = (socket: net.Socket | tls.TLSSocket): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    if (socket.closed) resume(Effect.void)
    else socket.once("close", () => resume(Effect.void))
    return Effect.sync(() => socket.destroy())
  })

/**
 * After an error reply the server has only half-closed: a client that ignores that FIN loses the
 * socket ERROR_LINGER_MS later, on Effect's Clock, not at the runtime's 120 s grace. Only error
 * replies pay for the timer.
 */
const linkOf = (
  emitter: WebEmitter,
  socket: net.Socket | tls.TLSSocket,
  runFork: (effect: Effect.Effect<void>) => void
): ConnectionLink => {
  let lingering = false
  return {
    emitter,
    closeSoon: () => {
      if (lingering || socket.closed) return
      lingering = true
      runFork(
        Effect.zipRight(
          Effect.sleep(ERROR_LINGER_MS),
          Effect.sync(() => socket.destroy())
        )
      )
    }
  }
}

/**
 * serveTcp handler body: hand the accepted socket to a node server and keep the connection fiber
 * alive until the socket closes. When bytes were already read (`head`, or buffered before we got
 * here) the server gets a replay. There is no login: the connection never calls `conn.loggedIn()`,
 * so the runtime's pre-login grace caps its life (keep-alive included), as the slowloris guard of a
 * service whose every request is anonymous.
 */
export const handOff = (
  conn: Connection,
  server: { emit: (event: "connection", socket: unknown) => boolean },
  links: ConnectionRegistry,
  emitter: WebEmitter,
  head: Buffer = Buffer.alloc(0),
  tap?: (emitter: WebEmitter) => ChunkTap
): Effect.Effect<void> =>
  Effect.gen(function* () {
    const runFork = Runtime.runFork(yield* Effect.runtime<never>())
    // Detach and give the socket to its new owner in the same tick (Connection.detach).
    const socket = yield* Effect.sync(() => {
      const replay = head.length > 0 || conn.buffered() > 0 || tap !== undefined
      const socket = conn.detach()
      const handed = replay ? new ReplayedSocket(socket, head, tap?.(emitter)) : socket
      links.during(handed, linkOf(emitter, socket, runFork), () => {
        server.emit("connection", handed)
      })
      return socket
    })
    yield* untilClosed(socket)
  })

/** How the https listener terminates TLS and routes by ALPN (see `handOffTls`). */
export interface TlsRoute {
  readonly secureContext: tls.SecureContext
  /** ALPN protocols offered, in preference order (`h2`, `http/1.1`). */
  readonly alpn: ReadonlyArray<string>
  readonly handshakeTimeoutMs: number
  readonly h1: http.Server | undefined
  readonly h2: http2.Http2Server | undefined
  readonly tap: (emitter: WebEmitter) => ChunkTap
}

/**
 * serveTcp handler body for https: terminate TLS here, then hand the decrypted stream to the h1 or
 * h2 server by ALPN. node's secure http2 server reads TLS off the native handle, where no tap can
 * see the client's SETTINGS; an h2 session over our replay Duplex can. A client that negotiates
 * nothing we serve is closed, as node's own server does; one that never finishes the handshake is
 * closed `handshakeTimeoutMs` after the hand-off (by the runtime, reason `handshake`).
 */
export const handOffTls = (
  conn: Connection,
  route: TlsRoute,
  links: ConnectionRegistry,
  emitter: WebEmitter
): Effect.Effect<void> =>
  Effect.gen(function* () {
    const runtime = yield* Effect.runtime<never>()
    const runFork = Runtime.runFork(runtime)
    const { socket, secure } = yield* Effect.sync(() => {
      const replay = conn.buffered() > 0
      const socket = conn.detach()
      const transport = replay ? new ReplayedSocket(socket, Buffer.alloc(0)) : socket
      const secure = new tls.TLSSocket(transport, {
        isServer: true,
        secureContext: route.secureContext,
        ALPNProtocols: [...route.alpn]
      })
      secure.on("error", () => secure.destroy())
      secure.once("close", () => socket.destroy())
      return { socket, secure }
    })
    // The runtime's sweeper closes the connection if the handshake is not done in time.
    const handshaken = conn.within(route.handshakeTimeoutMs)
    secure.once("secure", () => {
      handshaken()
      const link = linkOf(emitter, socket, runFork)
      const h2 = route.h2
      if (secure.alpnProtocol === "h2" && h2 !== undefined) {
        const tapped = new ReplayedSocket(secure, Buffer.alloc(0), route.tap(emitter))
        links.during(tapped, link, () => h2.emit("connection", tapped))
      } else if (route.h1 !== undefined) {
        const h1 = route.h1
        links.during(secure, link, () => h1.emit("connection", secure))
      } else secure.destroy()
    })
    yield* untilClosed(socket)
  })

/** The reply line of each parser failure: the status Apache sends (mod_reqtimeout 408, 431, else 400). */
const clientErrorStatus = (err: NodeJS.ErrnoException): readonly [number, string] =>
  err.code === "ERR_HTTP_REQUEST_TIMEOUT"
    ? [408, "Request Timeout"]
    : err.code === "HPE_HEADER_OVERFLOW"
      ? [431, "Request Header Fields Too Large"]
      : [400, "Bad Request"]

/**
 * The HTTP/1.x server of a persona (http on 80, https after TLS). It is fed by serveTcp and never
 * listens itself. Its errors are answered the way Apache answers them, logged as `http_access` (as
 * Apache's access log records its 400/408 lines), and the half-closed socket is destroyed soon
 * after if the client keeps it.
 */
export const makeH1Server = (
  persona: WebPersona,
  config: WebConfig,
  links: ConnectionRegistry,
  runtime: Runtime.Runtime<never>,
  onRequest: http.RequestListener
): http.Server => {
  const runFork = Runtime.runFork(runtime)
  const h1 = http.createServer(
    {
      maxHeaderSize: MAX_HEADER_BYTES,
      headersTimeout: config.header_timeout_ms,
      requestTimeout: REQUEST_TIMEOUT_MS,
      // node sweeps for stalled header blocks on this interval: a slow one is cut within the header
      // timeout plus a quarter of it (2 s at most).
      connectionsCheckingInterval: Math.min(2_000, Math.ceil(config.header_timeout_ms / 4)),
      // Scanners often omit Host; a honeypot wants those requests logged, not 400'd by the parser.
      requireHostHeader: false
    },
    onRequest
  )
  // node only runs its headersTimeout/requestTimeout sweep (the slowloris guard) once the server
  // has emitted `listening`; this server is fed by serveTcp and never listens itself.
  h1.emit("listening")
  h1.on("clientError", (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) {
      socket.destroy()
      return
    }
    const [status, reason] = clientErrorStatus(err)
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\nServer: ${persona.serverHeader}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`
    )
    const link = links.ofStream(socket)
    // Every stream this server is given comes with a link (handOff); without one, nothing would
    // bound the half-closed socket, so it goes at once.
    if (link === undefined) {
      socket.destroy()
      return
    }
    runFork(
      link.emitter.emit({
        _tag: "http_access",
        remote_addr: remoteAddr(link.emitter.peer),
        method: "",
        path: "",
        proto: "h1",
        status,
        bytes: 0
      })
    )
    link.closeSoon()
  })
  return h1
}

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
