/**
 * HTTP/1.x (and 0.9) as Debian's Apache speaks it (issue 14), on a plain or TLS stream: blank lines
 * before a request skipped, Strict request-line and header checks with Apache's limits and error
 * pages, HTTP/0.9 answered with a bare body, keep-alive as KeepAlive On / KeepAliveTimeout 5 /
 * MaxKeepAliveRequests 100, the header deadline of mod_reqtimeout (408 once part of a request came,
 * a silent close when nothing did), and a lingering close after the last response. node:http is not
 * used: its parser refuses, and answers differently, much of what Apache accepts.
 */
import type { Duplex } from "node:stream"
import { Clock, Effect, Fiber, Option, Runtime, type Scope } from "effect"
import {
  type BadRequestNote,
  dropsConnection,
  KEEPALIVE_TIMEOUT_S,
  LIMIT_FIELD_SIZE,
  LIMIT_FIELDS,
  LIMIT_REQUEST_LINE,
  MAX_KEEPALIVE_REQUESTS,
  parseHeaderLine,
  parseHost,
  parseRequestLine,
  parseTarget,
  reasonOf,
  type Signature
} from "./Apache.js"
import { dateHeader, errorResponse, type SiteRequest, type SiteResponse } from "./Site.js"

/** Bytes of a request body kept for the event; the rest is read and dropped up to BODY_DRAIN_BYTES. */
export const BODY_DRAIN_BYTES = 1024 * 1024

type Line = { readonly _tag: "Line"; readonly text: string; readonly bareLf: boolean }
type LineResult = Line | { readonly _tag: "TooLong" } | { readonly _tag: "Closed" }
const TOO_LONG: LineResult = { _tag: "TooLong" }
const CLOSED: LineResult = { _tag: "Closed" }

interface Deadline {
  readonly at: number
  fire: (() => void) | undefined
  prev: Deadline | undefined
  next: Deadline | undefined
}

/**
 * Deadlines of one length on the Clock, fired by one fiber that sleeps until the earliest: as they
 * all have the same length they come due in the order they were set, so a list in that order is
 * enough. A cancelled one leaves the list at once (young garbage, never promoted by a 20 s wait).
 */
class DeadlineQueue {
  private head: Deadline | undefined
  private tail: Deadline | undefined
  private running = false
  fiber: Fiber.RuntimeFiber<void> | undefined

  constructor(
    private readonly ms: number,
    private readonly now: () => number,
    private readonly runFork: (effect: Effect.Effect<void>) => Fiber.RuntimeFiber<void>
  ) {}

  add(fire: () => void): Deadline {
    const d: Deadline = { at: this.now() + this.ms, fire, prev: this.tail, next: undefined }
    if (this.tail === undefined) this.head = d
    else this.tail.next = d
    this.tail = d
    if (!this.running) {
      this.running = true
      this.fiber = this.runFork(this.loop)
    }
    return d
  }

  /** Take `d` out (fired or cancelled); a second call does nothing. */
  remove(d: Deadline): void {
    if (d.fire === undefined) return
    d.fire = undefined
    if (d.prev === undefined) this.head = d.next
    else d.prev.next = d.next
    if (d.next === undefined) this.tail = d.prev
    else d.next.prev = d.prev
    d.prev = undefined
    d.next = undefined
  }

  private readonly loop: Effect.Effect<void> = Effect.suspend(() => {
    for (;;) {
      const d = this.head
      if (d === undefined) {
        this.running = false
        return Effect.void
      }
      const wait = d.at - this.now()
      if (wait > 0) return Effect.zipRight(Effect.sleep(wait), this.loop)
      const fire = d.fire
      this.remove(d)
      fire?.()
    }
  })
}

/**
 * A listener's deadlines (header, keep-alive, linger) on Effect's Clock: one sleeping fiber per
 * length instead of a timer fiber, or a race, per connection.
 */
export class Deadlines {
  private readonly queues = new Map<number, DeadlineQueue>()

  constructor(
    private readonly now: () => number,
    private readonly runFork: (effect: Effect.Effect<void>) => Fiber.RuntimeFiber<void>
  ) {}

  /** Stop the queues' fibers. */
  readonly stop: Effect.Effect<void> = Effect.suspend(() =>
    Fiber.interruptAll([...this.queues.values()].flatMap((q) => (q.fiber === undefined ? [] : [q.fiber])))
  )

