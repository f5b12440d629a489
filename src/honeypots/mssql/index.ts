/**
 * mssql (spec/honeypots.md §17): Microsoft SQL Server over TDS. PRELOGIN gets SQL Server's reply
 * layout with a seeded release and ENCRYPT_NOT_SUP (so clients log in in the clear), LOGIN7 is decoded (the password obfuscation is
 * reversible), logged, and refused with error 18456 like a real server.
 */
import { Effect, Either, Schema } from "effect"
import {
  type Connection,
  type ConnectionError,
  defineHoneypot,
  type Emitter,
  encodeSecret,
  HoneypotContext,
  ProtocolViolation,
  serveTcp
} from "../runtime/index.js"
import { type MssqlEvent, mssqlEvents } from "./Events.js"

export const MssqlConfig = Schema.Struct({})

/**
 * Seeded releases (spec §17): [label, major, minor, build, subbuild]. nmap names 2016–2019 with their
 * build ("Microsoft SQL Server 2019 15.00.4335"); it has no 2022 signature and, as for a real 2022,
 * falls back to its "Microsoft SQL Server" softmatch.
 */
export type Release = readonly [string, number, number, number, number]
const RELEASES: readonly [Release, ...Array<Release>] = [
  ["2016", 13, 0, 6419, 1],
  ["2017", 14, 0, 2000, 0],
  ["2017", 14, 0, 3460, 9],
  ["2019", 15, 0, 2000, 5],
  ["2019", 15, 0, 4335, 1],
  ["2022", 16, 0, 1000, 6],
  ["2022", 16, 0, 4115, 2]
]

// MS-TDS §2.2.3.1.1 packet types.
const TDS_TABULAR_RESULT = 0x04
const TDS_LOGIN7 = 0x10
const TDS_PRELOGIN = 0x12
const STATUS_EOM = 0x01
const HEADER = 8
/** The message types a client opens with: SQL batch, RPC, attention, LOGIN7, SSPI, PRELOGIN, federated auth. */
const CLIENT_TYPES: ReadonlySet<number> = new Set([0x01, 0x02, 0x03, 0x06, 0x07, 0x0e, 0x10, 0x11, 0x12])
/** The largest negotiable TDS packet (MS-TDS §2.2.6.4 packet size 32,767). */
const MAX_PACKET = 32_767
/** A LOGIN7 message is a few hundred bytes; anything far larger is not a login. */
const MAX_MESSAGE = 64 * 1024
const MAX_MESSAGES = 8

/** Read one TDS message (all packets up to EOM) as [type, payload]; [type, undefined] for a bad header. */
const readMessage = (
  conn: Connection
): Effect.Effect<readonly [number, Buffer | undefined] | undefined, ConnectionError> =>
  Effect.gen(function* () {
    const parts: Array<Buffer> = []
    let size = 0
    let type = -1
    for (;;) {
      const h = yield* conn.readBytes(HEADER)
      const length = h.readUInt16BE(2)
      // SQL Server drops a connection whose first packet is not a client message or whose length
      // is impossible, without waiting for a body that will never come.
      if (!CLIENT_TYPES.has(h[0]!) || length < HEADER || length > MAX_PACKET)
        return type < 0 ? ([h[0]!, undefined] as const) : undefined
      if (type >= 0 && h[0] !== type) return undefined
      type = h[0]!
      const body = yield* conn.readBytes(length - HEADER)
      size += body.length
      if (size > MAX_MESSAGE) return undefined
      parts.push(body)
      if ((h[1]! & STATUS_EOM) !== 0) return [type, Buffer.concat(parts)] as const
    }
  })

const packet = (type: number, payload: Buffer, spid: number): Buffer => {
  const h = Buffer.alloc(HEADER)
  h[0] = type
  h[1] = STATUS_EOM
  h.writeUInt16BE(payload.length + HEADER, 2)
  h.writeUInt16BE(spid, 4)
  h[6] = 1
  return Buffer.concat([h, payload])
}

// MS-TDS §2.2.6.5 PRELOGIN option tokens.
const PL_VERSION = 0x00
const PL_ENCRYPTION = 0x01
const PL_INSTOPT = 0x02
const PL_THREADID = 0x03
const PL_MARS = 0x04
const PL_FEDAUTHREQUIRED = 0x06
const PL_TERMINATOR = 0xff
/** ENCRYPT_NOT_SUP: the login then comes in the clear, so the password can be read (see docs). */
const ENCRYPT_NOT_SUP = 0x02
/** A PRELOGIN lists a handful of options; a table longer than this is not one. */
const MAX_PRELOGIN_OPTIONS = 16

