/**
 * The web persona shared by http and https (spec/honeypots.md §3–4): every method and path is
 * answered with a file, the custom body, a fake app page or the 403 page, and every request is
 * logged as one `request` event with any credentials it carried. node:http / node:http2 parse the
 * wire; the harness's serveTcp still owns accept, per-IP limits and idle timeouts.
 */
import { readFile, realpath, stat } from "node:fs/promises"
import * as http from "node:http"
import * as http2 from "node:http2"
import type * as net from "node:net"
import * as path from "node:path"
import { Duplex } from "node:stream"
import * as tls from "node:tls"
import { Effect, Option, Runtime, Schema } from "effect"
import { type Connection, type HoneypotContextService, normalizeIp } from "../runtime/index.js"
import { classifyAuthorization, extractFormCredentials } from "./Credentials.js"
import { SettingsTap } from "./H2Settings.js"
import { ja4h } from "./Ja4h.js"
import { FAKE_APPS, type FakeApp, fakeAppPage, forbiddenPage, serverHeaderCandidates } from "./Pages.js"

/** Bytes of a request body we read; at most `BODY_LOG_BYTES` of them reach the event. */
export const BODY_READ_BYTES = 4096
export const BODY_LOG_BYTES = 512
/** Request header block limit (node's default is 16 KiB; Apache's is 8 KiB per line, 100 lines). */
export const MAX_HEADER_BYTES = 16 * 1024
/** Slowloris guard: the whole header block must arrive within this many ms. */
export const HEADERS_TIMEOUT_MS = 20_000

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
  files: Schema.optional(Schema.String)
} as const

export interface WebConfig {
  readonly server_header?: string | undefined
  readonly response_code?: number | undefined
  readonly fake_app: FakeApp
  readonly extra_headers: Readonly<Record<string, string>>
  readonly custom_body?: string | undefined
  readonly files?: string | undefined
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

export interface Peer {
  readonly address: string
  readonly port: number
}

/**
 * Who is on the other end of a request. node gives the request a socket (h1) or a session (h2);
 * when we replay a peeked preface through a Duplex, neither knows the TCP peer, so handOff records
 * it here against the object the request will carry.
 */
export class PeerRegistry {
  private readonly peers = new WeakMap<object, Peer>()
  private pending: Peer | undefined

  /** Attach to an http2 server: sessions created while a hand-off is in progress inherit its peer. */
  watch(server: {
    on: (event: "session", listener: (session: http2.ServerHttp2Session) => void) => unknown
  }): void {
    server.on("session", (session) => {
      if (this.pending !== undefined) this.peers.set(session, this.pending)
    })
  }

  /** Run `emit` with `peer` registered for `socket` and any session it synchronously creates. */
  during(socket: object, peer: Peer, emit: () => void): void {
    this.peers.set(socket, peer)
    this.pending = peer
    try {
      emit()
    } finally {
      this.pending = undefined
    }
  }

