/**
 * The PostgreSQL v3 wire protocol as the server's startup phase sees it (PostgreSQL docs, "Message
 * Flow" and "Message Formats"; the server side is postmaster.c ProcessStartupPacket and auth.c
 * recv_password_packet of the 15 branch). Every error text, SQLSTATE and the F/L/R fields (source
 * file, line, routine) are those of Debian bookworm's PostgreSQL 15.20: nmap and other scanners date
 * a server by those line numbers.
 */
import { Data, Either } from "effect"
import { ProtocolViolation } from "../runtime/index.js"

// Special request codes in place of a protocol version (pqcomm.h).
export const CANCEL_REQUEST = 80877102
export const SSL_REQUEST = 80877103
export const GSSENC_REQUEST = 80877104

/** The length word counts itself: the body after it is 4 (the code) … MAX_STARTUP_PACKET_LENGTH. */
export const STARTUP_LENGTH_MIN = 8
export const STARTUP_LENGTH_MAX = 10_000 + 4
/** pq_getmessage's cap for a PasswordMessage (PG_MAX_AUTH_TOKEN_LENGTH), the length word included. */
export const PASSWORD_LENGTH_MAX = 65_535
/** PQ_GSS_RECV_BUFFER_SIZE: a bigger GSSAPI token closes the connection. */
export const GSS_TOKEN_MAX = 16_384
/** NAMEDATALEN - 1: user and database names are cut to this many bytes. */
const NAME_MAX = 63

/** Where an error is raised in the 15.20 sources (the F, L and R fields). */
export interface SourcePosition {
  readonly file: string
  readonly line: number
  readonly routine: string
}

const at = (file: string, line: number, routine: string): SourcePosition => ({ file, line, routine })

/** The ereport() call sites a client can reach before authentication succeeds. */
export const SITES = {
  unsupportedProtocol: at("postmaster.c", 2220, "ProcessStartupPacket"),
  unencryptedAfterSsl: at("postmaster.c", 2134, "ProcessStartupPacket"),
  badReplication: at("postmaster.c", 2284, "ProcessStartupPacket"),
  badLayout: at("postmaster.c", 2332, "ProcessStartupPacket"),
  noUser: at("postmaster.c", 2349, "ProcessStartupPacket"),
  noHbaEntry: at("auth.c", 536, "ClientAuthentication"),
  authFailed: at("auth.c", 334, "auth_failed"),
  notPassword: at("auth.c", 718, "recv_password_packet"),
  badPasswordSize: at("auth.c", 739, "recv_password_packet"),
  emptyPassword: at("auth.c", 757, "recv_password_packet")
} as const

/** What a startup-phase packet asks for. Texts are latin1 strings: one char per wire byte. */
export type Startup =
  | { readonly _tag: "SslRequest" }
  | { readonly _tag: "GssEncRequest" }
  | { readonly _tag: "Cancel" }
  /** A major version other than 3: refused with 0A000 (in the old text format below 3). */
  | { readonly _tag: "Unsupported"; readonly major: number; readonly minor: number }
  | {
      readonly _tag: "Startup"
      readonly minor: number
      readonly params: Readonly<Record<string, string>>
      /** `_pq_.*` options the server does not know: listed in NegotiateProtocolVersion. */
      readonly protocolOptions: ReadonlyArray<string>
      /** replication=true: a walsender, which pg_hba's `all` does not admit. */
      readonly physicalReplication: boolean
    }

/** A startup packet the server refuses with an ErrorResponse (SQLSTATE, text, optional hint). */
export class StartupRefused extends Data.TaggedError("StartupRefused")<{
  readonly code: string
  readonly text: string
  readonly site: SourcePosition
  readonly hint?: string | undefined
}> {}

/**
 * The `replication` parameter: "database" (logical, a normal database connection for pg_hba), or
 * parse_bool's spellings (a prefix of true/false/yes/no, on/off from two letters, 1/0); else undefined.
 */
const replicationMode = (value: string): "physical" | "logical" | "none" | undefined => {
  if (value === "database") return "logical"
  const v = value.toLowerCase()
  if (v === "") return undefined
  if ("true".startsWith(v) || "yes".startsWith(v) || v === "1") return "physical"
  if ("false".startsWith(v) || "no".startsWith(v) || v === "0") return "none"
  if (v.length >= 2 && "on".startsWith(v)) return "physical"
  if (v.length >= 2 && "off".startsWith(v)) return "none"
  return undefined
}

/**
 * Decode the body after the length word of a startup-phase packet, in ProcessStartupPacket's order:
 * special codes, the major version, then `name\0value\0` pairs (a bad `replication` value is refused
 * as soon as it is read), the terminator exactly at the end, a user name.
 */
