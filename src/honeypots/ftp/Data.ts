/**
 * FTP data connections (RFC 959 §3.2–3.3, RFC 2428): a passive listener the client connects to, or
 * an active connection to the address the client named, allowed only back to the control peer
 * itself (no FTP bounce, RFC 2577 §3) and only to an unprivileged port.
 */
import * as net from "node:net"
import { Effect, Option } from "effect"
import { normalizeIp } from "../runtime/index.js"

/** How long we wait for the data connection to be established (either direction). */
export const DATA_CONNECT_TIMEOUT = "15 seconds"

/** One pending data connection; the session owns it and closes it when replaced, used or gone. */
export interface DataChannel {
  /** Passive: wait for the client's connection. Active: connect to its PORT/EPRT address. */
  readonly open: Effect.Effect<Option.Option<net.Socket>>
  readonly close: Effect.Effect<void>
}

export interface PassiveChannel extends DataChannel {
  readonly port: number
}

/**
 * Listen on the control connection's local address (never 0.0.0.0), accept one data connection,
 * and only from the control connection's peer (no third party can take over the transfer).
 */
export const openPassive = (host: string, peer: string): Effect.Effect<PassiveChannel> =>
  Effect.async<PassiveChannel>((resume) => {
    const sockets: Array<net.Socket> = []
    const waiters: Array<(s: net.Socket) => void> = []
    const server = net.createServer((s) => {
      s.on("error", () => {})
      if (normalizeIp(s.remoteAddress) !== peer || sockets.length > 0) {
        s.destroy()
        return
      }
      sockets.push(s)
      for (const w of waiters.splice(0)) w(s)
    })
    const close = () => {
      server.close()
      for (const s of sockets) s.destroy()
    }
    server.on("error", () => {})
    server.listen({ host, port: 0, exclusive: true }, () => {
      const addr = server.address()
      resume(
        Effect.succeed({
          port: typeof addr === "object" && addr !== null ? addr.port : 0,
          open: Effect.async<net.Socket>((wake) => {
            const ready = sockets[0]
            if (ready !== undefined) return wake(Effect.succeed(ready))
            waiters.push((s) => wake(Effect.succeed(s)))
          }).pipe(Effect.timeoutOption(DATA_CONNECT_TIMEOUT)),
          close: Effect.sync(close)
        })
      )
    })
    // Interrupted before the listener was handed over: do not leak it.
    return Effect.sync(close)
  })

/** Active mode: connect from the control connection's local address to the client's port. */
export const openActive = (localAddress: string, host: string, port: number): DataChannel => {
  let socket: net.Socket | undefined
  return {
    open: Effect.async<Option.Option<net.Socket>>((resume) => {
      let settled = false
      const s = net.connect({ host, port, localAddress })
      socket = s
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
    close: Effect.sync(() => socket?.destroy())
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