  /** Clock millis now. */
  at(): number {
    return this.now()
  }

  /** Call `fire` `ms` from now unless the returned function is called first. */
  after(ms: number, fire: () => void): () => void {
    let q = this.queues.get(ms)
    if (q === undefined) {
      q = new DeadlineQueue(ms, this.now, this.runFork)
      this.queues.set(ms, q)
    }
    const d = q.add(fire)
    return () => q.remove(d)
  }
}

/** A listener's deadlines, for the scope's life (the listener's); their fibers stop with it. */
export const makeDeadlines: Effect.Effect<Deadlines, never, Scope.Scope> = Effect.gen(function* () {
  const clock = yield* Effect.clock
  const runtime = yield* Effect.runtime<never>()
  const d = new Deadlines(() => clock.unsafeCurrentTimeMillis(), Runtime.runFork(runtime))
  yield* Effect.addFinalizer(() => d.stop)
  return d
})

/** What a wait with a deadline saw. */
export type Awaited = "data" | "ended" | "timeout"

/**
 * A byte reader over a stream (a socket, a TLS socket, a replay): lines and counted reads as Effects,
 * the stream paused while more than `highWater` bytes wait unread, writes that wait for `drain`.
 */
export class Wire {
  private chunks: Array<Buffer> = []
  private length = 0
  private ended = false
  private waiter: (() => void) | undefined
  /** Bytes received so far (for "did part of a request arrive?"). */
  received = 0
  private readonly highWater = 64 * 1024

  constructor(
    readonly stream: Duplex,
    head: Buffer
  ) {
    if (head.length > 0) this.push(head)
    stream.on("data", (chunk: Buffer) => this.push(chunk))
    const end = () => {
      this.ended = true
      this.notify()
    }
    stream.on("end", end)
    stream.on("close", end)
    stream.on("error", end)
  }

  private push(chunk: Buffer): void {
    this.chunks.push(chunk)
    this.length += chunk.length
    this.received += chunk.length
    if (this.length > this.highWater) this.stream.pause()
    this.notify()
  }

  private notify(): void {
    const w = this.waiter
    this.waiter = undefined
    w?.()
  }

