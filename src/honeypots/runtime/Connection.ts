/**
 * A bounded, Effect-friendly view of one TCP (or TLS) connection. Emulators read it like the
 * protocol's RFC: `yield* conn.readLine()`, `yield* conn.readBytes(4)`. Every buffer is bounded:
 * a line or frame past the limit fails with `LimitExceeded` and the harness closes the socket.
 */
import type * as net from "node:net"
import * as tls from "node:tls"
import { Data, Effect } from "effect"

export class ConnectionClosed extends Data.TaggedError("ConnectionClosed")<{ readonly reason: string }> {}
export class LimitExceeded extends Data.TaggedError("LimitExceeded")<{
  readonly limit: string
  readonly max: number
}> {}
export class ProtocolViolation extends Data.TaggedError("ProtocolViolation")<{ readonly reason: string }> {}
export type ConnectionError = ConnectionClosed | LimitExceeded | ProtocolViolation

/** Strip the IPv4-mapped IPv6 prefix so events carry `1.2.3.4`, not `::ffff:1.2.3.4`. */
export const normalizeIp = (ip: string | undefined): string =>
  ip === undefined ? "" : ip.startsWith("::ffff:") && ip.includes(".") ? ip.slice(7) : ip

interface Waiter {
  readonly check: () => boolean
  readonly wake: () => void
}

/** Buffers incoming bytes; pauses the socket when the buffer passes its bound. */
class ByteBuffer {
  private chunks: Array<Buffer> = []
  length = 0
  ended: string | undefined
  private waiter: Waiter | undefined
  private stream: net.Socket | tls.TLSSocket
  private readonly highWater: number

  constructor(stream: net.Socket | tls.TLSSocket, highWater: number) {
    this.stream = stream
    this.highWater = highWater
    this.attach(stream)
  }

  private readonly onData = (chunk: Buffer) => {
    this.chunks.push(chunk)
    this.length += chunk.length
    if (this.length > this.highWater) this.stream.pause()
    this.notify()
  }
  private readonly onEnd = () => this.close("peer closed the connection")
  private readonly onError = (e: Error) => this.close(`socket error: ${e.message}`)

  attach(stream: net.Socket | tls.TLSSocket): void {
    this.stream = stream
    stream.on("data", this.onData)
    stream.on("end", this.onEnd)
    stream.on("close", this.onEnd)
    stream.on("error", this.onError)
  }

  detach(): void {
    this.stream.off("data", this.onData)
    this.stream.off("end", this.onEnd)
    this.stream.off("close", this.onEnd)
    this.stream.off("error", this.onError)
  }

  close(reason: string): void {
    if (this.ended === undefined) this.ended = reason
    this.notify()
  }

  private notify(): void {
    const w = this.waiter
    if (w?.check()) {
      this.waiter = undefined
      w.wake()
    }
  }

  /** Wait until `ready()` holds or the stream ends. */
  waitFor(ready: () => boolean): Effect.Effect<void> {
    return Effect.async<void>((resume) => {
      const check = () => ready() || this.ended !== undefined
      if (check()) return resume(Effect.void)
      this.waiter = { check, wake: () => resume(Effect.void) }
      return Effect.sync(() => {
        this.waiter = undefined
      })
    })
  }

  indexOf(byte: number, limit: number): number {
    let offset = 0
    for (const c of this.chunks) {
      const scan = Math.min(c.length, limit - offset)
      const i = c.subarray(0, scan).indexOf(byte)
      if (i >= 0) return offset + i
      offset += c.length
      if (offset >= limit) break
    }
    return -1
  }

  take(n: number): Buffer {
    const out = Buffer.allocUnsafe(n)
    let filled = 0
    while (filled < n) {
      const c = this.chunks[0]!
      const need = n - filled
      if (c.length <= need) {
        c.copy(out, filled)
        filled += c.length
        this.chunks.shift()
      } else {
        c.copy(out, filled, 0, need)
        this.chunks[0] = c.subarray(need)
        filled += need
      }
    }
    this.length -= n
    if (this.length <= this.highWater && this.stream.isPaused()) this.stream.resume()
    return out
  }
}

/** Why the runtime closed a connection itself (the `connection_closed` event's `reason`). */
export const CLOSE_REASONS = ["login_grace", "session_limit", "idle", "write_backlog", "handshake"] as const
export type CloseReason = (typeof CLOSE_REASONS)[number]

