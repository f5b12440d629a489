// The TLS surface a scanner enumerates (issue 14), as nmap's ssl-enum-ciphers and testssl.sh do: which
// protocol versions a server accepts and, per version, which cipher suites, in the server's order of
// preference (or "client" when it follows the client's); the key-exchange groups it accepts; the size of
// its DHE group; whether it issues session tickets. One handshake per question, with node:tls as the
// client, after the protocol's own STARTTLS exchange where there is one (`upgrades`).
//
// Order: offer every suite, note the one chosen, offer the rest, until the server refuses (what
// ssl-enum-ciphers does); then again with the found suites in reverse. The same sequence twice is the
// server's order; otherwise the server follows the client's, and the suites are listed sorted.
import { execFileSync } from "node:child_process"
import { createConnection, type Socket } from "node:net"
import * as tls from "node:tls"

/** The protocol exchange before the ClientHello; resolves once the server is ready for it. */
export type Upgrade = (socket: Socket) => Promise<void>

export interface VersionSurface {
  readonly version: string
  readonly order: "server" | "client"
  /** IANA names (as nmap prints them), in the server's order (sorted when the order is the client's). */
  readonly suites: ReadonlyArray<string>
}

export interface TlsSurface {
  readonly versions: ReadonlyArray<VersionSurface>
  /** Per version (TLSv1.2, TLSv1.3), the groups a handshake offering only that one group succeeds with. */
  readonly groups: Readonly<Record<string, ReadonlyArray<string>>>
  /** The group the server picks from a client's default offer, per version (server preference shows here). */
  readonly chosenGroup: Readonly<Record<string, string>>
  /** Bits of the DHE group, when a DHE suite is accepted. */
  readonly dhBits: number | undefined
  /**
   * Per version (TLS 1.2, 1.3), what a full handshake leaves for resumption: how many tickets (TLS 1.2: 0
   * or 1), their lifetime hint, and for TLS 1.2 without a ticket the length of the session id.
   */
  readonly resumption: Readonly<Record<string, string>>
}

const VERSIONS = ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"] as const
type Version = (typeof VERSIONS)[number]

/** Every TLS 1.3 suite OpenSSL implements (CCM ones are off by default but can be offered). */
export const TLS13_ALL = [
  "TLS_AES_256_GCM_SHA384",
  "TLS_CHACHA20_POLY1305_SHA256",
  "TLS_AES_128_GCM_SHA256",
  "TLS_AES_128_CCM_SHA256",
  "TLS_AES_128_CCM_8_SHA256"
]

/** Named groups a client can offer alone: the elliptic curves and RFC 7919's finite-field groups. */
const GROUPS = ["X25519", "X448", "P-256", "P-384", "P-521", "ffdhe2048", "ffdhe3072", "ffdhe4096"]

/** Every TLS ≤1.2 suite this OpenSSL knows, by OpenSSL name, in its own order. */
export const tls12Suites = (): Array<string> =>
  execFileSync("openssl", ["ciphers", "ALL:COMPLEMENTOFALL:@SECLEVEL=0"], { encoding: "utf8" })
    .trim()
    .split(":")
    .filter((c) => !c.startsWith("TLS_"))

interface Negotiated {
  readonly protocol: string
  /** OpenSSL's name (what a client offers) and the IANA one. */
  readonly cipher: string
  readonly standardName: string
  readonly group: string
  readonly dhBits: number | undefined
  readonly resumption: string
}

/**
 * One handshake: connect, run the upgrade, offer exactly `options`; what was negotiated, or undefined
 * when the server refused (alert, close, reset, timeout). With `waitTickets`, waits a little after the
 * handshake for TLS 1.3's NewSessionTicket messages.
 */