  private flat(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks)]
    return this.chunks[0] ?? Buffer.alloc(0)
  }

  private take(n: number): Buffer {
    const all = this.flat()
    const out = all.subarray(0, n)
    const rest = all.subarray(n)
    this.chunks = rest.length > 0 ? [rest] : []
    this.length = rest.length
    if (this.length <= this.highWater && this.stream.isPaused()) this.stream.resume()
    return out
  }

  private waitFor(ready: () => boolean): Effect.Effect<void> {
    return Effect.async<void>((resume) => {
      const check = () => {
        if (this.ended || ready()) resume(Effect.void)
        else {
          this.waiter = check
          if (this.length <= this.highWater) this.stream.resume()
        }
      }
      check()
      return Effect.sync(() => {
        this.waiter = undefined
      })
    })
  }

  /**
   * Some byte is buffered (`data`), the stream ended with nothing buffered (`ended`), or `ms` passed
   * first (`timeout`).
   */
  awaitData(deadlines: Deadlines, ms: number): Effect.Effect<Awaited> {
    return Effect.suspend(() => {
      if (this.length > 0) return Effect.succeed("data")
      if (this.ended) return Effect.succeed("ended")
      return Effect.async<Awaited>((resume) => {
        const cancel = deadlines.after(ms, () => {
          this.waiter = undefined
          resume(Effect.succeed("timeout"))
        })
        this.waiter = () => {
          cancel()
          resume(Effect.succeed(this.length > 0 ? "data" : "ended"))
        }
        this.stream.resume()
        return Effect.sync(() => {
          cancel()
          this.waiter = undefined
        })
      })
    })
  }

  /** Resolves once the stream has closed, or `ms` later. */
  awaitClosed(deadlines: Deadlines, ms: number): Effect.Effect<void> {
    return Effect.async<void>((resume) => {
      const s = this.stream
      if (s.destroyed) return resume(Effect.void)
      const done = () => {
        cancel()
        resume(Effect.void)
      }
      const cancel = deadlines.after(ms, () => {
        s.off("close", done)
        resume(Effect.void)
      })
      s.once("close", done)
      return Effect.sync(() => {
        cancel()
        s.off("close", done)
      })
    })
  }

  /** Everything buffered, not consumed. */
  snapshot(): Buffer {
    return this.flat()
  }

  /** Consume `n` buffered bytes. */
  consume(n: number): void {
    this.take(n)
  }

  /** A line already buffered, its absence (`undefined`), or why none can come. */
  private lineNow(max: number): LineResult | undefined {
    const nl = this.flat()
      .subarray(0, max + 1)
      .indexOf(0x0a)
    if (nl < 0) return this.length > max ? TOO_LONG : this.ended ? CLOSED : undefined
    const raw = this.take(nl + 1)
    const crlf = nl > 0 && raw[nl - 1] === 0x0d
    return { _tag: "Line", text: raw.toString("latin1", 0, crlf ? nl - 1 : nl), bareLf: !crlf }
  }

  /** A line (CRLF or bare LF stripped, noted), at most `max` bytes before its LF. */
  readLine(max: number): Effect.Effect<LineResult> {
    return Effect.suspend(() => {
      const now = this.lineNow(max)
      if (now !== undefined) return Effect.succeed(now)
      return Effect.map(
        this.waitFor(
          () =>
            this.length > max ||
            this.flat()
              .subarray(0, max + 1)
              .indexOf(0x0a) >= 0
        ),
        () => this.lineNow(max) ?? CLOSED
      )
    })
  }

  /**
   * A whole request head is buffered (a blank line after something other than blank lines), so
   * reading it cannot wait on the client.
   */
  hasHead(): boolean {
    const buf = this.flat()
    let i = 0
    while (i < buf.length && (buf[i] === 0x0d || buf[i] === 0x0a)) i++
    return i < buf.length && buf.indexOf("\r\n\r\n", i) >= 0
  }

  /** Up to `n` bytes (fewer only if the stream ended). */
  readBytes(n: number): Effect.Effect<Buffer> {
    return Effect.suspend(() =>
      this.length >= n
        ? Effect.succeed(this.take(n))
        : Effect.map(
            this.waitFor(() => this.length >= n),
            () => this.take(Math.min(n, this.length))
          )
    )
  }

  write(data: Buffer): Effect.Effect<void> {
    return Effect.suspend(() => {
      const s = this.stream
      if (s.destroyed || !s.writable || s.write(data)) return Effect.void
      return this.drained
    })
  }

  private get drained(): Effect.Effect<void> {
    return Effect.async<void>((resume) => {
      const s = this.stream
      if (s.destroyed || !s.writable || !s.writableNeedDrain) return resume(Effect.void)
      const done = () => {
        s.off("drain", done)
        s.off("close", done)
        resume(Effect.void)
      }
      s.on("drain", done)
      s.on("close", done)
    })
  }

  /** The peer has sent its FIN (or the stream is gone). */
  peerEnded(): boolean {
    return this.ended
  }

  /** Flush and half-close (FIN). */
  readonly end: Effect.Effect<void> = Effect.sync(() => {
    if (!this.stream.destroyed) this.stream.end()
  })
}

/** A request as the engine parsed it, before its body. */
export interface H1Request {
  readonly method: string
  readonly target: string
  /** `0.9`, `1.0`, `1.1`. */
  readonly version: string
  /** Header names and values as sent, alternating (node's `rawHeaders` shape, for JA4H). */
  readonly rawHeaders: ReadonlyArray<string>
  /** Lower-case names; repeated fields joined with `, `. */
  readonly headers: Readonly<Record<string, string>>
  readonly site: SiteRequest
}

/** What the engine needs of the persona. */
export interface H1Handler {
  readonly serverHeader: string
  readonly hostname: string
  readonly defaultPort: number
  readonly headerTimeoutMs: number
  readonly lingerMs: number
  /** The listener's deadlines (header, keep-alive, linger). */
  readonly deadlines: Deadlines
  readonly extraHeaders: ReadonlyArray<readonly [string, string]>
  /** mod_http2's `Upgrade` offer on 2xx answers (`h2` over TLS, `h2c` in clear), if h2 is served. */
  readonly upgrade: string | undefined
  /** The TLS server name the client sent: mod_ssl then refuses a request without Host (400). */
  readonly sni: string | undefined
  /** A request whose head parsed: log it, read its body with `readBody`, answer it. */
  readonly onRequest: (
    req: H1Request,
    readBody: Effect.Effect<{
      readonly body: Buffer
      readonly truncated: boolean
      readonly complete: boolean
    }>
  ) => Effect.Effect<SiteResponse>
  /** An error reply the engine sent before a request reached `onRequest` (Apache logs those too). */
  readonly onError: (status: number, method: string, path: string, bytes: number) => Effect.Effect<void>
  /** After a response was written. */
  readonly onAccess: (req: H1Request, status: number, bytes: number) => Effect.Effect<void>
}

