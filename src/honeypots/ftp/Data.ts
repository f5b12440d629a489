/**
 * FTP data connections (RFC 959 §3.2–3.3, RFC 2428): a passive listener the client connects to, or
 * an active connection to the address the client named, allowed only back to the control peer
 * itself (no FTP bounce, RFC 2577 §3) and only to an unprivileged port.
 */
import * as net from "node:net"
import { Data, Effect, Option, Random } from "effect"
import { normalizeIp } from "../runtime/index.js"

/** How long we wait for the data connection to be established (either direction). */
export const DATA_CONNECT_TIMEOUT = "15 seconds"

/** Ports tried per PASV/EPSV when a range is configured (each busy one costs one failed bind). */
const MAX_BIND_ATTEMPTS = 64

/** The passive listener could not be bound (address in use across the range, no fds left, …). */
export class PassiveListenError extends Data.TaggedError("PassiveListenError")<{
  readonly host: string
  readonly message: string
  readonly code?: string | undefined
}> {}

/**
 * Open data connections of one control connection. The session drives one transfer at a time, so
 * this is an invariant more than a throttle: a data socket is only accepted or connected while
 * the session holds none, whatever the channel bookkeeping does.
 */
export class DataSlots {
  private open = 0
  constructor(private readonly max = 1) {}
  /** No slot left: do not even start a connection. */
  get full(): boolean {
    return this.open >= this.max
  }
  /** Take a slot for `socket`; it is given back when the socket closes or `release` is called. */
  claim(socket: net.Socket): (() => void) | undefined {
    if (this.open >= this.max) return undefined
    this.open++
    let held = true
    const release = () => {
      if (!held) return
      held = false
      this.open--
    }
    socket.once("close", release)
    return release
  }
}

/**
 * Whether a data socket is already unusable: the client reset it (destroyed) or closed it without
 * sending a byte (`end` can only have been emitted with nothing buffered, since nobody read it).
 * Bytes sent before a FIN stay buffered, so that socket is still good.
 */
export const dataGone = (socket: net.Socket): boolean => socket.destroyed || socket.readableEnded

/** One pending data connection; the session owns it and closes it when replaced, used or gone. */
export interface DataChannel {
  /** Passive: wait for the client's connection. Active: connect to its PORT/EPRT address. */
  readonly open: Effect.Effect<Option.Option<net.Socket>>
  readonly close: Effect.Effect<void>
}

export interface PassiveChannel extends DataChannel {
  readonly port: number
}

export interface PortRange {
  readonly min: number
  readonly max: number
}

/** Ports to try: `0` (the OS picks) without a range, else up to 64 from a random start, wrapping. */
const candidatePorts = (range: PortRange | undefined): Effect.Effect<ReadonlyArray<number>> =>
  range === undefined
    ? Effect.succeed([0])
    : Effect.map(Random.nextIntBetween(0, range.max - range.min + 1), (offset) => {
        const size = range.max - range.min + 1
        return Array.from(
          { length: Math.min(size, MAX_BIND_ATTEMPTS) },
          (_, i) => range.min + ((offset + i) % size)
        )
      })

const errorCode = (e: Error): string | undefined =>
  "code" in e && typeof e.code === "string" ? e.code : undefined

/** Bind `server` once; the error (if any) is the result, so the caller can try the next port. */
const listenOnce = (server: net.Server, host: string, port: number): Effect.Effect<Error | undefined> =>
  Effect.async<Error | undefined>((resume) => {
    const onError = (e: Error) => resume(Effect.succeed(e))
    server.once("error", onError)
    server.listen({ host, port, exclusive: true }, () => {
      server.off("error", onError)
      resume(Effect.succeed(undefined))
    })
  })

/**
 * Listen on the control connection's local address (never 0.0.0.0), accept one data connection,
 * and only from the control connection's peer (no third party can take over the transfer). A
 * listener that cannot be bound fails with `PassiveListenError` (the session answers 425).
 */
