// The differential harness's client: send one probe on a fresh TCP (or TLS) connection to a loopback
// address and record what a scanner can observe: the reply bytes (until the peer goes quiet), and whether
// the peer then closed, reset, or kept the connection open.
import { createConnection } from "node:net"
import * as tls from "node:tls"
import { type Proc, waitUntil } from "../support/proc.js"

export type Ending = "open" | "closed" | "reset"

export interface Observation {
  readonly reply: Buffer
  readonly ending: Ending
}

export interface ObserveOptions {
  /** Milliseconds of silence that end the reply (with `steps`: that send the next one). */
  readonly quietMs: number
  /** The longest the whole observation may take. */
  readonly maxMs: number
  /** The client's source address (a loopback one), for servers that keep state per source IP. */
  readonly localAddress?: string | undefined
  /** Connect with TLS (these settings) and send once the handshake is done. */
  readonly tls?: tls.ConnectionOptions
  /** More to send, each once the reply to what came before has gone quiet (a client that waits). */
  readonly steps?: ReadonlyArray<Buffer>
  /**
   * What an error other than a reset does: "reject" the observation (the default); "quiet": the same, but
   * an established connection on which nothing came yet ends as it stands; "closed": end it as closed.
   */
  readonly errors?: "reject" | "quiet" | "closed"
}

/** Send `bytes` once connected, then each of `steps` after a quiet spell; read until `quietMs` of silence. */
export const observe = (host: string, port: number, bytes: Buffer, options: ObserveOptions) =>
  new Promise<Observation>((resolve, reject) => {
    const chunks: Array<Buffer> = []
    let ending: Ending = "open"
    let timer: ReturnType<typeof setTimeout> | undefined
    let next = 0
    const localAddress = options.localAddress
    const s =
      options.tls !== undefined
        ? tls.connect({ ...options.tls, host, port })
        : createConnection(localAddress === undefined ? { host, port } : { host, port, localAddress })
    const finish = () => {
      clearTimeout(timer)
      clearTimeout(hard)
      s.destroy()
      resolve({ reply: Buffer.concat(chunks), ending })
    }
    const quiet = () => {
      clearTimeout(timer)
      timer = setTimeout(() => {
        const step = options.steps?.[next++]
        if (step === undefined) return finish()
        s.write(step)
        quiet()
      }, options.quietMs)
    }
    const hard = setTimeout(finish, options.maxMs)
    s.on(options.tls !== undefined ? "secureConnect" : "connect", () => {
      if (bytes.length > 0) s.write(bytes)
      quiet()
    })
    s.on("data", (d: Buffer) => {
      chunks.push(d)
      quiet()
    })
    s.on("end", () => {
      ending = "closed"
      finish()
    })
    s.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "ECONNRESET" || options.errors === "closed") {
        ending = e.code === "ECONNRESET" ? "reset" : "closed"
        finish()
      } else if (options.errors === "quiet" && chunks.length === 0 && ending === "open" && !s.connecting)
        finish()
      else reject(e)
    })
  })

/** Send `bytes`, read until `quietMs` of silence (an error where nothing came yet ends it as it stands). */
export const probe = (
  host: string,
  port: number,
  bytes: Buffer,
  quietMs = 300,
  maxMs = 5_000,
  /** The client's source address (a loopback one), for servers that keep state per source IP. */
  localAddress?: string
) => observe(host, port, bytes, { quietMs, maxMs, localAddress, errors: "quiet" })

/** Whether something accepts TCP connections on host:port (a TLS listener says nothing first). */
export const listening = (host: string, port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = createConnection({ host, port })
    s.once("connect", () => {
      s.destroy()
      resolve(true)
    })
    s.once("error", () => resolve(false))
  })

/**
 * Wait until the emulators `fakes` answer: each of `asks` (a probe) gets a reply `ok` accepts (by default,
 * any bytes), polled for `timeoutMs` at most; otherwise throw with what the emulators printed.
 */
export const untilAnswered = async (
  fakes: ReadonlyArray<Proc>,
  asks: ReadonlyArray<() => Promise<Observation>>,
  options: { readonly ok?: (o: Observation) => boolean; readonly timeoutMs?: number } = {}
): Promise<void> => {
  const ok = options.ok ?? ((o: Observation) => o.reply.length > 0)
  const up = await waitUntil(async () => {
    const all = await Promise.all(asks.map((ask) => ask().catch(() => undefined)))
    return all.every((o) => o !== undefined && ok(o))
  }, options.timeoutMs ?? 30_000)
  if (!up)
    throw new Error(
      `the emulator${fakes.length > 1 ? "s" : ""} did not answer:\n${fakes.map((f) => f.stderr()).join("\n")}`
    )
}

/** The probes of `nmap-service-probes` (TCP) whose `ports` line names `port`, with the NULL probe. */
export const nmapProbes = (text: string, port: number): Array<{ name: string; bytes: Buffer }> => {
  const out: Array<{ name: string; bytes: Buffer }> = []
  let current: { name: string; bytes: Buffer; ports: boolean } | undefined
  const flush = () => {
    if (current !== undefined && (current.ports || current.name === "NULL"))
      out.push({ name: current.name, bytes: current.bytes })
  }
  for (const line of text.split("\n")) {
    const m = /^Probe TCP (\S+) q\|(.*)\|/.exec(line)
    if (m !== null) {
      flush()
      current = { name: m[1] ?? "", bytes: unescapeProbe(m[2] ?? ""), ports: false }
      continue
    }
    const p = /^(?:ports|sslports) (.*)$/.exec(line)
    if (p !== null && current !== undefined && inPorts(p[1] ?? "", port)) current.ports = true
  }
  flush()
  return out
}

const inPorts = (list: string, port: number) =>
  list.split(",").some((part) => {
    const [a = "", b] = part.trim().split("-")
    return b === undefined ? Number(a) === port : port >= Number(a) && port <= Number(b)
  })

/** nmap's probe string escapes: \r \n \t \0 \xHH \\ and the rest literal. */
const unescapeProbe = (s: string): Buffer => {
  const bytes: Array<number> = []
  for (let i = 0; i < s.length; i++) {
    const c = s[i] ?? ""
    if (c !== "\\") {
      bytes.push(c.charCodeAt(0) & 0xff)
      continue
    }
    const n = s[++i] ?? ""
    if (n === "x") {
      bytes.push(Number.parseInt(s.slice(i + 1, i + 3), 16))
      i += 2
    } else bytes.push(n === "r" ? 13 : n === "n" ? 10 : n === "t" ? 9 : n === "0" ? 0 : n.charCodeAt(0))
  }
  return Buffer.from(bytes)
}