type Head =
  | { readonly _tag: "Request"; readonly req: H1Request; readonly minor: 0 | 1 | 9 }
  | {
      readonly _tag: "Error"
      readonly status: number
      readonly note: BadRequestNote
      readonly method: string
      readonly path: string
      readonly head: boolean
      /** An HTTP/0.9 request's error: the page alone, no status line or headers. */
      readonly bare: boolean
    }
  | { readonly _tag: "Closed" }

const serverSig = (h: H1Handler): Signature => ({
  serverHeader: h.serverHeader,
  host: h.hostname,
  port: h.defaultPort
})

const bad = (
  status: number,
  note: BadRequestNote = "none",
  method = "",
  path = "",
  head = false,
  bare = false
): Head => ({ _tag: "Error", status, note, method, path, head, bare })

/** The request line's verdict: a final answer, or an HTTP/1 request whose header lines come next. */
type AfterRequestLine =
  | { readonly _tag: "Done"; readonly head: Head }
  | { readonly _tag: "Fields"; readonly method: string; readonly target: string; readonly minor: 0 | 1 }

/** A request line (blank lines before it already skipped) as Apache takes it. */
const requestLineStep = (line: LineResult, h: H1Handler): AfterRequestLine => {
  const done = (head: Head): AfterRequestLine => ({ _tag: "Done", head })
  if (line._tag === "Closed") return done({ _tag: "Closed" })
  if (line._tag === "TooLong") return done(bad(414))
  if (line.bareLf) return done(bad(400))
  const parsed = parseRequestLine(line.text)
  if (parsed._tag === "Bad") return done(bad(400))
  const { method, target } = parsed
  if (parsed._tag === "Http1") return { _tag: "Fields", method, target, minor: parsed.minor }
  if (method !== "GET") return done(bad(400, "none", method, target, method === "HEAD"))
  const t = parseTarget(target)
  const site: SiteRequest = {
    method,
    path: t._tag === "Path" ? t.path : undefined,
    headers: {},
    head: false,
    sig: serverSig(h)
  }
  if (t._tag === "Bad" || t._tag === "Asterisk") return done(bad(400, "none", method, target, false, true))
  if (t._tag === "NotFound") return done(bad(404, "none", method, target, false, true))
  // mod_ssl: a server name came by SNI, no Host can match it.
  if (h.sni !== undefined) return done(bad(400, "none", method, target, false, true))
  return done({
    _tag: "Request",
    minor: 9,
    req: { method, target, version: "0.9", rawHeaders: [], headers: {}, site }
  })
}

/** The header fields read so far. */
interface Fields {
  readonly method: string
  readonly target: string
  readonly minor: 0 | 1
  readonly rawHeaders: Array<string>
  readonly headers: Record<string, string>
  count: number
}

/** One header line: `undefined` to read on, `End` at the blank line, or a final answer. */
const fieldStep = (f: Fields, l: LineResult): Head | "End" | undefined => {
  if (l._tag === "Closed") return { _tag: "Closed" }
  if (l._tag === "TooLong") return bad(400, "field_size", f.method, f.target)
  if (l.bareLf) return bad(400, "none", f.method, f.target)
  if (l.text === "") return "End"
  if (f.count >= LIMIT_FIELDS) return bad(400, "field_count", f.method, f.target)
  f.count++
  const field = parseHeaderLine(l.text)
  if (field === undefined) return bad(400, "none", f.method, f.target)
  f.rawHeaders.push(field.name, field.value)
  const key = field.name.toLowerCase()
  const prev = f.headers[key]
  f.headers[key] = prev === undefined ? field.value : `${prev}, ${field.value}`
  return undefined
}

