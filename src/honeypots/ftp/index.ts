/**
 * ftp honeypot (spec/honeypots.md §5; RFC 959, RFC 2428 EPSV/EPRT, RFC 3659 SIZE/MDTM): a vsFTPd /
 * ProFTPD / Pure-FTPd persona that records every login and, after a successful one, shows a bait
 * tree and quarantines whatever the client uploads (STOR/STOU/APPE) as `file_captured`.
 */
import * as net from "node:net"
import * as path from "node:path"
import { Clock, Deferred, Duration, Effect, Exit, Option, Random, Schema, type Scope } from "effect"
import {
  type Connection,
  type ConnectionError,
  credentialFields,
  defineHoneypot,
  type Emitter,
  HoneypotContext,
  HoneypotListenError,
  serveTcp
} from "../runtime/index.js"
import { type BaitFile, baitEntry, type ListEntry, listLine, makeBaitFs, mdtm } from "./BaitFs.js"
import { DEFAULT_MAX_UPLOAD_BYTES, discard, keep, openIncoming, receive, storedName } from "./Capture.js"
import {
  allowedActiveTarget,
  type DataChannel,
  DataSlots,
  dataGone,
  openActive,
  openPassive,
  parseEprt,
  parsePort,
  sendData
} from "./Data.js"
import { type FtpEvent, ftpEvents } from "./Events.js"
import {
  type DiskFloor,
  type DiskRoom,
  diskAllowance,
  type QuotaLimits,
  type QuotaName,
  quotaLimit,
  reserve,
  scanQuarantine,
  type Usage
} from "./Quota.js"

const Port = Schema.Int.pipe(Schema.between(1, 65535))
const Bytes = Schema.Int.pipe(Schema.between(0, Number.MAX_SAFE_INTEGER))
const Count = Schema.Int.pipe(Schema.between(0, 1_000_000_000))
/** A probability: a number, or the catalog form's text (`"0.9"`). */
const Rate = Schema.Union(Schema.Number, Schema.NumberFromString).pipe(Schema.between(0, 1))

export const FtpConfig = Schema.Struct({
  /** Full welcome text; a leading `220 ` is added when missing (never doubled). */
  banner: Schema.optional(Schema.String),
  /** PASS outcome: `never` (always 530), `always` (always 230), `probabilistic` (`login_success_rate`). */
  login_mode: Schema.optionalWith(Schema.Literal("never", "always", "probabilistic"), {
    default: () => "probabilistic" as const
  }),
  /**
   * Share of user/password pairs a PASS accepts in `probabilistic` mode. The outcome is a function of
   * the decky, the user and the password (the same pair always gets the same answer on one decky).
   */
  login_success_rate: Schema.optionalWith(Rate, { default: () => 0.9 }),
  /**
   * vsftpd persona: `USER anonymous` / `USER ftp` log in with any password, whatever `login_mode`
   * says (vsftpd's `anonymous_enable=YES`). Other personas ignore it.
   */
  anonymous_enable: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  /**
   * Largest upload kept, in bytes; a bigger one is cut off, discarded and logged as `file_skipped`.
   * `0` makes the server read-only (every STOR/STOU/APPE answered `550 Permission denied.`).
   */
  max_upload_bytes: Schema.optionalWith(Schema.Int.pipe(Schema.between(0, 1024 * 1024 * 1024)), {
    default: () => DEFAULT_MAX_UPLOAD_BYTES
  }),
  /** Per control connection: upload bytes (kept and in flight) and files kept; past them `552`. */
  max_session_upload_bytes: Schema.optionalWith(Bytes, { default: () => 200 * 1024 * 1024 }),
  max_session_uploads: Schema.optionalWith(Count, { default: () => 100 }),
  /**
   * Per service instance (one decky's ftp), counting what the quarantine already holds when it
   * starts: total upload bytes and files.
   */
  max_total_upload_bytes: Schema.optionalWith(Bytes, { default: () => 1024 * 1024 * 1024 }),
  max_total_uploads: Schema.optionalWith(Count, { default: () => 1000 }),
  /**
   * Free space the artifacts filesystem keeps: uploads stop (`552`, `disk_full`) before free space
   * drops below the larger of the two. `0` and `0` turn the check off.
   */
  min_free_disk_bytes: Schema.optionalWith(Bytes, { default: () => 1024 * 1024 * 1024 }),
  min_free_disk_percent: Schema.optionalWith(Schema.Number.pipe(Schema.between(0, 100)), {
    default: () => 5
  }),
  /**
   * Longest a single transfer may take, in seconds, however steadily it trickles (the 60 s data
   * idle timer alone would let one byte a minute hold a connection forever).
   */
  max_transfer_seconds: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 86_400)), {
    default: () => 600
  }),
  /**
   * Passive data ports (vsftpd's `pasv_min_port` / `pasv_max_port`), for a firewall or a port
   * mapping in front of the decky. As in vsftpd, one alone is open-ended (min → 65535, 1024 → max);
   * neither: the OS picks an ephemeral port. Each key stands alone in the Schema (the catalog form
   * offers them one by one); min ≤ max is checked when the service starts.
   */
  pasv_min_port: Schema.optional(Port),
  pasv_max_port: Schema.optional(Port)
})
export type FtpConfig = typeof FtpConfig.Type

/** vsftpd's defaults for the open end of a half-configured passive range. */
const PASV_FLOOR = 1024
const PASV_CEILING = 65535

/** The passive port range, if any; `min > max` is an error (nothing could ever bind). */
const passiveRange = (config: FtpConfig): { readonly min: number; readonly max: number } | undefined =>
  config.pasv_min_port === undefined && config.pasv_max_port === undefined
    ? undefined
    : { min: config.pasv_min_port ?? PASV_FLOOR, max: config.pasv_max_port ?? PASV_CEILING }