export interface Connection {
  /** Per listener, from 1: this instance's count, never shared with another decky. */
  readonly id: number
  readonly remoteAddress: string
  readonly remotePort: number
  readonly localAddress: string
  readonly localPort: number
  /** The current underlying socket (a TLSSocket after `startTls`). */
  readonly socket: () => net.Socket | tls.TLSSocket
  readonly isTls: () => boolean
  /**
   * Queue a reply. Past the high-water mark of unsent bytes this waits until the client has read
   * them (the handler then stops reading too, so input backs up into the client's TCP window); past
   * the backlog cap the client is not reading at all and the connection closes (`write_backlog`).
   */
  readonly write: (data: string | Uint8Array) => Effect.Effect<void>
  /** Flush and half-close. */
  readonly end: (data?: string | Uint8Array) => Effect.Effect<void>
  /** Read up to LF; strips a trailing CRLF/LF. Fails with LimitExceeded past `max` bytes. */
  readonly readLine: (max?: number) => Effect.Effect<string, ConnectionError>
  /** Read exactly `n` bytes. */
  readonly readBytes: (n: number) => Effect.Effect<Buffer, ConnectionError>
  /** Read whatever is buffered (at least one byte), at most `max`. */
  readonly readChunk: (max?: number) => Effect.Effect<Buffer, ConnectionError>
  /** Bytes already buffered and not yet read. */
  readonly buffered: () => number
  /** Upgrade to TLS in place (STARTTLS, implicit-TLS listeners). */
  readonly startTls: (context: tls.SecureContext) => Effect.Effect<void, ConnectionClosed>
  /**
   * Stop buffering and hand the socket to another server (node:http, a TLS server): unread bytes
   * are pushed back into the socket. Call it and attach the new owner in the same tick.
   */
  readonly detach: () => net.Socket | tls.TLSSocket
  /**
   * The client logged in: from now on the session cap applies instead of the pre-login grace. Call
   * it where the service accepts credentials (or at once, when the service has no login).
   */
  readonly loggedIn: () => void
  /** When `loggedIn` was first called (Clock millis), or undefined. */
  readonly loggedInAt: () => number | undefined
  /**
   * A protocol stage that must finish within `ms` (a TLS handshake): past it the runtime closes the
   * connection (`handshake`). The returned function marks the stage done.
   */
  readonly within: (ms: number) => () => void
  /** The open stage's deadline (Clock millis), if any. */
  readonly stageDeadline: () => number | undefined
  /** Close the connection on the runtime's behalf (the first reason given is the one kept). */
  readonly cut: (reason: CloseReason) => void
  readonly cutReason: () => CloseReason | undefined
  /** Bytes moved so far in both directions (activity, for the idle deadline). */
  readonly traffic: () => number
  /** Reply bytes queued and not yet handed to the kernel. */
  readonly queuedBytes: () => number
}

export interface ConnectionOptions {
  readonly id: number
  readonly maxLineBytes: number
  readonly maxFrameBytes: number
  readonly writeHighWaterBytes: number
  readonly maxWriteBacklogBytes: number
  /** The runtime's clock (Effect's Clock, so TestClock drives the deadlines). */
  readonly now: () => number
  /** Told when the backlog cap closes this connection (the listener counts them). */
  readonly onCut?: ((reason: CloseReason) => void) | undefined
}