/** The whole head read: Host, framing and target checks, as Apache makes them. */
const finishHead = (f: Fields, h: H1Handler): Head => {
  const { method, target, headers } = f
  const head = method === "HEAD"
  const hostValue = headers.host
  const host = hostValue === undefined ? undefined : parseHost(hostValue)
  if ((f.minor === 1 && hostValue === undefined) || (hostValue !== undefined && host === undefined))
    return bad(400, "none", method, target, head)
  const cl = headers["content-length"]
  if (cl !== undefined && !/^\d{1,15}$/.test(cl)) return bad(400, "none", method, target, head)
  const te = headers["transfer-encoding"]
  if (te !== undefined && te.toLowerCase() !== "chunked") return bad(400, "none", method, target, head)
  const t = parseTarget(target, method)
  if (t._tag === "Bad" || (t._tag === "Asterisk" && method !== "OPTIONS"))
    return bad(400, "none", method, target, head)
  const sigHost = t._tag === "Path" && t.host !== undefined ? { host: t.host, port: t.port } : host
  // mod_ssl: a server name came by SNI and the request names no host to check it against.
  if (h.sni !== undefined && sigHost === undefined) return bad(400, "none", method, target, head)
  const sig: Signature = {
    serverHeader: h.serverHeader,
    host: sigHost === undefined || sigHost.host === "" ? h.hostname : sigHost.host,
    port: sigHost?.port ?? h.defaultPort
  }
  if (t._tag === "NotFound") return bad(404, "none", method, target, head)
  const site: SiteRequest = { method, path: t._tag === "Path" ? t.path : undefined, headers, head, sig }
  return {
    _tag: "Request",
    minor: f.minor,
    req: { method, target, version: `1.${f.minor}`, rawHeaders: f.rawHeaders, headers, site }
  }
}

const fieldsOf = (r: {
  readonly method: string
  readonly target: string
  readonly minor: 0 | 1
}): Fields => ({
  method: r.method,
  target: r.target,
  minor: r.minor,
  rawHeaders: [],
  headers: {},
  count: 0
})

/** A request head read line by line as it arrives (the slow path: a head that came in pieces). */
const readHead = (wire: Wire, h: H1Handler): Effect.Effect<Head> =>
  Effect.gen(function* () {
    let line: LineResult
    // Apache skips empty lines before a request line.
    for (;;) {
      line = yield* wire.readLine(LIMIT_REQUEST_LINE + 1)
      if (line._tag !== "Line" || line.text !== "") break
    }
    const first = requestLineStep(line, h)
    if (first._tag === "Done") return first.head
    const f = fieldsOf(first)
    for (;;) {
      const step = fieldStep(f, yield* wire.readLine(LIMIT_FIELD_SIZE + 1))
      if (step === "End") return finishHead(f, h)
      if (step !== undefined) return step
    }
  })

/** The line at `pos` of `buf` as `Wire.readLine(max)` would return it, or `undefined` if not all there. */
const lineAt = (
  buf: Buffer,
  pos: number,
  max: number,
  ended: boolean
): { readonly line: LineResult; readonly next: number } | undefined => {
  const limit = Math.min(buf.length, pos + max + 1)
  const nl = buf.indexOf(0x0a, pos)
  if (nl < 0 || nl >= limit) {
    if (buf.length - pos > max) return { line: TOO_LONG, next: pos }
    return ended ? { line: CLOSED, next: pos } : undefined
  }
  const crlf = nl > pos && buf[nl - 1] === 0x0d
  return {
    line: { _tag: "Line", text: buf.toString("latin1", pos, crlf ? nl - 1 : nl), bareLf: !crlf },
    next: nl + 1
  }
}

/**
 * A request head parsed in one synchronous pass over what is buffered (the common case: it came
 * whole). `undefined` if it is not all there; then nothing was consumed.
 */
const headNow = (wire: Wire, h: H1Handler): Head | undefined => {
  const buf = wire.snapshot()
  const ended = wire.peerEnded()
  let pos = 0
  let at = lineAt(buf, pos, LIMIT_REQUEST_LINE + 1, ended)
  while (at !== undefined && at.line._tag === "Line" && at.line.text === "") {
    pos = at.next
    at = lineAt(buf, pos, LIMIT_REQUEST_LINE + 1, ended)
  }
  if (at === undefined) return undefined
  pos = at.next
  const first = requestLineStep(at.line, h)
  if (first._tag === "Done") {
    wire.consume(pos)
    return first.head
  }
  const f = fieldsOf(first)
  for (;;) {
    const l = lineAt(buf, pos, LIMIT_FIELD_SIZE + 1, ended)
    if (l === undefined) return undefined
    pos = l.next
    const step = fieldStep(f, l.line)
    if (step !== undefined) {
      wire.consume(pos)
      return step === "End" ? finishHead(f, h) : step
    }
  }
}