type Flavor = "vsftpd" | "proftpd" | "pureftpd"

interface Persona {
  readonly flavor: Flavor
  /** The greeting lines, each sent as-is with CRLF. */
  readonly greeting: ReadonlyArray<string>
}

/** The vsftpd release a vsftpd persona's STAT names: the greeting's, else Debian bookworm's. */
const vsftpdVersion = (persona: Persona): string =>
  /vsFTPd ([0-9][0-9A-Za-z.-]*)/i.exec(persona.greeting.join("\n"))?.[1] ?? "3.0.3"

/**
 * vsftpd's limits and delays (its defaults, and Debian's PAM stack): a command line is at most
 * VSFTP_MAX_COMMAND_LINE (4096) bytes with its LF; `max_login_fails=3` closes the connection after
 * the third failed PASS; a failed PASS answers after `delay_failed_login=1` s plus pam_unix's 2 s
 * failure delay, which Linux-PAM stretches by 0.5–1.5×, most often near 1 (measured on vsftpd 3.0.3:
 * 2.6–3.7 s).
 */
const MAX_COMMAND_LINE = 4095
const MAX_LOGIN_FAILS = 3
const FAILED_LOGIN_DELAY_MS = 1000
const PAM_DELAY_MS = 2000
const PAM_OVERHEAD_MS = 100

/** The commands vsftpd answers before a login; anything else is `530 Please login with USER and PASS.` */
const VSFTPD_PRELOGIN = new Set(["USER", "PASS", "QUIT", "FEAT", "OPTS"])

/** vsftpd 3.0.3's HELP, line for line (postlogin.c handle_help). */
const VSFTPD_HELP =
  "214-The following commands are recognized.\r\n" +
  " ABOR ACCT ALLO APPE CDUP CWD  DELE EPRT EPSV FEAT HELP LIST MDTM MKD\r\n" +
  " MODE NLST NOOP OPTS PASS PASV PORT PWD  QUIT REIN REST RETR RMD  RNFR\r\n" +
  " RNTO SITE SIZE SMNT STAT STOR STOU STRU SYST TYPE USER XCUP XCWD XMKD\r\n" +
  " XPWD XRMD\r\n214 Help OK."

/** vsftpd's FEAT without `utf8_filesystem` (the Debian and Ubuntu default). */
const VSFTPD_FEAT =
  "211-Features:\r\n EPRT\r\n EPSV\r\n MDTM\r\n PASV\r\n REST STREAM\r\n SIZE\r\n TVFS\r\n211 End"

/** C's atoi: optional blanks and sign, then leading digits; 0 when there are none. */
const atoi = (s: string): number => {
  const m = /^[ \t\n\v\f\r]*([+-]?\d+)/.exec(s)
  return m === null ? 0 : Number.parseInt(m[1] ?? "0", 10)
}

/** REST's argument as vsftpd reads it: digits only, else 0 (a negative or malformed offset). */
const restOffset = (arg: string): string => {
  if (!/^\d+$/.test(arg)) return "0"
  const n = BigInt(arg)
  return n > 9_223_372_036_854_775_807n ? "0" : n.toString()
}

/** Why vsftpd refuses an EPRT argument, before the address check (postlogin.c handle_eprt). */
const eprtSyntax = (arg: string, ipv6: boolean): "protocol" | "command" | undefined => {
  const bar = arg.indexOf("|")
  if (bar > 0 || (bar < 0 && arg !== "")) return "command"
  const rest = bar < 0 ? "" : arg.slice(bar + 1)
  const proto = atoi(rest.split("|")[0] ?? "")
  if (proto < 1 || proto > 2 || (!ipv6 && proto === 2)) return "protocol"
  return parseEprt(arg) === undefined ? "command" : undefined
}

const PERSONAS: readonly [Persona, ...Array<Persona>] = [
  { flavor: "vsftpd", greeting: ["220 (vsFTPd 3.0.3)"] },
  { flavor: "vsftpd", greeting: ["220 (vsFTPd 3.0.5)"] },
  { flavor: "proftpd", greeting: ["220 ProFTPD 1.3.7a Server ready."] },
  { flavor: "proftpd", greeting: ["220 ProFTPD 1.3.6 Server ready."] },
  // The spec's one-liner `220 Pure-FTPd Service ready.` is not what Pure-FTPd sends; this is.
  {
    flavor: "pureftpd",
    greeting: [
      "220---------- Welcome to Pure-FTPd [privsep] [TLS] ----------",
      "220-You are user number 1 of 50 allowed.",
      "220-This is a private system - No anonymous login",
      "220 You will be disconnected after 15 minutes of inactivity."
    ]
  }
]

/** The replies that differ between the three servers (taken from their sources / live sessions). */
interface Wording {
  readonly userOk: (user: string) => string
  readonly loggedIn: (user: string) => string
  readonly loginFailed: string
  readonly needLogin: string
  readonly pwd: (dir: string) => string
  readonly goodbye: string
}

const WORDING: Readonly<Record<Flavor, Wording>> = {
  vsftpd: {
    userOk: () => "331 Please specify the password.",
    loggedIn: () => "230 Login successful.",
    loginFailed: "530 Login incorrect.",
    needLogin: "530 Please login with USER and PASS.",
    pwd: (dir) => `257 ${dir} is the current directory`,
    goodbye: "221 Goodbye."
  },
  proftpd: {
    userOk: (user) => `331 Password required for ${user}`,
    loggedIn: (user) => `230 User ${user} logged in`,
    loginFailed: "530 Login incorrect.",
    needLogin: "530 Please login with USER and PASS",
    pwd: (dir) => `257 ${dir} is the current directory`,
    goodbye: "221 Goodbye."
  },
  pureftpd: {
    userOk: (user) => `331 User ${user} OK. Password required`,
    loggedIn: () => "230 OK. Current restricted directory is /",
    loginFailed: "530 Login authentication failed",
    needLogin: "530 You aren't logged in",
    pwd: (dir) => `257 ${dir} is your current location`,
    goodbye: "221-Goodbye. You uploaded 0 and downloaded 0 kbytes.\r\n221 Logout."
  }
}