/** The options of a client PRELOGIN: token → its data (MS-TDS §2.2.6.5); undefined if malformed. */
export const parsePrelogin = (p: Buffer): ReadonlyMap<number, Buffer> | undefined => {
  const out = new Map<number, Buffer>()
  for (let at = 0; at < p.length; at += 5) {
    if (p[at] === PL_TERMINATOR) return out
    if (out.size >= MAX_PRELOGIN_OPTIONS || at + 5 > p.length) return undefined
    const offset = p.readUInt16BE(at + 1)
    const length = p.readUInt16BE(at + 3)
    if (offset + length > p.length) return undefined
    out.set(p[at]!, p.subarray(offset, offset + length))
  }
  return undefined
}

/**
 * MS-TDS §2.2.6.5 PRELOGIN response, laid out as SQL Server lays it out: VERSION (the release's
 * major, minor, build big-endian, sub-build), ENCRYPTION, INSTOPT (0 when the client named the default
 * instance or none), THREADID with no data (a server sends none), then MARS and FEDAUTHREQUIRED only
 * when the client sent them. Offsets count from the start of the option table. nmap's ms-sql-s
 * signatures match this byte for byte for a VERSION/ENCRYPTION/INSTOPT/THREADID request.
 */
export const preloginResponse = (release: Release, client: ReadonlyMap<number, Buffer>): Buffer => {
  const [, major, minor, build, sub] = release
  const version = Buffer.alloc(6)
  version[0] = major
  version[1] = minor
  version.writeUInt16BE(build, 2)
  version.writeUInt16BE(sub, 4)
  const instance = (client.get(PL_INSTOPT) ?? Buffer.alloc(0)).toString("latin1").replace(/\0.*$/s, "")
  const defaultInstance = instance === "" || instance.toUpperCase() === "MSSQLSERVER"
  const options: Array<readonly [number, Buffer]> = [
    [PL_VERSION, version],
    [PL_ENCRYPTION, Buffer.from([ENCRYPT_NOT_SUP])],
    [PL_INSTOPT, Buffer.from([defaultInstance ? 0 : 1])],
    [PL_THREADID, Buffer.alloc(0)]
  ]
  if (client.has(PL_MARS)) options.push([PL_MARS, Buffer.from([0])])
  if (client.has(PL_FEDAUTHREQUIRED)) options.push([PL_FEDAUTHREQUIRED, Buffer.from([0])])
  const table = Buffer.alloc(options.length * 5 + 1)
  let offset = table.length
  options.forEach(([token, data], i) => {
    table[i * 5] = token
    table.writeUInt16BE(offset, i * 5 + 1)
    table.writeUInt16BE(data.length, i * 5 + 3)
    offset += data.length
  })
  table[table.length - 1] = PL_TERMINATOR
  return Buffer.concat([table, ...options.map(([, d]) => d)])
}

export interface Login7 {
  readonly tdsVersion: number
  readonly hostname: string
  readonly username: string
  readonly password: string
  readonly appName: string
  readonly serverName: string
  readonly library: string
  readonly database: string
}

/** MS-TDS §2.2.6.4: "swap the four high bits with the four low bits, then XOR 0xA5"; undo in reverse. */
export const deobfuscatePassword = (raw: Buffer): Buffer =>
  Buffer.from(
    raw.map((b) => {
      const x = b ^ 0xa5
      return ((x << 4) | (x >> 4)) & 0xff
    })
  )

/** MS-TDS §2.2.6.4 LOGIN7: fixed 36-byte prefix, then (offset, length-in-chars) pairs. */
export const parseLogin7 = (p: Buffer): Either.Either<Login7, ProtocolViolation> => {
  if (p.length < 94)
    return Either.left(new ProtocolViolation({ reason: "LOGIN7 shorter than its fixed part" }))
  const raw = (at: number): Buffer => {
    const off = p.readUInt16LE(at)
    const chars = p.readUInt16LE(at + 2)
    const end = off + chars * 2
    return off > p.length || end > p.length ? Buffer.alloc(0) : p.subarray(off, end)
  }
  const text = (at: number) => raw(at).toString("utf16le")
  return Either.right({
    tdsVersion: p.readUInt32LE(4),
    hostname: text(36),
    username: text(40),
    password: deobfuscatePassword(raw(44)).toString("utf16le"),
    appName: text(48),
    serverName: text(52),
    library: text(60),
    database: text(68)
  })
}

