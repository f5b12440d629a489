/**
 * The kernel's TCP socket tables as `/proc/<pid>/net/tcp` and `tcp6` print them (proc(5), net/ipv4/tcp_ipv4.c
 * `get_tcp4_sock`): per line `sl local_address rem_address st …`, each address `HEXIP:HEXPORT` with the IP
 * in the kernel's byte order (little-endian 32-bit words on the hosts DECNET runs on). Read from the host,
 * the file of a decky's process shows its own network namespace: the tarpit's view of who is connected.
 */

/** `st` of an established connection (include/net/tcp_states.h, TCP_ESTABLISHED = 1). */
const ESTABLISHED = "01"

export interface TcpSocket {
  readonly localPort: number
  readonly remoteIp: string
  readonly remotePort: number
  /** The state as the table prints it (two hex digits). */
  readonly state: string
}

/** One little-endian 32-bit word (8 hex digits) → its four bytes in address order. */
const wordBytes = (hex: string): ReadonlyArray<number> => {
  const n = Number.parseInt(hex, 16)
  return [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255]
}

/** An IPv6 address's 16 bytes as text; an IPv4-mapped one (`::ffff:a.b.c.d`) as its IPv4 address. */
const ipv6Text = (bytes: ReadonlyArray<number>): string => {
  const mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 255 && bytes[11] === 255
  if (mapped) return bytes.slice(12).join(".")
  const groups = Array.from({ length: 8 }, (_, i) =>
    (((bytes[2 * i] ?? 0) << 8) | (bytes[2 * i + 1] ?? 0)).toString(16)
  )
  // The longest run of two or more zero groups becomes `::` (RFC 5952 §4.2).
  let best = { at: -1, len: 0 }
  for (let i = 0; i < 8; ) {
    if (groups[i] !== "0") {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === "0") j++
    if (j - i > best.len && j - i >= 2) best = { at: i, len: j - i }
    i = j
  }
  if (best.at < 0) return groups.join(":")
  return `${groups.slice(0, best.at).join(":")}::${groups.slice(best.at + best.len).join(":")}`
}

/** `0100007F:0016` (tcp) or 32 hex digits + port (tcp6) → address and port; undefined when malformed. */
const parseEndpoint = (text: string): { readonly ip: string; readonly port: number } | undefined => {
  const m = /^([0-9A-Fa-f]{8}|[0-9A-Fa-f]{32}):([0-9A-Fa-f]{4})$/.exec(text)
  if (m === null || m[1] === undefined || m[2] === undefined) return undefined
  const hex = m[1]
  const port = Number.parseInt(m[2], 16)
  if (hex.length === 8) return { ip: wordBytes(hex).join("."), port }
  const bytes = [0, 8, 16, 24].flatMap((at) => wordBytes(hex.slice(at, at + 8)))
  return { ip: ipv6Text(bytes), port }
}

/** Every socket of one table (the header line and malformed lines are skipped). */
export const parseTcpTable = (text: string): ReadonlyArray<TcpSocket> =>
  text.split("\n").flatMap((line) => {
    const [, local, remote, state] = line.trim().split(/\s+/)
    if (local === undefined || remote === undefined || state === undefined) return []
    const l = parseEndpoint(local)
    const r = parseEndpoint(remote)
    return l === undefined || r === undefined
      ? []
      : [{ localPort: l.port, remoteIp: r.ip, remotePort: r.port, state: state.toUpperCase() }]
  })

/** A peer held on a tarpitted port: the `active_connections` item, and the watcher's (ip, port). */
export interface TarpitPeer {
  readonly ip: string
  readonly port: number
}

/** The distinct (peer address, local port) of the established connections to one of `ports`. */
export const establishedPeers = (
  sockets: ReadonlyArray<TcpSocket>,
  ports: ReadonlyArray<number>
): ReadonlyArray<TarpitPeer> => {
  const seen = new Map<string, TarpitPeer>()
  for (const s of sockets)
    if (s.state === ESTABLISHED && ports.includes(s.localPort))
      seen.set(`${s.remoteIp} ${s.localPort}`, { ip: s.remoteIp, port: s.localPort })
  return [...seen.values()].sort((a, b) => (a.ip === b.ip ? a.port - b.port : a.ip < b.ip ? -1 : 1))
}