const personaFromBanner = (banner: string): Persona => {
  const line = /^220[ -]/.test(banner) ? banner : `220 ${banner}`
  const flavor: Flavor = /proftpd/i.test(line) ? "proftpd" : /pure-?ftpd/i.test(line) ? "pureftpd" : "vsftpd"
  return { flavor, greeting: line.split(/\r?\n/).filter((l) => l !== "") }
}

/** How an upload is listed: vsftpd's anon_umask 077 leaves it readable by the server only. */
const UPLOAD_MODE = "-rw-------"
/** Uploads one session remembers for its listing (oldest forgotten first); all are quarantined. */
const MAX_LISTED_UPLOADS = 256
/** Commands per control connection (bounded even when the client pipelines without pause). */
const MAX_COMMANDS = 20_000

/** A file this session uploaded: listed to this session only (other sessions see the bait alone). */
interface Upload {
  readonly size: number
  readonly mtime: Date
}

interface Session {
  user: string | undefined
  loggedIn: boolean
  /** Logged in as vsftpd's anonymous user (`ftp`). */
  anonymous: boolean
  /** `EPSV ALL` was sent: PASV and PORT are refused from now on (RFC 2428 §4). */
  epsvAll: boolean
  /** Failed PASS commands so far (vsftpd closes at `max_login_fails`). */
  loginFails: number
  cwd: string
  binary: boolean
  data: DataChannel | undefined
  readonly uploads: Map<string, Upload>
  /** Against the per-session upload budgets. */
  readonly usage: Usage
}

/**
 * Whether walking `arg` from `cwd` stays in directories that exist: only `/` does, so any named
 * component fails, even one a later `..` leaves again (`/a/..`), as chdir(2) does.
 */
const passesOnlyRoot = (cwd: string, arg: string): boolean =>
  (arg.startsWith("/") ? arg : `${cwd}/${arg}`).split("/").every((p) => p === "" || p === "." || p === "..")

const resolvePath = (cwd: string, arg: string): string => {
  const parts = (arg.startsWith("/") ? arg : `${cwd}/${arg}`).split("/")
  const out: Array<string> = []
  for (const p of parts) {
    if (p === "" || p === ".") continue
    if (p === "..") out.pop()
    else out.push(p)
  }
  return `/${out.join("/")}`
}

/** Echoed user names: printable ASCII only, bounded, so a reply never carries CR/LF or control bytes. */
const printable = (s: string): string => s.replace(/[^\x20-\x7e]/g, "?").slice(0, 64)

const quote = (p: string): string => `"${p.replace(/"/g, '""')}"`

type Warn = (key: string, message: string) => Effect.Effect<void>

/** Log at most once per `windowMs` per key: a client hammering a limit is one line, not thousands. */
const rateLimitedWarning = (windowMs: number): Warn => {
  const last = new Map<string, number>()
  return (key, message) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      if (now - (last.get(key) ?? Number.NEGATIVE_INFINITY) < windowMs) return Effect.void
      if (last.size > 1024) last.clear()
      last.set(key, now)
      return Effect.logWarning(message)
    })
}

/** Why an upload was refused with 552: the `file_skipped` fields past the common ones. */
type Refusal =
  | { readonly reason: "quota"; readonly quota: QuotaName; readonly limit: number }
  | { readonly reason: "disk_full"; readonly free_bytes: number; readonly floor_bytes: number }

/** What every connection of one service instance shares. */
interface Instance {
  readonly config: FtpConfig
  readonly persona: Persona
  readonly files: ReadonlyArray<BaitFile>
  /** `<artifactsDir>/ftp`: the quarantine. */
  readonly quarantine: string
  /** The control connection's idle timer, re-armed by data traffic. */
  readonly idleTimeoutMs: number
  readonly pasvRange: { readonly min: number; readonly max: number } | undefined
  readonly warn: Warn
  readonly quota: QuotaLimits
  readonly disk: DiskFloor
  /** Stored by this instance, counted from what the quarantine already held at start. */
  readonly usage: Usage
  /**
   * A number in [0, 1) fixed by the decky, the user and the password: the probabilistic login's
   * draw, so the same credentials get the same answer on every connection.
   */
  readonly loginDraw: (user: string, password: string) => number
  /** Control connections open right now (vsftpd's STAT reports the count at session start). */
  readonly clients: { count: number }
}