export const makeConnection = (raw: net.Socket, options: ConnectionOptions): Connection => {
  let socket: net.Socket | tls.TLSSocket = raw
  let secure = false
  let loggedInAt: number | undefined
  let stageDeadline: number | undefined
  let cutReason: CloseReason | undefined
  const buffer = new ByteBuffer(raw, Math.max(options.maxFrameBytes, options.maxLineBytes) + 64 * 1024)
  const closed = () => new ConnectionClosed({ reason: buffer.ended ?? "closed" })

  const cut = (reason: CloseReason) => {
    if (cutReason === undefined) {
      cutReason = reason
      options.onCut?.(reason)
    }
    buffer.close(`closed by the server (${reason})`)
    raw.destroy()
    if (socket !== raw) socket.destroy()
  }

  /** Resolves once the queue is back under the mark, or the socket is gone. */
  const drained = Effect.async<void>((resume) => {
    const s = socket
    const done = () => {
      s.off("drain", done)
      s.off("close", done)
      resume(Effect.void)
    }
    s.on("drain", done)
    s.on("close", done)
    return Effect.sync(() => {
      s.off("drain", done)
      s.off("close", done)
    })
  })

  const write = (data: string | Uint8Array) =>
    Effect.suspend(() => {
      if (socket.destroyed || !socket.writable) return Effect.void
      socket.write(data)
      const queued = socket.writableLength
      if (queued > options.maxWriteBacklogBytes) {
        cut("write_backlog")
        return Effect.void
      }
      return queued > options.writeHighWaterBytes ? drained : Effect.void
    })

  const readLine = (max = options.maxLineBytes): Effect.Effect<string, ConnectionError> =>
    Effect.gen(function* () {
      yield* buffer.waitFor(() => buffer.indexOf(0x0a, max + 1) >= 0 || buffer.length > max)
      const nl = buffer.indexOf(0x0a, max + 1)
      if (nl < 0) {
        if (buffer.length > max) return yield* new LimitExceeded({ limit: "line", max })
        return yield* closed()
      }
      const line = buffer.take(nl + 1)
      const end = line.length >= 2 && line[line.length - 2] === 0x0d ? line.length - 2 : line.length - 1
      return line.toString("utf8", 0, end)
    })

  const readBytes = (n: number): Effect.Effect<Buffer, ConnectionError> =>
    n > options.maxFrameBytes
      ? Effect.fail(new LimitExceeded({ limit: "frame", max: options.maxFrameBytes }))
      : Effect.gen(function* () {
          yield* buffer.waitFor(() => buffer.length >= n)
          if (buffer.length < n) return yield* closed()
          return buffer.take(n)
        })

  const readChunk = (max = options.maxFrameBytes): Effect.Effect<Buffer, ConnectionError> =>
    Effect.gen(function* () {
      yield* buffer.waitFor(() => buffer.length > 0)
      if (buffer.length === 0) return yield* closed()
      return buffer.take(Math.min(max, buffer.length))
    })

  const startTls = (context: tls.SecureContext): Effect.Effect<void, ConnectionClosed> =>
    Effect.suspend(() => {
      if (buffer.ended !== undefined) return Effect.fail(closed())
      // Bytes read but not consumed belong to the TLS layer, never to the application: for implicit
      // TLS they are the ClientHello; after STARTTLS they are plaintext pipelined behind the command
      // (CVE-2011-0411-style injection), which the handshake then rejects. TLSSocket replays a
      // socket's readable buffer into the TLS engine, so push them back there.
      const unread = buffer.length > 0 ? buffer.take(buffer.length) : undefined
      buffer.detach()
      if (unread !== undefined) {
        socket.pause()
        socket.unshift(unread)
      }
      const tlsSocket = new tls.TLSSocket(socket, { isServer: true, secureContext: context })
      socket = tlsSocket
      secure = true
      buffer.attach(tlsSocket)
      return Effect.void
    })

  return {
    id: options.id,
    remoteAddress: normalizeIp(raw.remoteAddress),
    remotePort: raw.remotePort ?? 0,
    localAddress: normalizeIp(raw.localAddress),
    localPort: raw.localPort ?? 0,
    socket: () => socket,
    isTls: () => secure,
    write,
    end: (data) =>
      Effect.sync(() => {
        if (!socket.destroyed) {
          if (data === undefined) socket.end()
          else socket.end(data)
        }
      }),
    readLine,
    readBytes,
    readChunk,
    buffered: () => buffer.length,
    startTls,
    loggedIn: () => {
      if (loggedInAt !== undefined) return
      loggedInAt = options.now()
    },
    loggedInAt: () => loggedInAt,
    within: (ms) => {
      const at = options.now() + ms
      stageDeadline = at
      return () => {
        if (stageDeadline === at) stageDeadline = undefined
      }
    },
    stageDeadline: () => stageDeadline,
    cut,
    cutReason: () => cutReason,
    traffic: () =>
      raw.bytesRead + raw.bytesWritten + (socket === raw ? 0 : socket.bytesRead + socket.bytesWritten),
    queuedBytes: () => socket.writableLength + (socket === raw ? 0 : raw.writableLength),
    detach: () => {
      const unread = buffer.length > 0 ? buffer.take(buffer.length) : undefined
      buffer.detach()
      if (unread !== undefined) socket.unshift(unread)
      if (socket.isPaused()) socket.resume()
      return socket
    }
  }
}
