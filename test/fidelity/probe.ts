// The differential harness's client: send one probe on a fresh TCP connection to a loopback address and
// record what a scanner can observe: the reply bytes (until the peer goes quiet), and whether the peer
// then closed, reset, or kept the connection open.
import { createConnection } from "node:net"

export type Ending = "open" | "closed" | "reset"

export interface Observation {
  readonly reply: Buffer
  readonly ending: Ending
}

/** Send `bytes` (after `waitGreeting` ms, so a banner comes first) and read until `quietMs` of silence. */
export const probe = (
  host: string,
  port: number,
  bytes: Buffer,
  quietMs = 300,
  maxMs = 5_000,
  /** The client's source address (a loopback one), for servers that keep state per source IP. */
  localAddress?: string
) =>
  new Promise<Observation>((resolve, reject) => {
    const chunks: Array<Buffer> = []
    let ending: Ending = "open"
    let timer: ReturnType<typeof setTimeout> | undefined
    const s = createConnection(localAddress === undefined ? { host, port } : { host, port, localAddress })
    const finish = () => {
      clearTimeout(timer)
      clearTimeout(hard)
      s.destroy()
      resolve({ reply: Buffer.concat(chunks), ending })
    }
    const quiet = () => {
      clearTimeout(timer)
      timer = setTimeout(finish, quietMs)
    }
    const hard = setTimeout(finish, maxMs)
    s.on("connect", () => {
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
      if (e.code === "ECONNRESET") {
        ending = "reset"
        finish()
      } else if (chunks.length === 0 && ending === "open" && !s.connecting) finish()
      else reject(e)
    })
  })

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