const handleConnection = (
  instance: Instance,
  conn: Connection,
  events: Emitter<FtpEvent>
): Effect.Effect<void, ConnectionError, Scope.Scope> =>
  Effect.gen(function* () {
    const { config, persona, files, warn, pasvRange } = instance
    // Data connections (PASV/PORT) log through this control connection's emitter: the same peer.
    const emit = events.emit
    const peerIp = conn.remoteAddress
    const words = WORDING[persona.flavor]
    const vsftpd = persona.flavor === "vsftpd"
    instance.clients.count++
    const clientsAtStart = instance.clients.count
    yield* Effect.addFinalizer(() => Effect.sync(() => instance.clients.count--))
    const reply = (text: string) => conn.write(`${text}\r\n`)
    const session: Session = {
      user: undefined,
      loggedIn: false,
      anonymous: false,
      epsvAll: false,
      loginFails: 0,
      cwd: "/",
      binary: false,
      data: undefined,
      uploads: new Map(),
      usage: { bytes: 0, files: 0 }
    }
    let unknown = 0
    // Data sockets open on behalf of this control connection (at most one at a time).
    const slots = new DataSlots(1)
    // Completes when the client's control connection is gone: every transfer and data-connection
    // wait races it, so a closed session never leaves an upload running (the harness frees the
    // IP's connection slot at that moment, and a transfer would otherwise outlive it).
    const controlGone = yield* Deferred.make<void>()
    const control = conn.socket()
    const onControlClose = () => Deferred.unsafeDone(controlGone, Exit.void)
    if (control.destroyed) onControlClose()
    else control.once("close", onControlClose)
    yield* Effect.addFinalizer(() => Effect.sync(() => control.off("close", onControlClose)))
    /** Run `effect` unless the control connection closes first (then it is interrupted). */
    const whileControlOpen = <A>(effect: Effect.Effect<A>): Effect.Effect<Option.Option<A>> =>
      Effect.raceFirst(Effect.asSome(effect), Effect.as(Deferred.await(controlGone), Option.none<A>()))
    const maxTransfer = Duration.seconds(config.max_transfer_seconds)
    yield* emit({ _tag: "connection" })
    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        if (session.data !== undefined) yield* session.data.close
        yield* emit({ _tag: "disconnect", unknown_commands: unknown })
      })
    )
    yield* conn.write(`${persona.greeting.join("\r\n")}\r\n`)

    const fileAt = (arg: string): BaitFile | undefined => {
      const p = resolvePath(session.cwd, arg)
      return files.find((f) => `/${f.name}` === p)
    }

    /** What LIST/SIZE/MDTM see at a path: this session's upload shadows a bait file of that name. */
    const entryAt = (arg: string): ListEntry | undefined => {
      const p = resolvePath(session.cwd, arg)
      const up = session.uploads.get(p)
      if (up !== undefined)
        return { name: path.posix.basename(p), size: up.size, mtime: up.mtime, mode: UPLOAD_MODE }
      const f = fileAt(arg)
      return f === undefined ? undefined : baitEntry(f)
    }

    const dropData = Effect.suspend(() => {
      const d = session.data
      session.data = undefined
      return d === undefined ? Effect.void : d.close
    })

    /** Run one download over the pending data connection (RFC 959 §5.4: 150 … 226). */
    const transfer = (preliminary: string, data: Buffer, done: string) =>
      Effect.gen(function* () {
        const d = session.data
        if (d === undefined) return yield* reply("425 Use PORT or PASV first.")
        const socket = Option.flatten(yield* whileControlOpen(d.open))
        if (Option.isNone(socket) || dataGone(socket.value)) {
          yield* dropData
          return yield* reply("425 Failed to establish connection.")
        }
        yield* reply(preliminary)
        const ok = yield* whileControlOpen(
          sendData(socket.value, data).pipe(
            Effect.timeoutOption(maxTransfer),
            Effect.map((o) => Option.getOrElse(o, () => false))
          )
        )
        yield* dropData
        yield* reply(Option.getOrElse(ok, () => false) ? done : "426 Failure writing network stream.")
      })

    /**
     * STOR/STOU/APPE: receive the upload into the quarantine, announce it, and list it to this
     * session. Like vsftpd with anonymous uploads it lands as `-rw-------`, so RETR of it is refused.
     */
    const upload = (command: "STOR" | "STOU" | "APPE", target: string, preliminary: string) =>
      Effect.gen(function* () {
        const d = session.data
        if (d === undefined) return yield* reply("425 Use PORT or PASV first.")
        const ftpUser = session.user ?? ""
        /** 552 with a `file_skipped` for a budget or the disk floor (logged once a minute per reason). */
        const refuse = (size: number, refusal: Refusal) =>
          Effect.gen(function* () {
            yield* dropData
            if (refusal.reason === "quota")
              yield* warn(
                `quota:${refusal.quota}`,
                `ftp: upload budget ${refusal.quota} (${refusal.limit}) reached; refusing uploads (first: ${target} from ${peerIp})`
              )
            else
              yield* warn(
                "disk_full",
                `ftp: free space under ${instance.quarantine} is at its floor (${refusal.free_bytes} free, floor ${refusal.floor_bytes}); refusing uploads`
              )
            yield* emit({
              _tag: "file_skipped",
              orig_path: target,
              size,
              ...refusal,
              ftp_user: ftpUser,
              command
            })
            yield* reply("552 Exceeded storage allocation.")
          })
        const reservation = reserve(instance.quota, session.usage, instance.usage)
        if (typeof reservation === "string")
          return yield* refuse(0, {
            reason: "quota",
            quota: reservation,
            limit: quotaLimit(instance.quota, reservation)
          })
        let kept = false
        yield* Effect.gen(function* () {
          const opened = yield* Effect.either(openIncoming(instance.quarantine))
          if (opened._tag === "Left") {
            yield* Effect.logWarning(`ftp: ${opened.left.message}`)
            yield* dropData
            return yield* reply("553 Could not create file.")
          }
          const incoming = opened.right
          const room = yield* diskAllowance(incoming.dir, instance.disk).pipe(
            // No figure is no reason to lose the payload: a full disk still fails the write (451).
            Effect.catchAll((e) => Effect.as(warn("statfs", `ftp: ${e.message}`), undefined))
          )
          const diskFull = (r: DiskRoom): Refusal => ({
            reason: "disk_full",
            free_bytes: r.free,
            floor_bytes: r.floor
          })
          if (room !== undefined && room.allowance <= 0) return yield* refuse(0, diskFull(room))
          yield* Effect.gen(function* () {
            const socket = Option.flatten(yield* whileControlOpen(d.open))
            // A data connection the client already closed or reset is no transfer: nothing to read.
            if (Option.isNone(socket) || dataGone(socket.value)) {
              yield* dropData
              return yield* reply("425 Failed to establish connection.")
            }
            yield* reply(preliminary)
            let written = 0
            let overQuota: QuotaName | undefined
            const got = yield* receive(socket.value, incoming, {
              maxBytes: config.max_upload_bytes,
              admit: (n) => {
                if (room !== undefined && written + n > room.allowance) return "disk_full"
                overQuota = reservation.add(n)
                if (overQuota !== undefined) return "quota"
                written += n
                return undefined
              },
              // Data traffic counts as activity: a long upload must not trip the control idle timeout.
              onProgress: () => control.setTimeout(instance.idleTimeoutMs),
              // What arrived until then is kept (file_captured, complete=false).
              stop: Effect.raceFirst(
                Deferred.await(controlGone),
                Effect.zipRight(
                  Effect.sleep(maxTransfer),
                  warn(
                    `transfer-time:${peerIp}`,
                    `ftp: upload ${target} from ${peerIp} passed max_transfer_seconds ${config.max_transfer_seconds}; cut`
                  )
                )
              )
            })
            yield* dropData
            // Discarded before it is announced, so the quarantine never holds a cut-off file.
            if (got.outcome !== "complete" && got.outcome !== "aborted") yield* discard(incoming)
            if (got.outcome === "quota" && overQuota !== undefined)
              return yield* refuse(got.size, {
                reason: "quota",
                quota: overQuota,
                limit: quotaLimit(instance.quota, overQuota)
              })
            if (got.outcome === "disk_full" && room !== undefined)
              return yield* refuse(got.size, diskFull(room))
            if (got.outcome === "too_large") {
              yield* Effect.logWarning(
                `ftp: upload ${target} from ${peerIp} passed max_upload_bytes ${config.max_upload_bytes}; discarded`
              )
              yield* emit({
                _tag: "file_skipped",
                orig_path: target,
                size: got.size,
                reason: "too_large",
                max_bytes: config.max_upload_bytes,
                ftp_user: ftpUser,
                command
              })
              return yield* reply("552 Exceeded storage allocation.")
            }
            if (got.outcome === "write_failed" || got.outcome === "quota" || got.outcome === "disk_full") {
              yield* Effect.logWarning(`ftp: cannot write upload ${target} under ${incoming.dir}`)
              return yield* reply("451 Failure writing to local file.")
            }
            const storedAs = storedName(new Date(), got.sha256, target)
            const stored = yield* Effect.either(keep(incoming, storedAs))
            if (stored._tag === "Left") {
              yield* Effect.logWarning(`ftp: ${stored.left.message}`)
              return yield* reply("451 Failure writing to local file.")
            }
            kept = true
            const prior = command === "APPE" ? (session.uploads.get(target)?.size ?? 0) : 0
            session.uploads.delete(target)
            if (session.uploads.size >= MAX_LISTED_UPLOADS) {
              const oldest = session.uploads.keys().next()
              if (oldest.done !== true) session.uploads.delete(oldest.value)
            }
            session.uploads.set(target, { size: prior + got.size, mtime: new Date() })
            const complete = got.outcome === "complete"
            yield* emit({
              _tag: "file_captured",
              stored_as: storedAs,
              sha256: got.sha256,
              size: got.size,
              orig_path: target,
              ftp_user: ftpUser,
              command,
              complete
            })
            yield* reply(complete ? "226 Transfer complete." : "426 Failure reading network stream.")
          }).pipe(Effect.ensuring(discard(incoming)))
        }).pipe(
          // Only a kept file stays on the budgets; anything discarded (or interrupted) gives its share back.
          Effect.ensuring(Effect.sync(() => (kept ? undefined : reservation.release())))
        )
      })

    const listing = (arg: string, namesOnly: boolean): Buffer => {
      const flags = arg
        .split(" ")
        .filter((a) => a.startsWith("-"))
        .join("")
      const target = arg.split(" ").filter((a) => !a.startsWith("-"))[0]
      const showHidden = flags.includes("a")
      const dir = target === undefined ? session.cwd : resolvePath(session.cwd, target)
      const single = target === undefined ? undefined : entryAt(target)
      const inDir = (): Array<ListEntry> => {
        if (dir !== "/") return []
        const ups = [...session.uploads]
          .filter(([p]) => path.posix.dirname(p) === "/")
          .map(([p, u]): ListEntry => ({ name: p.slice(1), size: u.size, mtime: u.mtime, mode: UPLOAD_MODE }))
        const shadowed = new Set(ups.map((u) => u.name))
        return [...files.filter((f) => !shadowed.has(f.name)).map(baitEntry), ...ups]
          .filter((e) => showHidden || !e.name.startsWith("."))
          .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      }
      const visible = single !== undefined ? [single] : inDir()
      const now = new Date()
      const lines = visible.map((f) => (namesOnly ? f.name : listLine(f, now)))
      return Buffer.from(lines.map((l) => `${l}\r\n`).join(""), "utf8")
    }

    /** PORT/EPRT: only back to the control connection's own peer, never to a third party. */
    const active = (verb: "PORT" | "EPRT", arg: string) =>
      Effect.gen(function* () {
        yield* dropData
        const target = verb === "PORT" ? parsePort(arg) : parseEprt(arg)
        if (target === undefined)
          return yield* reply(verb === "PORT" ? "500 Illegal PORT command." : "500 Bad EPRT command.")
        if (!allowedActiveTarget(target, conn.remoteAddress)) {
          // A third-party address is FTP bounce (RFC 2577 §3): worth its own event. The peer stays
          // the client; the third party is named in the event's own fields.
          const otherHost = !allowedActiveTarget({ host: target.host, port: 65535 }, conn.remoteAddress)
          if (otherHost)
            yield* emit({
              _tag: "bounce_attempt",
              command: verb,
              target_ip: target.host,
              target_port: target.port
            })
          return yield* reply(verb === "PORT" ? "500 Illegal PORT command." : "500 Illegal EPRT command.")
        }
        session.data = openActive(conn.localAddress, target.host, target.port, slots)
        yield* reply(
          verb === "PORT"
            ? "200 PORT command successful. Consider using PASV."
            : "200 EPRT command successful. Consider using EPSV."
        )
      })

    const uniqueName = (arg: string): string => {
      const base = resolvePath(session.cwd, arg.trim() === "" ? "STOU" : arg.trim())
      const taken = (p: string) => session.uploads.has(p) || files.some((f) => `/${f.name}` === p)
      if (!taken(base)) return base
      for (let n = 1; ; n++) if (!taken(`${base}.${n}`)) return `${base}.${n}`
    }

    /** A refused PASS: PAM's delay, then 530; the third failure closes the connection (vsftpd). */
    const loginFailed = Effect.gen(function* () {
      // Linux-PAM's randomisation (pam_delay.c): 1 plus the mean of three uniform draws less one half.
      const draws = yield* Effect.all([Random.next, Random.next, Random.next])
      const jitter = 1 + draws.reduce((a, b) => a + b, 0) / 3 - 0.5
      yield* Effect.sleep(Duration.millis(FAILED_LOGIN_DELAY_MS + PAM_DELAY_MS * jitter + PAM_OVERHEAD_MS))
      session.user = undefined
      session.loginFails++
      if (session.loginFails < MAX_LOGIN_FAILS) {
        yield* reply(words.loginFailed)
        return false
      }
      yield* conn.end(`${words.loginFailed}\r\n`)
      return true
    })

    for (let i = 0; i < MAX_COMMANDS; i++) {
      const read = yield* Effect.either(conn.readLine(vsftpd ? MAX_COMMAND_LINE : undefined))
      if (read._tag === "Left") {
        // vsftpd answers an over-long line and exits (ftpcmdio.c ftp_getline).
        if (vsftpd && read.left._tag === "LimitExceeded")
          return yield* conn.end("500 Input line too long.\r\n")
        return yield* read.left
      }
      // vsftpd: trailing CRs go, NULs stand for LF (RFC 959's TELNET end of line), and an empty line is
      // ignored (as ProFTPD does, for NAT devices); the verb is everything before the first space.
      const line = vsftpd ? read.right.replace(/\r+$/, "").replace(/\0/g, "\n") : read.right
      if (vsftpd && line === "") continue
      const sp = line.indexOf(" ")
      const head = sp < 0 ? line : line.slice(0, sp)
      const upper = (vsftpd ? head : head.trim()).toUpperCase()
      // vsftpd's alias for PASV (a firewall mangling it, postlogin.c).
      const verb = vsftpd && upper === "P@SW" ? "PASV" : upper
      const arg = sp < 0 ? "" : line.slice(sp + 1)
      const needLogin = () => reply(words.needLogin)

      if (vsftpd && !session.loggedIn && !VSFTPD_PRELOGIN.has(verb)) {
        if (!/^[A-Z]{3,4}$/.test(verb)) unknown++
        yield* needLogin()
        continue
      }

      switch (verb) {
        case "USER": {
          if (session.loggedIn) {
            yield* reply(
              !vsftpd
                ? "530 Can't change to another user."
                : session.anonymous
                  ? "530 Can't change from guest user."
                  : arg === session.user
                    ? "331 Any password will do."
                    : "530 Can't change to another user."
            )
            break
          }
          // vsftpd keeps the name as given; an empty one is no user (PASS then answers 503).
          session.user = arg === "" && vsftpd ? undefined : arg
          yield* emit({ _tag: "user", username: arg })
          yield* reply(words.userOk(printable(arg)))
          break
        }
        case "PASS": {
          if (session.loggedIn) {
            yield* reply("230 Already logged in.")
            break
          }
          if (session.user === undefined) {
            yield* reply("503 Login with USER first.")
            break
          }
          const anonymous = vsftpd && config.anonymous_enable && /^(anonymous|ftp)$/i.test(session.user)
          const success =
            anonymous ||
            (config.login_mode === "always"
              ? true
              : config.login_mode === "never"
                ? false
                : instance.loginDraw(session.user, arg) < config.login_success_rate)
          yield* emit(
            {
              _tag: "auth_attempt",
              username: session.user,
              ...credentialFields(session.user, arg),
              secret_kind: "plaintext",
              outcome: success ? "success" : "failure"
            },
            { severity: 4 }
          )
          if (success) {
            session.loggedIn = true
            session.anonymous = anonymous
            // vsftpd names an anonymous session after its ftp_username.
            if (anonymous) session.user = "ftp"
            // Anonymous or not, an accepted login: the session cap applies from here, not the grace.
            conn.loggedIn()
            yield* reply(words.loggedIn(printable(session.user)))
          } else if (yield* loginFailed) return
          break
        }
        case "QUIT":
          yield* conn.end(`${words.goodbye}\r\n`)
          return
        case "FEAT":
          yield* reply(
            vsftpd
              ? VSFTPD_FEAT
              : "211-Features:\r\n EPRT\r\n EPSV\r\n MDTM\r\n PASV\r\n REST STREAM\r\n SIZE\r\n TVFS\r\n UTF8\r\n211 End"
          )
          break
        case "OPTS":
          yield* reply(
            /^utf8 on$/i.test(vsftpd ? arg : arg.trim())
              ? "200 Always in UTF8 mode."
              : "501 Option not understood."
          )
          break
        case "NOOP":
          yield* reply("200 NOOP ok.")
          break
        case "SYST":
          yield* reply("215 UNIX Type: L8")
          break
        case "HELP":
          yield* reply(VSFTPD_HELP)
          break
        case "AUTH":
        case "PBSZ":
        case "PROT":
          // What vsftpd without ssl_enable answers (logged in: AUTH is unknown, PBSZ/PROT are refused);
          // clients then carry on in clear text.
          yield* reply(
            !vsftpd || !session.loggedIn
              ? words.needLogin
              : verb === "AUTH"
                ? "500 Unknown command."
                : "550 Permission denied."
          )
          break
        default: {
          if (!session.loggedIn) {
            if (/^[A-Z]{3,4}$/.test(verb)) yield* needLogin()
            else {
              unknown++
              yield* reply(words.needLogin)
            }
            break
          }
          switch (verb) {
            case "PWD":
            case "XPWD":
              yield* reply(words.pwd(quote(session.cwd)))
              break
            case "CWD":
            case "XCWD": {
              const target = resolvePath(session.cwd, arg.trim() === "" ? "/" : arg.trim())
              // chdir(2) fails on "" and on any path through a directory that does not exist.
              const missing = vsftpd && (arg === "" || !passesOnlyRoot(session.cwd, arg))
              if (target === "/" && !missing) {
                session.cwd = "/"
                yield* reply("250 Directory successfully changed.")
              } else yield* reply("550 Failed to change directory.")
              break
            }
            case "CDUP":
            case "XCUP":
              session.cwd = "/"
              yield* reply("250 Directory successfully changed.")
              break
            case "TYPE": {
              const t = arg.trim().toUpperCase()
              if (t === "I" || t === "L 8") {
                session.binary = true
                yield* reply("200 Switching to Binary mode.")
              } else if (t === "A" || t === "A N") {
                session.binary = false
                yield* reply("200 Switching to ASCII mode.")
              } else yield* reply("500 Unrecognised TYPE command.")
              break
            }
            case "MODE":
              yield* reply(arg.trim().toUpperCase() === "S" ? "200 Mode set to S." : "504 Bad MODE command.")
              break
            case "STRU":
              yield* reply(
                arg.trim().toUpperCase() === "F" ? "200 Structure set to F." : "504 Bad STRU command."
              )
              break
            case "PASV":
            case "EPSV": {
              if (vsftpd && verb === "PASV" && session.epsvAll) {
                yield* reply("550 Permission denied.")
                break
              }
              if (vsftpd && verb === "EPSV" && arg !== "") {
                if (arg.toUpperCase() === "ALL") {
                  session.epsvAll = true
                  yield* reply("200 EPSV ALL ok.")
                  break
                }
                const family = atoi(arg)
                if (family < 1 || family > 2 || (family === 2 && !net.isIPv6(conn.localAddress))) {
                  yield* reply("522 Bad network protocol.")
                  break
                }
              }
              yield* dropData
              const host = conn.localAddress
              const isV6 = net.isIPv6(host)
              if (verb === "PASV" && isV6) {
                yield* reply("425 PASV is not supported on IPv6; use EPSV.")
                break
              }
              const opened = yield* Effect.either(openPassive(host, conn.remoteAddress, slots, pasvRange))
              if (opened._tag === "Left") {
                yield* warn(
                  `pasv:${opened.left.code ?? "error"}`,
                  `ftp: cannot open a passive listener on ${host}${pasvRange === undefined ? "" : ` in ${pasvRange.min}-${pasvRange.max}`}: ${opened.left.message}`
                )
                yield* reply("425 Can't open passive connection.")
                break
              }
              const p = opened.right
              session.data = p
              if (verb === "EPSV") yield* reply(`229 Entering Extended Passive Mode (|||${p.port}|)`)
              else
                yield* reply(
                  `227 Entering Passive Mode (${host.split(".").join(",")},${p.port >> 8},${p.port & 0xff}).`
                )
              break
            }
            case "PORT":
            case "EPRT": {
              if (vsftpd && verb === "PORT" && session.epsvAll) {
                yield* reply("550 Permission denied.")
                break
              }
              const bad =
                vsftpd && verb === "EPRT" ? eprtSyntax(arg, net.isIPv6(conn.localAddress)) : undefined
              if (bad !== undefined) {
                // Refused for its form (an IPv6 address on an IPv4 connection), still a bounce attempt.
                const target = parseEprt(arg)
                if (
                  target !== undefined &&
                  !allowedActiveTarget({ host: target.host, port: 65535 }, conn.remoteAddress)
                )
                  yield* emit({
                    _tag: "bounce_attempt",
                    command: "EPRT",
                    target_ip: target.host,
                    target_port: target.port
                  })
                yield* dropData
                yield* reply(bad === "protocol" ? "500 Bad EPRT protocol." : "500 Bad EPRT command.")
                break
              }
              yield* active(verb, arg)
              break
            }
            case "LIST":
            case "NLST":
              yield* transfer(
                "150 Here comes the directory listing.",
                listing(arg, verb === "NLST"),
                "226 Directory send OK."
              )
              break
            case "RETR": {
              const p = resolvePath(session.cwd, arg)
              // An own upload is write-only (vsftpd's anon_world_readable_only): listed, not readable.
              const f = session.uploads.has(p) ? undefined : fileAt(arg)
              yield* emit({ _tag: "download_attempt", path: p, found: f !== undefined })
              // vsftpd asks for the data connection before it opens the file.
              if (vsftpd && session.data === undefined) {
                yield* reply("425 Use PORT or PASV first.")
                break
              }
              if (f === undefined) {
                yield* dropData
                yield* reply("550 Failed to open file.")
                break
              }
              yield* transfer(
                `150 Opening ${session.binary ? "BINARY" : "ASCII"} mode data connection for ${f.name} (${f.content.length} bytes).`,
                f.content,
                "226 Transfer complete."
              )
              break
            }
            case "SIZE": {
              const f = entryAt(arg)
              yield* reply(f === undefined ? "550 Could not get file size." : `213 ${f.size}`)
              break
            }
            case "MDTM": {
              const f = entryAt(arg)
              yield* reply(
                f === undefined ? "550 Could not get file modification time." : `213 ${mdtm(f.mtime)}`
              )
              break
            }
            case "REST":
              yield* reply(`350 Restart position accepted (${restOffset(arg)}).`)
              break
            case "ABOR":
            // Telnet IP and Synch before ABOR (RFC 959 §4.1.3), as a client sends it without urgent data.
            case "\uFFFD\uFFFD\uFFFD\uFFFDABOR":
              yield* dropData
              yield* reply("225 No transfer to ABOR.")
              break
            case "ALLO":
              yield* reply("202 ALLO command ignored.")
              break
            case "REIN":
            case "ACCT":
            case "SMNT":
              yield* reply(`502 ${verb} not implemented.`)
              break
            case "STAT":
              if (arg !== "") {
                // STAT <path>: a listing over the control connection (postlogin.c handle_stat_file).
                const lines = listing(`-a ${arg}`, false).toString("utf8")
                yield* reply(`213-Status follows:\r\n${lines}213 End of status`)
                break
              }
              // The remote peer's address, like vsftpd's remote_ip_str; the client count at login time.
              yield* reply(
                `211-FTP server status:\r\n     Connected to ${conn.remoteAddress}\r\n     Logged in as ${printable(session.user ?? "")}\r\n` +
                  `     TYPE: ${session.binary ? "BINARY" : "ASCII"}\r\n` +
                  "     No session bandwidth limit\r\n     Session timeout in seconds is 300\r\n" +
                  "     Control connection is plain text\r\n     Data connections will be plain text\r\n" +
                  `     At session startup, client count was ${clientsAtStart}\r\n` +
                  `     vsFTPd ${vsftpdVersion(persona)} - secure, fast, stable\r\n211 End of status`
              )
              break
            case "STOR":
            case "STOU":
            case "APPE": {
              const target = verb === "STOU" ? uniqueName(arg) : resolvePath(session.cwd, arg)
              yield* emit({ _tag: "upload_attempt", path: target, command: verb })
              if (config.max_upload_bytes === 0 || target === "/") {
                // Read-only persona (vsftpd with write_enable=NO), or the name is the root directory.
                yield* dropData
                yield* reply(
                  config.max_upload_bytes === 0 ? "550 Permission denied." : "553 Could not create file."
                )
                break
              }
              yield* upload(
                verb,
                target,
                verb === "STOU"
                  ? `150 FILE: ${printable(path.posix.basename(target))}`
                  : "150 Ok to send data."
              )
              break
            }
            case "DELE":
            case "MKD":
            case "XMKD":
            case "RMD":
            case "XRMD":
            case "RNFR":
            case "RNTO":
            case "SITE":
              yield* reply("550 Permission denied.")
              break
            default:
              unknown++
              yield* reply("500 Unknown command.")
          }
        }
      }
    }
    yield* conn.end("421 Too many commands.\r\n")
  })