export const parseStartup = (body: Buffer): Either.Either<Startup, ProtocolViolation | StartupRefused> => {
  if (body.length < 4) return Either.left(new ProtocolViolation({ reason: "startup packet too short" }))
  const code = body.readUInt32BE(0)
  if (code === CANCEL_REQUEST) return Either.right({ _tag: "Cancel" })
  if (code === SSL_REQUEST) return Either.right({ _tag: "SslRequest" })
  if (code === GSSENC_REQUEST) return Either.right({ _tag: "GssEncRequest" })
  const major = code >>> 16
  const minor = code & 0xffff
  if (major !== 3) return Either.right({ _tag: "Unsupported", major, minor })
  const params: Record<string, string> = {}
  const protocolOptions: Array<string> = []
  let physicalReplication = false
  // The server reads names and values with strlen over a NUL-padded copy: a missing NUL ends at the end.
  const cstring = (from: number): string => {
    const end = body.indexOf(0, from)
    return body.toString("latin1", from, end < 0 ? body.length : end)
  }
  let offset = 4
  while (offset < body.length) {
    const name = cstring(offset)
    if (name === "") break
    const valueAt = offset + name.length + 1
    if (valueAt >= body.length) break
    const value = cstring(valueAt)
    const replication = name === "replication" ? replicationMode(value) : "none"
    if (replication === undefined)
      return Either.left(
        new StartupRefused({
          code: "22023",
          text: `invalid value for parameter "replication": "${value}"`,
          site: SITES.badReplication,
          hint: 'Valid values are: "false", 0, "true", 1, "database".'
        })
      )
    if (name === "replication") physicalReplication = replication === "physical"
    if (name.startsWith("_pq_.")) protocolOptions.push(name)
    else params[name] = value
    offset = valueAt + value.length + 1
  }
  if (offset !== body.length - 1)
    return Either.left(
      new StartupRefused({
        code: "08P01",
        text: "invalid startup packet layout: expected terminator as last byte",
        site: SITES.badLayout
      })
    )
  return Either.right({ _tag: "Startup", minor, params, protocolOptions, physicalReplication })
}

/** A user or database name as the server keeps it: at most NAMEDATALEN - 1 bytes. */
export const truncateName = (name: string): string =>
  name.length > NAME_MAX ? name.slice(0, NAME_MAX) : name

/** A typed message: type byte, length (itself included), body. */
export const message = (type: string, body: Buffer): Buffer => {
  const h = Buffer.alloc(5)
  h.write(type, 0, "latin1")
  h.writeUInt32BE(body.length + 4, 1)
  return Buffer.concat([h, body])
}

/**
 * ErrorResponse ('E') with the fields in the order the server writes them: S, V, C, M, [D], [H], F, L,
 * R. Texts are latin1 strings, so the user's own bytes come back unchanged.
 */
export const errorResponse = (
  code: string,
  text: string,
  site: SourcePosition,
  extra: { readonly detail?: string | undefined; readonly hint?: string | undefined } = {}
): Buffer => {
  const fields = [
    "SFATAL",
    "VFATAL",
    `C${code}`,
    `M${text}`,
    ...(extra.detail === undefined ? [] : [`D${extra.detail}`]),
    ...(extra.hint === undefined ? [] : [`H${extra.hint}`]),
    `F${site.file}`,
    `L${site.line}`,
    `R${site.routine}`
  ]
  return message("E", Buffer.from(`${fields.join("\0")}\0\0`, "latin1"))
}

/** A protocol-2 client gets the old error format: 'E', the text, newline, NUL. */
export const errorResponseV2 = (text: string): Buffer => Buffer.from(`EFATAL:  ${text}\n\0`, "latin1")

/**
 * 0A000 for a major version other than 3. The error is written in the format of the version asked
 * for: the old text format for 0.1 … 2.x; 0.0 is the server's "not known yet", which writes v3.
 */
export const unsupportedProtocol = (major: number, minor: number): Buffer => {
  const text = `unsupported frontend protocol ${major}.${minor}: server supports 3.0 to 3.0`
  return major < 3 && (major | minor) !== 0
    ? errorResponseV2(text)
    : errorResponse("0A000", text, SITES.unsupportedProtocol)
}

/** NegotiateProtocolVersion ('v'): the newest minor version (3.0) and the unknown `_pq_.` options. */
export const negotiateProtocolVersion = (options: ReadonlyArray<string>): Buffer => {
  const head = Buffer.alloc(8)
  head.writeUInt32BE(0x00030000, 0)
  head.writeUInt32BE(options.length, 4)
  return message("v", Buffer.concat([head, ...options.map((o) => Buffer.from(`${o}\0`, "latin1"))]))
}

/** AuthenticationMD5Password (5) with its salt, or AuthenticationCleartextPassword (3). */
export const authRequest = (method: "md5" | "cleartext", salt: Buffer): Buffer => {
  const b = Buffer.alloc(method === "md5" ? 8 : 4)
  b.writeUInt32BE(method === "md5" ? 5 : 3, 0)
  if (method === "md5") salt.copy(b, 4)
  return message("R", b)
}
