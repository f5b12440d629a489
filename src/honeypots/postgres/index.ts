/**
 * postgres (spec/honeypots.md §16): PostgreSQL v3 startup. SSLRequest/GSSENCRequest get 'N', the
 * StartupMessage is logged, unknown databases get 3D000, known ones an MD5 (default) or cleartext
 * password challenge whose answer is logged, then FATAL 28P01.
 */
import { randomBytes } from "node:crypto"
import { Effect, Either, Random, Schema } from "effect"
import {
  type Connection,
  type ConnectionError,
  credentialFields,
  defineHoneypot,
  type Emitter,
  HoneypotContext,
  ProtocolViolation,
  serveTcp
} from "../runtime/index.js"
import { type PostgresEvent, postgresEvents } from "./Events.js"

export const PostgresConfig = Schema.Struct({
  /**
   * `md5` (the spec's AuthenticationMD5Password; the hash is crackable with the logged salt) or
   * `cleartext` (AuthenticationCleartextPassword; captures the password itself).
   */
  auth_method: Schema.optionalWith(Schema.Literal("md5", "cleartext"), { default: () => "md5" as const })
})
export type PostgresConfig = typeof PostgresConfig.Type

/** Seeded application database sets (spec §16); the system databases always exist. */
const DB_SETS: readonly [ReadonlyArray<string>, ...Array<ReadonlyArray<string>>] = [
  ["app", "app_prod"],
  ["webapp", "sessions"],
  ["erp", "erp_hist"],
  ["django", "django_cache"],
  ["rails_production"],
  ["wordpress"],
  ["gitlabhq_production"],
  ["metrics", "grafana"]
]
const SYSTEM_DBS = ["postgres", "template0", "template1"]

// Protocol codes (PostgreSQL docs, "Message Formats").
const PROTOCOL_3 = 196608
const SSL_REQUEST = 80877103
const GSSENC_REQUEST = 80877104
const CANCEL_REQUEST = 80877102
const STARTUP_MIN = 8
const STARTUP_MAX = 10000
const PASSWORD_MAX = 10000
/** SSLRequest/GSSENCRequest may precede the StartupMessage; more than this is a scanner loop. */
const MAX_PREAMBLES = 4

export type Startup =
  | { readonly _tag: "SslRequest" }
  | { readonly _tag: "GssEncRequest" }
  | { readonly _tag: "Cancel" }
  | { readonly _tag: "Startup"; readonly params: Readonly<Record<string, string>> }

/** Decode the body after the length word of a startup-phase packet. */
export const parseStartup = (body: Buffer): Either.Either<Startup, ProtocolViolation> => {
  if (body.length < 4) return Either.left(new ProtocolViolation({ reason: "startup packet too short" }))
  const code = body.readUInt32BE(0)
  if (code === SSL_REQUEST) return Either.right({ _tag: "SslRequest" })
  if (code === GSSENC_REQUEST) return Either.right({ _tag: "GssEncRequest" })
  if (code === CANCEL_REQUEST) return Either.right({ _tag: "Cancel" })
  if (code !== PROTOCOL_3)
    return Either.left(
      new ProtocolViolation({ reason: `unsupported frontend protocol ${code >>> 16}.${code & 0xffff}` })
    )
  const params: Record<string, string> = {}
  let pos = 4
  for (let i = 0; i < 64 && pos < body.length; i++) {
    const kEnd = body.indexOf(0, pos)
    if (kEnd < 0) return Either.left(new ProtocolViolation({ reason: "unterminated startup parameter" }))
    if (kEnd === pos) break
    const vEnd = body.indexOf(0, kEnd + 1)
    if (vEnd < 0) return Either.left(new ProtocolViolation({ reason: "unterminated startup value" }))
    params[body.toString("utf8", pos, kEnd)] = body.toString("utf8", kEnd + 1, vEnd)
    pos = vEnd + 1
  }
  return Either.right({ _tag: "Startup", params })
}

const message = (type: string, body: Buffer): Buffer => {
  const h = Buffer.alloc(5)
  h.write(type, 0, "latin1")
  h.writeUInt32BE(body.length + 4, 1)
  return Buffer.concat([h, body])
}