export const ftpHoneypot = defineHoneypot({
  slug: "ftp",
  description: "FTP server persona (vsFTPd/ProFTPD/Pure-FTPd) with login capture and a read-only bait tree",
  ports: { tcp: [21], udp: [] },
  config: FtpConfig,
  events: ftpEvents,
  run: (options) =>
    Effect.gen(function* () {
      const ctx = yield* HoneypotContext
      const config = options.config
      const address = options.address()
      const range = passiveRange(config)
      if (range !== undefined && range.min > range.max)
        return yield* new HoneypotListenError({
          service: "ftp",
          host: options.host,
          port: address.port,
          message: `passive port range ${range.min}-${range.max} is empty: pasv_min_port must not exceed pasv_max_port`
        })
      const persona =
        config.banner !== undefined && config.banner !== ""
          ? personaFromBanner(config.banner)
          : ctx.seed.pick(PERSONAS)
      const quota: QuotaLimits = {
        sessionBytes: config.max_session_upload_bytes,
        sessionFiles: config.max_session_uploads,
        instanceBytes: config.max_total_upload_bytes,
        instanceFiles: config.max_total_uploads
      }
      const quarantine = path.join(ctx.artifactsDir, "ftp")
      const usage = yield* scanQuarantine(quarantine, quota.instanceFiles).pipe(
        Effect.catchAll((e) => Effect.as(Effect.logWarning(`ftp: ${e.message}`), { bytes: 0, files: 0 }))
      )
      const instance: Instance = {
        config,
        persona,
        files: makeBaitFs(ctx.seed),
        quarantine,
        idleTimeoutMs: ctx.limits.idleTimeoutMs,
        pasvRange: range,
        warn: rateLimitedWarning(60_000),
        quota,
        disk: { minFreeBytes: config.min_free_disk_bytes, minFreePercent: config.min_free_disk_percent },
        usage,
        // SHA-256 of the decky, the instance and the pair: stable across connections and restarts.
        loginDraw: (user, password) =>
          ctx.seed
            .bytes(6, `ftp-login:${ctx.seed.instanceId}:${JSON.stringify([user, password])}`)
            .readUIntBE(0, 6) /
          2 ** 48,
        clients: { count: 0 }
      }
      const listener = yield* serveTcp({
        ...address,
        events: ftpEvents,
        handler: (conn, events) => Effect.scoped(handleConnection(instance, conn, events))
      })
      return [listener]
    })
})