/** Read a request body (Content-Length or chunked): the first `keep` bytes kept, the rest dropped. */
const readBody = (wire: Wire, headers: Readonly<Record<string, string>>, keep: number) =>
  Effect.gen(function* () {
    const kept: Array<Buffer> = []
    let size = 0
    const take = (b: Buffer) => {
      if (size < keep) kept.push(b.subarray(0, keep - size))
      size += b.length
    }
    let complete = true
    if (headers["transfer-encoding"] !== undefined) {
      for (;;) {
        const l = yield* wire.readLine(1024)
        if (l._tag !== "Line") {
          complete = false
          break
        }
        const n = Number.parseInt(l.text.split(";")[0] ?? "", 16)
        if (!Number.isFinite(n) || n < 0 || size + n > BODY_DRAIN_BYTES) {
          complete = false
          break
        }
        if (n === 0) {
          // Trailers, up to the blank line.
          for (;;) {
            const t = yield* wire.readLine(LIMIT_FIELD_SIZE + 1)
            if (t._tag !== "Line" || t.text === "") break
          }
          break
        }
        const chunk = yield* wire.readBytes(n)
        take(chunk)
        yield* wire.readLine(2)
        if (chunk.length < n) {
          complete = false
          break
        }
      }
    } else {
      let left = Number(headers["content-length"] ?? "0")
      if (left > BODY_DRAIN_BYTES) complete = false
      while (left > 0 && size < BODY_DRAIN_BYTES) {
        const chunk = yield* wire.readBytes(Math.min(left, 64 * 1024))
        if (chunk.length === 0) {
          complete = false
          break
        }
        take(chunk)
        left -= chunk.length
      }
    }
    return { body: Buffer.concat(kept), truncated: size > keep, complete }
  })

/** A request without Content-Length or Transfer-Encoding has no body. */
const NO_BODY = Effect.succeed({ body: Buffer.alloc(0), truncated: false, complete: true })

const wantsKeepAlive = (minor: 0 | 1, headers: Readonly<Record<string, string>>) => {
  const tokens = (headers.connection ?? "")
    .toLowerCase()
    .split(",")
    .map((t) => t.trim())
  if (tokens.includes("close")) return false
  return minor === 1 || tokens.includes("keep-alive")
}

/** The status line and headers, in Apache's order, then the body: one buffer, one write. */
const responseHead = (
  h: H1Handler,
  res: SiteResponse,
  now: number,
  connection: ReadonlyArray<readonly [string, string]>,
  upgrade: string | undefined = undefined
): Buffer => {
  let text = `HTTP/1.1 ${res.status} ${reasonOf(res.status)}\r\nDate: ${dateHeader(now)}\r\nServer: ${h.serverHeader}\r\n`
  if (upgrade !== undefined) {
    // mod_http2's offer merges into one Connection header, right after it.
    let merged = "Upgrade"
    for (const [k, v] of connection) if (k === "Connection") merged += `, ${v}`
    text += `Upgrade: ${upgrade}\r\nConnection: ${merged}\r\n`
  }
  for (const [k, v] of h.extraHeaders) text += `${k}: ${v}\r\n`
  for (const [k, v] of res.headers) text += `${k}: ${v}\r\n`
  for (const [k, v] of connection) if (upgrade === undefined || k !== "Connection") text += `${k}: ${v}\r\n`
  if (res.contentType !== undefined) text += `Content-Type: ${res.contentType}\r\n`
  text += "\r\n"
  const out = Buffer.allocUnsafe(text.length + res.body.length)
  out.write(text, 0, "latin1")
  res.body.copy(out, text.length)
  return out
}

/** A whole error reply (status line, headers, page) closing the connection, as Apache writes it. */
export const errorReply = (
  h: H1Handler,
  status: number,
  now: number,
  note: BadRequestNote,
  port: number
): Buffer => {
  const res = errorResponse(
    status,
    { method: "", path: "/", headers: {}, head: false, sig: { ...serverSig(h), port } },
    note
  )
  return responseHead(h, res, now, [["Connection", "close"]])
}

