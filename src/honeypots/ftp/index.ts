/**
 * ftp honeypot (spec/honeypots.md §5; RFC 959, RFC 2428 EPSV, RFC 3659 SIZE/MDTM): a vsFTPd /
 * ProFTPD / Pure-FTPd persona that records every login and, after a successful one, shows a
 * read-only bait tree. Passive data connections only (PORT/EPRT would make us connect out).
 */
import * as net from "node:net"
import { Effect, Option, Random, Schema, type Scope } from "effect"
import {
  type Connection,
  type ConnectionError,
  credentialFields,
  defineHoneypot,
  HoneypotContext,
  type HoneypotContextService,
  normalizeIp,
  serveTcp
} from "../runtime/index.js"
import { type BaitFile, listLine, makeBaitFs, mdtm } from "./BaitFs.js"

export const FtpConfig = Schema.Struct({
  /** Full welcome text; a leading `220 ` is added when missing (never doubled). */
  banner: Schema.optional(Schema.String),
  login_mode: Schema.optionalWith(Schema.Literal("never", "always", "probabilistic"), {
    default: () => "probabilistic" as const
  }),
  login_success_rate: Schema.optionalWith(Schema.Number.pipe(Schema.between(0, 1)), { default: () => 0.9 })
})
export type FtpConfig = typeof FtpConfig.Type

type Flavor = "vsftpd" | "proftpd" | "pureftpd"

interface Persona {
  readonly flavor: Flavor
  /** The greeting lines, each sent as-is with CRLF. */
  readonly greeting: ReadonlyArray<string>
}

const PERSONAS: ReadonlyArray<Persona> = [
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

/** How long a passive listener waits for the client's data connection. */
const DATA_ACCEPT_TIMEOUT = "15 seconds"
/** Commands per control connection (bounded even when the client pipelines without pause). */
const MAX_COMMANDS = 20_000

interface Passive {
  readonly port: number
  readonly accept: Effect.Effect<Option.Option<net.Socket>>
  readonly close: Effect.Effect<void>
}

/**
 * RFC 959 §3.2 passive mode: listen on the control connection's local address, accept one data
 * connection, and only from the control connection's peer (no FTP bounce through us). The session
 * owns the result and calls `close` when it is replaced, used, or the control connection ends.
 */
const openPassive = (host: string, peer: string): Effect.Effect<Passive> =>
  Effect.async<Passive>((resume) => {
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
          accept: Effect.async<net.Socket>((wake) => {
            const ready = sockets[0]
            if (ready !== undefined) return wake(Effect.succeed(ready))
            waiters.push((s) => wake(Effect.succeed(s)))
          }).pipe(Effect.timeoutOption(DATA_ACCEPT_TIMEOUT)),
          close: Effect.sync(close)
        })
      )
    })
    // Interrupted before the listener was handed over: do not leak it.
    return Effect.sync(close)
  })

/** Send `data` on the data socket and close it; resolves once the peer has it (or is gone). */
const sendData = (socket: net.Socket, data: Buffer): Effect.Effect<boolean> =>
  Effect.async<boolean>((resume) => {
    if (socket.destroyed) return resume(Effect.succeed(false))
    socket.once("close", (hadError) => resume(Effect.succeed(!hadError)))
    socket.end(data)
    return Effect.sync(() => socket.destroy())
  }).pipe(
    Effect.timeoutOption("60 seconds"),
    Effect.map((o) => Option.getOrElse(o, () => false))
  )

interface Session {
  user: string | undefined
  loggedIn: boolean
  cwd: string
  binary: boolean
  passive: Passive | undefined
  renameFrom: boolean
}

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