const handshake = (
  host: string,
  port: number,
  upgrade: Upgrade | undefined,
  options: tls.ConnectionOptions,
  waitTickets = false
): Promise<Negotiated | undefined> =>
  new Promise((resolve) => {
    const raw = createConnection({ host, port })
    let settled = false
    let secure: tls.TLSSocket | undefined
    const done = (result: Negotiated | undefined) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      secure?.destroy()
      raw.destroy()
      resolve(result)
    }
    const timer = setTimeout(() => done(undefined), 8_000)
    raw.once("error", () => done(undefined))
    raw.once("connect", () => {
      const ready = upgrade === undefined ? Promise.resolve() : upgrade(raw)
      ready.then(
        () => {
          if (settled) return
          let tickets = 0
          let lastSession: Buffer | undefined
          const s = tls.connect({ socket: raw, rejectUnauthorized: false, ...options })
          secure = s
          s.on("session", (session: Buffer) => {
            tickets += 1
            lastSession = session
          })
          s.once("error", () => done(undefined))
          s.once("secureConnect", () => {
            const cipher = s.getCipher()
            const key = s.getEphemeralKeyInfo()
            const group =
              key !== null && "name" in key && typeof key.name === "string"
                ? key.name
                : key !== null && "type" in key && key.type === "DH"
                  ? `DH ${String(key.size)}`
                  : "none"
            const dhBits =
              key !== null && "type" in key && key.type === "DH" && "size" in key
                ? Number(key.size)
                : undefined
            const finish = () => {
              const tls13 = s.getProtocol() === "TLSv1.3"
              const session = sessionFields(tls13 ? lastSession : s.getSession())
              const count = tls13 ? tickets : s.getTLSTicket() === undefined ? 0 : 1
              done({
                protocol: s.getProtocol() ?? "?",
                cipher: cipher.name,
                standardName: cipher.standardName,
                group,
                dhBits,
                resumption:
                  count > 0
                    ? `${count} ticket(s), lifetime hint ${session.lifetimeHint ?? "none"} s`
                    : `no ticket${tls13 ? "" : `, session id of ${session.idLength} bytes`}`
              })
            }
            if (waitTickets) setTimeout(finish, 300)
            else finish()
          })
        },
        () => done(undefined)
      )
    })
  })

/**
 * From an OpenSSL SSL_SESSION (DER, ssl/ssl_asn1.c): the session id's length (4th field) and the
 * ticket lifetime hint ([9]).
 */
const sessionFields = (der: Buffer | undefined): { idLength: number; lifetimeHint: number | undefined } => {
  const tlv = (at: number) => {
    const first = der?.[at + 1] ?? 0
    const lengthBytes = first & 0x80 ? first & 0x7f : 0
    let length = lengthBytes === 0 ? first : 0
    for (let i = 0; i < lengthBytes; i++) length = length * 256 + (der?.[at + 2 + i] ?? 0)
    const start = at + 2 + lengthBytes
    return { tag: der?.[at] ?? 0, start, end: start + length }
  }
  if (der === undefined || der.length < 2) return { idLength: 0, lifetimeHint: undefined }
  const outer = tlv(0)
  let at = outer.start
  let index = 0
  let idLength = 0
  let lifetimeHint: number | undefined
  while (at < outer.end) {
    const field = tlv(at)
    if (index === 3) idLength = field.end - field.start
    if (field.tag === 0xa9) {
      const inner = tlv(field.start)
      lifetimeHint = der.subarray(inner.start, inner.end).reduce((n, b) => n * 256 + b, 0)
    }
    at = field.end
    index += 1
  }
  return { idLength, lifetimeHint }
}

const only = (version: Version): tls.ConnectionOptions => ({ minVersion: version, maxVersion: version })

/** The suites offered for a version, as a node:tls `ciphers` string. */
const cipherString = (version: Version, suites: ReadonlyArray<string>): string =>
  version === "TLSv1.3" ? suites.join(":") : `${suites.join(":")}:@SECLEVEL=0`

/**
 * Offer `suites`, take the chosen one out, offer the rest, until refused: the chosen ones, in order
 * (OpenSSL names; `iana` learns their IANA names).
 */
const chosenSequence = async (
  host: string,
  port: number,
  upgrade: Upgrade | undefined,
  version: Version,
  suites: ReadonlyArray<string>,
  iana: Map<string, string>
): Promise<Array<string>> => {
  const left = [...suites]
  const picked: Array<string> = []
  while (left.length > 0) {
    const n = await handshake(host, port, upgrade, { ...only(version), ciphers: cipherString(version, left) })
    if (n === undefined || !left.includes(n.cipher)) break
    iana.set(n.cipher, n.standardName)
    picked.push(n.cipher)
    left.splice(left.indexOf(n.cipher), 1)
  }
  return picked
}