/** Half-close, then drop the socket `lingerMs` later if the client keeps its side open. */
const closeLingering = (wire: Wire, h: H1Handler) =>
  Effect.gen(function* () {
    yield* wire.end
    // The client usually closes at once: wait for that, at most lingerMs (one timer, no race).
    if (!wire.peerEnded()) yield* wire.awaitClosed(h.deadlines, h.lingerMs)
    wire.stream.destroy()
  })

/** Serve one connection until it closes. */
export const serveH1 = (wire: Wire, h: H1Handler, keepBytes: number): Effect.Effect<void> =>
  Effect.gen(function* () {
    for (let served = 0; ; served++) {
      const before = wire.received
      const start = h.deadlines.at()
      // Between requests the keep-alive timeout runs; before the first, the header deadline does.
      const first = yield* wire.awaitData(
        h.deadlines,
        served > 0 ? KEEPALIVE_TIMEOUT_S * 1000 : h.headerTimeoutMs
      )
      if (first !== "data") return yield* closeLingering(wire, h)
      // The common case: the whole head is here, parsed in one pass. Else it is read as it comes,
      // within what is left of the header deadline.
      const whole = wire.hasHead() ? headNow(wire, h) : undefined
      const head =
        whole !== undefined
          ? Option.some(whole)
          : yield* Effect.timeoutOption(
              readHead(wire, h),
              Math.max(1, h.headerTimeoutMs - (served > 0 ? 0 : h.deadlines.at() - start))
            )
      const now = yield* Clock.currentTimeMillis
      if (Option.isNone(head)) {
        // mod_reqtimeout: 408 once part of a request came, else a silent close.
        if (wire.received === before) return yield* closeLingering(wire, h)
        const res = errorResponse(408, { method: "", path: "/", headers: {}, head: false, sig: serverSig(h) })
        yield* wire.write(responseHead(h, res, now, [["Connection", "close"]]))
        yield* h.onError(408, "", "", res.body.length)
        return yield* closeLingering(wire, h)
      }
      const v = head.value
      if (v._tag === "Closed") return yield* closeLingering(wire, h)
      if (v._tag === "Error") {
        const res = errorResponse(
          v.status,
          { method: v.method, path: "/", headers: {}, head: v.head, sig: serverSig(h) },
          v.note
        )
        yield* wire.write(v.bare ? res.body : responseHead(h, res, now, [["Connection", "close"]]))
        yield* h.onError(v.status, v.method, v.path, res.body.length)
        return yield* closeLingering(wire, h)
      }
      const { req, minor } = v
      let bodyComplete = true
      const body =
        req.headers["content-length"] === undefined && req.headers["transfer-encoding"] === undefined
          ? NO_BODY
          : readBody(wire, req.headers, keepBytes).pipe(
              Effect.tap((b) =>
                Effect.sync(() => {
                  bodyComplete = b.complete
                })
              )
            )
      const res = yield* h.onRequest(req, body)
      if (minor === 9) {
        yield* wire.write(res.body)
        yield* h.onAccess(req, res.status, res.body.length)
        return yield* closeLingering(wire, h)
      }
      const last = served + 1 >= MAX_KEEPALIVE_REQUESTS
      const keep = wantsKeepAlive(minor, req.headers) && !dropsConnection(res.status) && !last && bodyComplete
      const asked = (req.headers.connection ?? "").toLowerCase().includes("keep-alive")
      const connection: ReadonlyArray<readonly [string, string]> = !keep
        ? [["Connection", "close"]]
        : asked
          ? [
              ["Keep-Alive", `timeout=${KEEPALIVE_TIMEOUT_S}, max=${MAX_KEEPALIVE_REQUESTS - served}`],
              ["Connection", "Keep-Alive"]
            ]
          : []
      const upgrade =
        h.upgrade !== undefined && res.status >= 200 && res.status < 300 && req.headers.upgrade === undefined
          ? h.upgrade
          : undefined
      yield* wire.write(responseHead(h, res, now, connection, upgrade))
      yield* h.onAccess(req, res.status, res.body.length)
      if (!keep) return yield* closeLingering(wire, h)
    }
  })