const usVarchar = (s: string): Buffer => {
  const b = Buffer.from(s, "utf16le")
  const h = Buffer.alloc(2)
  h.writeUInt16LE(s.length)
  return Buffer.concat([h, b])
}
const bVarchar = (s: string): Buffer => Buffer.concat([Buffer.from([s.length]), Buffer.from(s, "utf16le")])

/** ERROR token (0xAA, MS-TDS §2.2.7.10) followed by DONE with DONE_ERROR (§2.2.7.6). */
export const loginFailed = (user: string, serverName: string, tdsVersion: number): Buffer => {
  // TDS 7.2+ widened LineNumber to 4 bytes and DoneRowCount to 8.
  const modern = tdsVersion >>> 24 >= 0x72
  const fixed = Buffer.alloc(6)
  fixed.writeInt32LE(18456, 0)
  fixed[4] = 1
  fixed[5] = 14
  const line = Buffer.alloc(modern ? 4 : 2)
  line.writeUIntLE(1, 0, line.length)
  const body = Buffer.concat([
    fixed,
    usVarchar(`Login failed for user '${user}'.`),
    bVarchar(serverName),
    bVarchar(""),
    line
  ])
  const head = Buffer.alloc(3)
  head[0] = 0xaa
  head.writeUInt16LE(body.length, 1)
  const done = Buffer.alloc(modern ? 13 : 9)
  done[0] = 0xfd
  done.writeUInt16LE(0x0002, 1)
  return Buffer.concat([head, body, done])
}

/** What one running mssql instance shares between its connections. */
interface Instance {
  readonly release: Release
  /** NetBIOS-style server name in the login error (the decky's short hostname, upper-cased). */
  readonly serverName: string
  /** The next SPID in reply headers (counts up from a seeded base, like a server's sessions). */
  nextSpid: number
}

/** Every login fails (18456), so a connection is never logged in (the pre-login grace caps it). */
const session = (
  instance: Instance,
  conn: Connection,
  events: Emitter<MssqlEvent>
): Effect.Effect<void, ConnectionError> =>
  Effect.gen(function* () {
    const emit = events.emit
    const spid = instance.nextSpid++
    yield* emit({ _tag: "connect" })
    for (let i = 0; i < MAX_MESSAGES; i++) {
      const msg = yield* readMessage(conn)
      if (msg === undefined) return
      const [type, payload] = msg
      if (payload === undefined)
        return yield* emit({ _tag: "unknown_packet", pkt_type: `0x${type.toString(16).padStart(2, "0")}` })
      if (type === TDS_PRELOGIN) {
        const options = parsePrelogin(payload)
        if (options === undefined)
          return yield* emit({ _tag: "error" }, { msg: "malformed PRELOGIN", severity: 4 })
        yield* conn.write(packet(TDS_TABULAR_RESULT, preloginResponse(instance.release, options), 0))
        continue
      }
      if (type !== TDS_LOGIN7)
        return yield* emit({ _tag: "unknown_packet", pkt_type: `0x${type.toString(16).padStart(2, "0")}` })
      const parsed = parseLogin7(payload)
      if (Either.isLeft(parsed))
        return yield* emit({ _tag: "error" }, { msg: parsed.left.reason, severity: 4 })
      const l = parsed.right
      yield* emit({
        _tag: "auth",
        username: l.username,
        principal: l.username,
        ...(l.password === "" ? {} : { ...encodeSecret(l.password), secret_kind: "plaintext" as const }),
        hostname: l.hostname,
        app_name: l.appName,
        server_name: l.serverName,
        database: l.database,
        library: l.library,
        tds_version: `0x${l.tdsVersion.toString(16)}`
      })
      return yield* conn.end(
        packet(TDS_TABULAR_RESULT, loginFailed(l.username, instance.serverName, l.tdsVersion), spid)
      )
    }
  }).pipe(Effect.ensuring(events.emit({ _tag: "disconnect" })))

export const mssqlHoneypot = defineHoneypot({
  slug: "mssql",
  description: "Microsoft SQL Server (TDS): PRELOGIN, LOGIN7 password capture, error 18456",
  ports: { tcp: [1433], udp: [] },
  config: MssqlConfig,
  events: mssqlEvents,
  run: (options) =>
    Effect.gen(function* () {
      const ctx = yield* HoneypotContext
      const instance: Instance = {
        release: ctx.seed.pick(RELEASES),
        serverName: ctx.hostname.split(".")[0]!.toUpperCase(),
        nextSpid: ctx.seed.int(51, 120)
      }
      const listener = yield* serveTcp({
        ...options.address(),
        events: mssqlEvents,
        handler: (conn, events) => session(instance, conn, events)
      })
      return [listener]
    })
})