/** ErrorResponse ('E') with S/V/C/M fields, as a 9.6+ server sends them. */
export const errorResponse = (code: string, text: string): Buffer =>
  message("E", Buffer.concat([Buffer.from(`SFATAL\0VFATAL\0C${code}\0M${text}\0`, "utf8"), Buffer.from([0])]))

const authRequest = (method: "md5" | "cleartext", salt: Buffer): Buffer => {
  const b = Buffer.alloc(method === "md5" ? 8 : 4)
  b.writeUInt32BE(method === "md5" ? 5 : 3, 0)
  if (method === "md5") salt.copy(b, 4)
  return message("R", b)
}

/** Reply delay in [minMs, maxMs) from the instance's seeded generator. */
const jitter = (minMs: number, maxMs: number) =>
  Effect.flatMap(Random.nextIntBetween(minMs, maxMs), (ms) => Effect.sleep(ms))

/** Every password is refused, so a connection is never logged in (the pre-login grace caps it). */
const session = (
  config: PostgresConfig,
  databases: ReadonlyArray<string>,
  conn: Connection,
  events: Emitter<PostgresEvent>
): Effect.Effect<void, ConnectionError> =>
  Effect.gen(function* () {
    const emit = events.emit
    yield* emit({ _tag: "connect" })
    let params: Readonly<Record<string, string>> | undefined
    for (let i = 0; i <= MAX_PREAMBLES && params === undefined; i++) {
      const length = (yield* conn.readBytes(4)).readUInt32BE(0)
      if (length < STARTUP_MIN || length > STARTUP_MAX) return
      const parsed = parseStartup(yield* conn.readBytes(length - 4))
      if (Either.isLeft(parsed))
        return yield* emit({ _tag: "error" }, { msg: parsed.left.reason, severity: 4 })
      const s = parsed.right
      if (s._tag === "Cancel") return
      if (s._tag === "Startup") params = s.params
      else yield* conn.write("N")
    }
    if (params === undefined) return
    const username = params.user ?? ""
    const database = params.database ?? username
    yield* emit({
      _tag: "startup_message",
      username,
      database,
      application_name: params.application_name ?? ""
    })
    if (!databases.includes(database))
      return yield* conn.end(errorResponse("3D000", `database "${database}" does not exist`))

    const salt = randomBytes(4)
    yield* conn.write(authRequest(config.auth_method, salt))
    const head = yield* conn.readBytes(5)
    const length = head.readUInt32BE(1)
    if (head[0] !== 0x70 || length < 5 || length > PASSWORD_MAX) return
    const body = yield* conn.readBytes(length - 4)
    const nul = body.indexOf(0)
    const pw = body.toString("utf8", 0, nul < 0 ? body.length : nul)
    const md5 = /^md5[0-9a-f]{32}$/.test(pw)
    yield* emit({
      _tag: "auth",
      username,
      database,
      ...(md5
        ? {
            pw_hash: pw,
            ...credentialFields(username, pw),
            secret_kind: "postgres_md5_challenge" as const,
            secret_b64: Buffer.from(pw.slice(3), "hex").toString("base64"),
            salt: salt.toString("hex")
          }
        : { ...credentialFields(username, pw), secret_kind: "plaintext" as const })
    })
    yield* jitter(20, 90)
    yield* conn.end(errorResponse("28P01", `password authentication failed for user "${username}"`))
  }).pipe(Effect.ensuring(events.emit({ _tag: "disconnect" })))

export const postgresHoneypot = defineHoneypot({
  slug: "postgres",
  description: "PostgreSQL server: startup logging, MD5/cleartext password capture, FATAL 28P01",
  ports: { tcp: [5432], udp: [] },
  config: PostgresConfig,
  events: postgresEvents,
  run: (options) =>
    Effect.gen(function* () {
      const ctx = yield* HoneypotContext
      const databases = [...SYSTEM_DBS, ...ctx.seed.pick(DB_SETS)]
      const listener = yield* serveTcp({
        ...options.address(),
        events: postgresEvents,
        handler: (conn, events) => session(options.config, databases, conn, events)
      })
      return [listener]
    })
})