const handleConnection = (
  ctx: HoneypotContextService,
  config: FtpConfig,
  persona: Persona,
  files: ReadonlyArray<BaitFile>,
  conn: Connection
): Effect.Effect<void, ConnectionError, Scope.Scope> =>
  Effect.gen(function* () {
    const src = { src_ip: conn.remoteAddress, src_port: conn.remotePort }
    const words = WORDING[persona.flavor]
    const reply = (text: string) => conn.write(`${text}\r\n`)
    const session: Session = {
      user: undefined,
      loggedIn: false,
      cwd: "/",
      binary: false,
      passive: undefined,
      renameFrom: false
    }
    let unknown = 0
    yield* ctx.emit("ftp", "connection", src)
    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        if (session.passive !== undefined) yield* session.passive.close
        yield* ctx.emit("ftp", "disconnect", { ...src, unknown_commands: unknown })
      })
    )
    yield* conn.write(`${persona.greeting.join("\r\n")}\r\n`)

    const fileAt = (arg: string): BaitFile | undefined => {
      const p = resolvePath(session.cwd, arg)
      return files.find((f) => `/${f.name}` === p)
    }

    const dropPassive = Effect.suspend(() => {
      const p = session.passive
      session.passive = undefined
      return p === undefined ? Effect.void : p.close
    })

    /** Run one transfer over the pending passive connection (RFC 959 §5.4: 150 … 226). */
    const transfer = (preliminary: string, data: Buffer, done: string) =>
      Effect.gen(function* () {
        const p = session.passive
        if (p === undefined) return yield* reply("425 Use PORT or PASV first.")
        const socket = yield* p.accept
        if (Option.isNone(socket)) {
          yield* dropPassive
          return yield* reply("425 Failed to establish connection.")
        }
        yield* reply(preliminary)
        const ok = yield* sendData(socket.value, data)
        yield* dropPassive
        yield* reply(ok ? done : "426 Failure writing network stream.")
      })

    const listing = (arg: string, namesOnly: boolean): Buffer => {
      const flags = arg.split(" ").filter((a) => a.startsWith("-")).join("")
      const target = arg.split(" ").filter((a) => !a.startsWith("-"))[0]
      const showHidden = flags.includes("a")
      const dir = target === undefined ? session.cwd : resolvePath(session.cwd, target)
      const single = target === undefined ? undefined : fileAt(target)
      const visible =
        single !== undefined ? [single] : dir === "/" ? files.filter((f) => showHidden || !f.name.startsWith(".")) : []
      const now = new Date()
      const lines = visible.map((f) => (namesOnly ? f.name : listLine(f, now)))
      return Buffer.from(lines.map((l) => `${l}\r\n`).join(""), "utf8")
    }

    for (let i = 0; i < MAX_COMMANDS; i++) {
      const line = yield* conn.readLine()
      const sp = line.indexOf(" ")
      const verb = (sp < 0 ? line : line.slice(0, sp)).trim().toUpperCase()
      const arg = sp < 0 ? "" : line.slice(sp + 1)
      const needLogin = () => reply(words.needLogin)

      switch (verb) {
        case "USER": {
          if (session.loggedIn) {
            yield* reply("530 Can't change to another user.")
            break
          }
          session.user = arg
          yield* ctx.emit("ftp", "user", { ...src, username: arg })
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
          const success =
            config.login_mode === "always"
              ? true
              : config.login_mode === "never"
                ? false
                : (yield* Random.next) < config.login_success_rate
          yield* ctx.emit(
            "ftp",
            "auth_attempt",
            { ...src, username: session.user, ...credentialFields(session.user, arg), outcome: success ? "success" : "failure" },
            { severity: 4 }
          )
          if (success) {
            session.loggedIn = true
            yield* reply(words.loggedIn(printable(session.user)))
          } else {
            session.user = undefined
            yield* reply(words.loginFailed)
          }
          break
        }
        case "QUIT":
          yield* conn.end(`${words.goodbye}\r\n`)
          return
        case "NOOP":
          yield* reply("200 NOOP ok.")
          break
        case "SYST":
          yield* reply("215 UNIX Type: L8")
          break
        case "FEAT":
          yield* reply("211-Features:\r\n EPRT\r\n EPSV\r\n MDTM\r\n PASV\r\n REST STREAM\r\n SIZE\r\n TVFS\r\n UTF8\r\n211 End")
          break
        case "OPTS":
          yield* reply(/^utf8 on$/i.test(arg.trim()) ? "200 Always in UTF8 mode." : "501 Option not understood.")
          break
        case "HELP":
          yield* reply(
            "214-The following commands are recognized.\r\n ABOR ACCT ALLO APPE CDUP CWD  DELE EPRT EPSV FEAT HELP LIST MDTM MKD\r\n" +
              " MODE NLST NOOP OPTS PASS PASV PORT PWD  QUIT REIN REST RETR RMD  RNFR RNTO\r\n" +
              " SITE SIZE SMNT STAT STOR STOU STRU SYST TYPE USER XCUP XCWD XMKD XPWD XRMD\r\n214 Help OK."
          )
          break
        case "AUTH":
        case "PBSZ":
        case "PROT":
          // What vsftpd without ssl_enable answers; clients then carry on in clear text.
          yield* reply(words.needLogin)
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
              if (target === "/") {
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
              yield* reply(arg.trim().toUpperCase() === "F" ? "200 Structure set to F." : "504 Bad STRU command.")
              break
            case "PASV":
            case "EPSV": {
              yield* dropPassive
              const host = conn.localAddress
              const isV6 = net.isIPv6(host)
              if (verb === "PASV" && isV6) {
                yield* reply("425 PASV is not supported on IPv6; use EPSV.")
                break
              }
              const p = yield* openPassive(host, conn.remoteAddress)
              session.passive = p
              if (verb === "EPSV") yield* reply(`229 Entering Extended Passive Mode (|||${p.port}|)`)
              else
                yield* reply(
                  `227 Entering Passive Mode (${host.split(".").join(",")},${p.port >> 8},${p.port & 0xff}).`
                )
              break
            }
            case "PORT":
            case "EPRT":
              // Active mode means connecting to an address the client names: never from a honeypot.
              yield* reply("500 Illegal PORT command.")
              break
            case "LIST":
            case "NLST":
              yield* transfer(
                "150 Here comes the directory listing.",
                listing(arg, verb === "NLST"),
                "226 Directory send OK."
              )
              break
            case "RETR": {
              const f = fileAt(arg)
              yield* ctx.emit("ftp", "download_attempt", { ...src, path: resolvePath(session.cwd, arg), found: f !== undefined })
              if (f === undefined) {
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
              const f = fileAt(arg)
              yield* reply(f === undefined ? "550 Could not get file size." : `213 ${f.content.length}`)
              break
            }
            case "MDTM": {
              const f = fileAt(arg)
              yield* reply(f === undefined ? "550 Could not get file modification time." : `213 ${mdtm(f.mtime)}`)
              break
            }
            case "REST":
              yield* reply(`350 Restart position accepted (${Number.parseInt(arg, 10) || 0}).`)
              break
            case "ABOR":
              yield* dropPassive
              yield* reply("225 No transfer to ABOR.")
              break
            case "STAT":
              yield* reply(
                `211-FTP server status:\r\n     Connected to ${conn.localAddress}\r\n     Logged in as ${session.user ?? ""}\r\n` +
                  `     TYPE: ${session.binary ? "BINARY" : "ASCII"}\r\n211 End of status`
              )
              break
            case "STOR":
            case "STOU":
            case "APPE":
              // Read-only persona (like vsftpd with write_enable=NO): nothing is accepted or stored.
              yield* ctx.emit("ftp", "upload_attempt", { ...src, path: resolvePath(session.cwd, arg) })
              yield* dropPassive
              yield* reply("550 Permission denied.")
              break
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
  run: (options) =>
    Effect.gen(function* () {
      const ctx = yield* HoneypotContext
      const config = options.config
      const persona =
        config.banner !== undefined && config.banner !== "" ? personaFromBanner(config.banner) : ctx.seed.pick(PERSONAS)
      const files = makeBaitFs(ctx.seed)
      const listener = yield* serveTcp({
        service: "ftp",
        host: options.host,
        port: options.port(21),
        defaultPort: 21,
        handler: (conn) => Effect.scoped(handleConnection(ctx, config, persona, files, conn))
      })
      return [listener]
    })
})