/** Scan one TLS endpoint (after `upgrade`, when given). */
export const scanTls = async (host: string, port: number, upgrade?: Upgrade): Promise<TlsSurface> => {
  const all12 = tls12Suites()
  const versions: Array<VersionSurface> = []
  const groups: Record<string, ReadonlyArray<string>> = {}
  const chosenGroup: Record<string, string> = {}
  const resumption: Record<string, string> = {}
  let dhBits: number | undefined
  const iana = new Map<string, string>()
  for (const version of VERSIONS) {
    const offer = version === "TLSv1.3" ? TLS13_ALL : all12
    const first = await chosenSequence(host, port, upgrade, version, offer, iana)
    if (first.length === 0) continue
    const second = await chosenSequence(host, port, upgrade, version, [...first].reverse(), iana)
    const serverOrder = first.join(":") === second.join(":")
    const names = first.map((c) => iana.get(c) ?? c)
    versions.push({
      version,
      order: serverOrder ? "server" : "client",
      suites: serverOrder ? names : names.sort()
    })
    if (version === "TLSv1.2" || version === "TLSv1.3") {
      const accepted: Array<string> = []
      for (const group of GROUPS) {
        const n = await handshake(host, port, upgrade, {
          ...only(version),
          ciphers: cipherString(version, offer),
          ecdhCurve: group
        })
        // A TLS 1.2 handshake can fall back to a DHE or RSA suite: only one on this group counts there.
        if (n !== undefined && (version === "TLSv1.3" || (n.group !== "none" && !n.group.startsWith("DH "))))
          accepted.push(group)
      }
      groups[version] = accepted
      const plain = await handshake(host, port, upgrade, only(version), true)
      if (plain !== undefined) {
        chosenGroup[version] = plain.group
        resumption[version] = plain.resumption
      }
    }
    const dhe = first.find((c) => c.startsWith("DHE-") || c.startsWith("EDH-"))
    if (dhBits === undefined && dhe !== undefined) {
      const n = await handshake(host, port, upgrade, {
        ...only(version),
        ciphers: cipherString(version, [dhe])
      })
      dhBits = n?.dhBits
    }
  }
  return { versions, groups, chosenGroup, dhBits, resumption }
}

/** The surface as named facts ("TLSv1.2 suites" → "server order, 14: …"), the unit of comparison. */
export const surfaceFacts = (s: TlsSurface): Map<string, string> =>
  new Map([
    ["versions", s.versions.map((v) => v.version).join(" ")],
    ...s.versions.map((v): [string, string] => [
      `${v.version} suites`,
      `${v.order} order, ${v.suites.length}: ${v.suites.join(" ")}`
    ]),
    ...Object.entries(s.groups).map(([v, g]): [string, string] => [`${v} groups`, g.join(" ")]),
    ...Object.entries(s.chosenGroup).map(([v, g]): [string, string] => [`${v} group chosen`, g]),
    ["DHE", s.dhBits === undefined ? "none" : `${s.dhBits} bits`],
    ...Object.entries(s.resumption).map(([v, r]): [string, string] => [`${v} resumption`, r])
  ])

/** The surface as text lines, for a test's message and for the docs. */
export const describeSurface = (s: TlsSurface): Array<string> =>
  [...surfaceFacts(s)].map(([fact, value]) => `${fact}: ${value}`)

/**
 * The facts where two surfaces differ, except those accepted (probe name `tls <fact>`), one line each
 * with both values.
 */
export const surfaceDifferences = (
  real: TlsSurface,
  fake: TlsSurface,
  accepted: ReadonlyArray<{ readonly probe: string }>,
  realName: string
): Array<string> => {
  const [a, b] = [surfaceFacts(real), surfaceFacts(fake)]
  const ok = new Set(accepted.map((x) => x.probe))
  return [...new Set([...a.keys(), ...b.keys()])]
    .filter((fact) => a.get(fact) !== b.get(fact) && !ok.has(`tls ${fact}`))
    .map(
      (fact) => `${fact}\n  ${realName}: ${a.get(fact) ?? "(none)"}\n  emulator: ${b.get(fact) ?? "(none)"}`
    )
}

/** IANA names of the TLS ≤ 1.2 suites this OpenSSL can offer (`openssl ciphers -stdname`). */
export const offerableSuites = (): Set<string> =>
  new Set(
    execFileSync("openssl", ["ciphers", "-stdname", "ALL:COMPLEMENTOFALL:@SECLEVEL=0"], { encoding: "utf8" })
      .trim()
      .split("\n")
      .map((line) => line.split(" - ")[0]?.trim() ?? "")
  )