export const openPassive = (
  host: string,
  peer: string,
  slots: DataSlots,
  range?: PortRange
): Effect.Effect<PassiveChannel, PassiveListenError> =>
  Effect.suspend(() => {
    const sockets: Array<net.Socket> = []
    const releases: Array<() => void> = []
    const waiters: Array<(s: net.Socket) => void> = []
    const server = net.createServer((s) => {
      s.on("error", () => {})
      const release = normalizeIp(s.remoteAddress) !== peer || sockets.length > 0 ? undefined : slots.claim(s)
      if (release === undefined) {
        s.destroy()
        return
      }
      sockets.push(s)
      releases.push(release)
      for (const w of waiters.splice(0)) w(s)
    })
    // Errors after the bind (EMFILE on accept …) cost this listener its next client, nothing more.
    server.on("error", () => {})
    const close = () => {
      server.close()
      for (const s of sockets) s.destroy()
      for (const r of releases) r()
    }
    return Effect.gen(function* () {
      let failure: Error | undefined
      for (const port of yield* candidatePorts(range)) {
        failure = yield* listenOnce(server, host, port)
        if (failure === undefined) break
        // Only a busy or forbidden port is worth trying the next one; anything else fails them all.
        const code = errorCode(failure)
        if (code !== "EADDRINUSE" && code !== "EACCES") break
      }
      if (failure !== undefined) {
        close()
        return yield* new PassiveListenError({ host, message: failure.message, code: errorCode(failure) })
      }
      const addr = server.address()
      const channel: PassiveChannel = {
        port: typeof addr === "object" && addr !== null ? addr.port : 0,
        open: Effect.async<net.Socket>((wake) => {
          const ready = sockets[0]
          if (ready !== undefined) return wake(Effect.succeed(ready))
          waiters.push((s) => wake(Effect.succeed(s)))
        }).pipe(Effect.timeoutOption(DATA_CONNECT_TIMEOUT)),
        close: Effect.sync(close)
      }
      return channel
    }).pipe(
      // Interrupted before the listener was handed over: do not leak it.
      Effect.onInterrupt(() => Effect.sync(close))
    )
  })

/** Active mode: connect from the control connection's local address to the client's port. */
export const openActive = (
  localAddress: string,
  host: string,
  port: number,
  slots: DataSlots
): DataChannel => {
  let socket: net.Socket | undefined
  let release: (() => void) | undefined
  return {
    open: Effect.async<Option.Option<net.Socket>>((resume) => {
      let settled = false
      if (slots.full) return resume(Effect.succeed(Option.none()))
      const s = net.connect({ host, port, localAddress })
      socket = s
      release = slots.claim(s)
      s.on("error", () => {
        if (!settled) {
          settled = true
          resume(Effect.succeed(Option.none()))
        }
      })
      s.once("connect", () => {
        settled = true
        resume(Effect.succeed(Option.some(s)))
      })
      return Effect.sync(() => s.destroy())
    }).pipe(Effect.timeoutOption(DATA_CONNECT_TIMEOUT), Effect.map(Option.flatten)),
    close: Effect.sync(() => {
      socket?.destroy()
      release?.()
    })
  }
}

export interface ActiveTarget {
  readonly host: string
  readonly port: number
}

/** RFC 959 §4.1.2 `PORT h1,h2,h3,h4,p1,p2`. */
export const parsePort = (arg: string): ActiveTarget | undefined => {
  const parts = arg.trim().split(",")
  if (parts.length !== 6 || !parts.every((p) => /^\d{1,3}$/.test(p))) return undefined
  const n = parts.map(Number)
  if (n.some((x) => x > 255)) return undefined
  return { host: n.slice(0, 4).join("."), port: n[4]! * 256 + n[5]! }
}

/** RFC 2428 §2 `EPRT <d>1<d>192.0.2.1<d>6446<d>` (any printable delimiter; 1 = IPv4, 2 = IPv6). */
export const parseEprt = (arg: string): ActiveTarget | undefined => {
  const t = arg.trim()
  const d = t[0]
  if (d === undefined || d < "!" || d > "~" || /[0-9A-Fa-f.:]/.test(d)) return undefined
  const parts = t.split(d)
  if (parts.length !== 5 || parts[0] !== "" || parts[4] !== "") return undefined
  const [, proto, host = "", portText = ""] = parts
  if (!((proto === "1" && net.isIPv4(host)) || (proto === "2" && net.isIPv6(host)))) return undefined
  if (!/^\d{1,5}$/.test(portText)) return undefined
  const port = Number(portText)
  return port >= 1 && port <= 65535 ? { host, port } : undefined
}

/**
 * Whether we may connect to `target` for a client whose control connection comes from `peer`:
 * the same address (compared as addresses, so `::1` and `0:0::1` agree) and a port ≥ 1024, the
 * rule vsftpd applies without `port_promiscuous`.
 */
export const allowedActiveTarget = (target: ActiveTarget, peer: string): boolean => {
  if (target.port < 1024) return false
  const family = (ip: string) => (net.isIPv6(ip) ? "ipv6" : "ipv4")
  if (!net.isIP(peer) || !net.isIP(target.host) || family(peer) !== family(target.host)) return false
  const list = new net.BlockList()
  list.addAddress(peer, family(peer))
  return list.check(target.host, family(target.host))
}

/** Send `data` on the data socket and close it; resolves once the peer has it (or is gone). */
export const sendData = (socket: net.Socket, data: Buffer): Effect.Effect<boolean> =>
  Effect.async<boolean>((resume) => {
    if (socket.destroyed) return resume(Effect.succeed(false))
    socket.once("close", (hadError) => resume(Effect.succeed(!hadError)))
    socket.end(data)
    return Effect.sync(() => socket.destroy())
  }).pipe(
    Effect.timeoutOption("60 seconds"),
    Effect.map((o) => Option.getOrElse(o, () => false))
  )