  lookup(req: AnyRequest): Peer {
    const viaSocket = this.peers.get(req.socket)
    if (viaSocket !== undefined) return viaSocket
    const session = "stream" in req ? req.stream.session : undefined
    const viaSession = session === undefined ? undefined : this.peers.get(session)
    if (viaSession !== undefined) return viaSession
    return { address: normalizeIp(req.socket?.remoteAddress), port: req.socket?.remotePort ?? 0 }
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

/** Request headers as a JSON object; pseudo-headers (`:path`, …) of h2 are dropped. */
const headersJson = (req: AnyRequest): string => {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(req.headers)) {
    if (k.startsWith(":")) continue
    const value = headerValue(v)
    if (value !== undefined) out[k] = value
  }
  return JSON.stringify(out)
}

/** `ip:port` as Go's `RemoteAddr` spells it (`[::1]:443` for IPv6), the original's remote_addr. */
const hostPort = (peer: Peer): string =>
  peer.address.includes(":") ? `[${peer.address}]:${peer.port}` : `${peer.address}:${peer.port}`

/** The protocol tag of the original's Caddy module: `h1` for HTTP/1.x, `h2` for h2 and h2c. */
const protoTag = (req: AnyRequest): string => (req.httpVersionMajor >= 2 ? "h2" : "h1")

/** Build the node request listener for one listener of the persona. */
export const makeRequestHandler = (
  ctx: HoneypotContextService,
  runtime: Runtime.Runtime<never>,
  config: WebConfig,
  persona: WebPersona,
  peers: PeerRegistry
) => {
  const runFork = Runtime.runFork(runtime)
  const program = (req: AnyRequest, res: AnyResponse) =>
    Effect.gen(function* () {
      const method = req.method ?? ""
      const urlPath = req.url ?? "/"
      const peer = peers.lookup(req)
      const srcIp = peer.address
      const srcPort = peer.port
      const remoteAddr = hostPort(peer)
      const proto = protoTag(req)
      // Emitted as the header block arrives, before the body is read (the original's listener tap
      // saw the wire before its upstream app did).
      const fp = ja4h({ method, httpVersion: req.httpVersion, rawHeaders: req.rawHeaders })
      yield* ctx.emit(persona.service, "http_request_fingerprint", {
        remote_addr: remoteAddr,
        proto,
        method,
        path: urlPath,
        ja4h: fp.ja4h,
        headers_ordered: JSON.stringify(fp.headersOrdered),
        cookie: fp.cookie,
        accept_language: fp.acceptLanguage,
        src_ip: srcIp,
        src_port: srcPort
      })
      const { body, truncated } = yield* readBody(req)
      const bodyText = body.toString("utf8")
      const creds =
        classifyAuthorization(headerValue(req.headers.authorization)) ??
        extractFormCredentials(bodyText, headerValue(req.headers["content-type"]))
      yield* ctx.emit(persona.service, "request", {
        method,
        path: urlPath,
        remote_addr: srcIp,
        src_ip: srcIp,
        src_port: srcPort,
        headers: headersJson(req),
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
      yield* ctx.emit(persona.service, "http_access", {
        remote_addr: remoteAddr,
        method,
        path: urlPath,
        proto,
        status: res.statusCode,
        bytes: sent,
        src_ip: srcIp,
        src_port: srcPort
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
 * once per connection (spec §3), with the peer as every other event of the persona names it.
 */
export const settingsTap =
  (ctx: HoneypotContextService, runtime: Runtime.Runtime<never>, service: string) =>
  (peer: Peer): ChunkTap => {
    const tap = new SettingsTap()
    return (chunk) => {
      const found = tap.feed(chunk)
      if (found !== undefined)
        Runtime.runFork(runtime)(
          ctx.emit(service, "http2_settings", {
            remote_addr: hostPort(peer),
            settings: JSON.stringify(found.settings),
            frame_order: JSON.stringify(found.frameOrder),
            src_ip: peer.address,
            src_port: peer.port
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
 * serveTcp handler body: hand the accepted socket to a node server and keep the connection fiber
 * alive until the socket closes (so the harness's accounting and shutdown interruption still apply).
 * When bytes were already read (`head`, or buffered before we got here) the server gets a replay.
 */
export const handOff = (
  conn: Connection,
  server: { emit: (event: "connection", socket: unknown) => boolean },
  peers: PeerRegistry,
  head: Buffer = Buffer.alloc(0),
  tap?: (peer: Peer) => ChunkTap
) =>
  Effect.async<void>((resume) => {
    const peer = { address: conn.remoteAddress, port: conn.remotePort }
    const replay = head.length > 0 || conn.buffered() > 0 || tap !== undefined
    const socket = conn.detach()
    socket.once("close", () => resume(Effect.void))
    const handed = replay ? new ReplayedSocket(socket, head, tap?.(peer)) : socket
    peers.during(handed, peer, () => {
      server.emit("connection", handed)
    })
    return Effect.sync(() => socket.destroy())
  })

/** How the https listener terminates TLS and routes by ALPN (see `handOffTls`). */
export interface TlsRoute {
  readonly secureContext: tls.SecureContext
  /** ALPN protocols offered, in preference order (`h2`, `http/1.1`). */
  readonly alpn: ReadonlyArray<string>
  readonly handshakeTimeoutMs: number
  readonly h1: http.Server | undefined
  readonly h2: http2.Http2Server | undefined
  readonly tap: (peer: Peer) => ChunkTap
}

/**
 * serveTcp handler body for https: terminate TLS here, then hand the decrypted stream to the h1 or
 * h2 server by ALPN. node's secure http2 server reads TLS off the native handle, where no tap can
 * see the client's SETTINGS; an h2 session over our replay Duplex can. A client that negotiates
 * nothing we serve is closed, as node's own server does.
 */
export const handOffTls = (conn: Connection, route: TlsRoute, peers: PeerRegistry) =>
  Effect.async<void>((resume) => {
    const peer = { address: conn.remoteAddress, port: conn.remotePort }
    const replay = conn.buffered() > 0
    const socket = conn.detach()
    socket.once("close", () => resume(Effect.void))
    const transport = replay ? new ReplayedSocket(socket, Buffer.alloc(0)) : socket
    const secure = new tls.TLSSocket(transport, {
      isServer: true,
      secureContext: route.secureContext,
      ALPNProtocols: [...route.alpn]
    })
    const handshake = setTimeout(() => secure.destroy(), route.handshakeTimeoutMs)
    secure.on("error", () => secure.destroy())
    secure.once("close", () => {
      clearTimeout(handshake)
      socket.destroy()
    })
    secure.once("secure", () => {
      clearTimeout(handshake)
      const h2 = route.h2
      if (secure.alpnProtocol === "h2" && h2 !== undefined) {
        const tapped = new ReplayedSocket(secure, Buffer.alloc(0), route.tap(peer))
        peers.during(tapped, peer, () => h2.emit("connection", tapped))
      } else if (route.h1 !== undefined) {
        const h1 = route.h1
        peers.during(secure, peer, () => h1.emit("connection", secure))
      } else secure.destroy()
    })
    return Effect.sync(() => socket.destroy())
  })

/**
 * The HTTP/1.x server of a persona (http on 80, https after TLS). It is fed by serveTcp and never
 * listens itself. Its errors are answered the way Apache answers them.
 */
export const makeH1Server = (persona: WebPersona, onRequest: http.RequestListener): http.Server => {
  const h1 = http.createServer(
    {
      maxHeaderSize: MAX_HEADER_BYTES,
      headersTimeout: HEADERS_TIMEOUT_MS,
      requestTimeout: 60_000,
      // Sweep every 2 s so a stalled header block is cut within HEADERS_TIMEOUT_MS + 2 s.
      connectionsCheckingInterval: 2_000,
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
    // The status Apache sends for each failure: mod_reqtimeout 408, oversized headers 431, else 400.
    const status =
      err.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? "408 Request Timeout"
        : err.code === "HPE_HEADER_OVERFLOW"
          ? "431 Request Header Fields Too Large"
          : "400 Bad Request"
    socket.end(
      `HTTP/1.1 ${status}\r\nServer: ${persona.serverHeader}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`
    )
  })
  return h1
}

/** The HTTP/2 server of a persona (h2c on 80, h2 after TLS), with the limits both share. */
export const makeH2Server = (onRequest: (req: AnyRequest, res: AnyResponse) => void, peers: PeerRegistry) => {
  const h2 = http2.createServer(
    { maxSessionMemory: 4, maxHeaderListPairs: 128, maxSendHeaderBlockLength: MAX_HEADER_BYTES },
    onRequest
  )
  h2.on("sessionError", () => {})
  peers.watch(h2)
  return h2
}