/** Read from a plain socket until `complete` holds on what came so far; rejects on close or timeout. */
const readUntil = (socket: Socket, complete: (text: string) => boolean, ms = 5_000): Promise<string> =>
  new Promise((resolve, reject) => {
    let text = ""
    const cleanup = () => {
      clearTimeout(timer)
      socket.off("data", onData)
      socket.off("close", onClose)
    }
    const onData = (d: Buffer) => {
      text += d.toString("latin1")
      if (complete(text)) {
        cleanup()
        socket.pause()
        resolve(text)
      }
    }
    const onClose = () => {
      cleanup()
      reject(new Error(`closed after ${JSON.stringify(text)}`))
    }
    const timer = setTimeout(() => {
      cleanup()
      reject(new Error(`no answer after ${JSON.stringify(text)}`))
    }, ms)
    socket.on("data", onData)
    socket.once("close", onClose)
    socket.resume()
  })

/** The last line of a multi-line SMTP reply (`250 ` after any `250-`). */
const smtpDone = (code: string) => (t: string) => new RegExp(`(^|\\r\\n)${code} [^\\r\\n]*\\r\\n$`).test(t)

const send = (socket: Socket, text: string | Buffer) => {
  socket.write(text)
}

/** STARTTLS per protocol, as nmap's sslcert.lua does it. */
export const upgrades = {
  smtp: async (s: Socket) => {
    await readUntil(s, smtpDone("220"))
    send(s, "EHLO scanner.example\r\n")
    await readUntil(s, smtpDone("250"))
    send(s, "STARTTLS\r\n")
    const go = await readUntil(s, smtpDone("\\d{3}"))
    if (!go.startsWith("220")) throw new Error(`STARTTLS refused: ${go}`)
  },
  imap: async (s: Socket) => {
    await readUntil(s, (t) => t.endsWith("\r\n"))
    send(s, "a STARTTLS\r\n")
    const go = await readUntil(s, (t) => /(^|\r\n)a [^\r\n]*\r\n$/.test(t))
    if (!go.includes("a OK")) throw new Error(`STARTTLS refused: ${go}`)
  },
  pop3: async (s: Socket) => {
    await readUntil(s, (t) => t.endsWith("\r\n"))
    send(s, "STLS\r\n")
    const go = await readUntil(s, (t) => t.endsWith("\r\n"))
    if (!go.startsWith("+OK")) throw new Error(`STLS refused: ${go}`)
  },
  /** PostgreSQL's SSLRequest (protocol 1234.5679): 'S' and then TLS. */
  postgres: async (s: Socket) => {
    send(s, Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]))
    const go = await readUntil(s, (t) => t.length >= 1)
    if (go !== "S") throw new Error(`SSLRequest refused: ${JSON.stringify(go)}`)
  },
  /** MySQL: the greeting, then an SSLRequest packet (sequence 1) with CLIENT_SSL, as nmap's sslcert.lua. */
  mysql: async (s: Socket) => {
    await readUntil(s, (t) => t.length >= 4 && t.length >= 4 + Buffer.from(t, "latin1").readUIntLE(0, 3))
    const body = Buffer.alloc(32)
    // CLIENT_LONG_PASSWORD | LONG_FLAG | LOCAL_FILES | PROTOCOL_41 | INTERACTIVE | SSL | TRANSACTIONS | SECURE_CONNECTION
    body.writeUInt32LE(0x1 | 0x4 | 0x80 | 0x200 | 0x400 | 0x800 | 0x2000 | 0x8000, 0)
    body.writeUInt32LE(16 * 1024 * 1024, 4)
    body[8] = 8
    const header = Buffer.from([body.length, 0, 0, 1])
    send(s, Buffer.concat([header, body]))
  },
  /** RDP: an X.224 Connection Request asking for PROTOCOL_SSL, the Connection Confirm, then TLS. */
  rdp: async (s: Socket) => {
    const neg = Buffer.from([0x01, 0x00, 0x08, 0x00, 0x01, 0x00, 0x00, 0x00])
    const x224 = Buffer.concat([Buffer.from([6 + neg.length, 0xe0, 0, 0, 0, 0, 0]), neg])
    const tpkt = Buffer.from([3, 0, 0, 4 + x224.length])
    send(s, Buffer.concat([tpkt, x224]))
    const cc = await readUntil(
      s,
      (t) => t.length >= 4 && t.length >= Buffer.from(t, "latin1").readUInt16BE(2)
    )
    const bytes = Buffer.from(cc, "latin1")
    // RDP_NEG_RSP (type 2) selecting PROTOCOL_SSL (1).
    if (bytes[11] !== 0x02 || bytes.readUInt32LE(15) !== 1)
      throw new Error(`no TLS: ${bytes.toString("hex")}`)
  }
} satisfies Record<string, Upgrade>
