/**
 * ssh honeypot (spec/honeypots.md §1): an OpenSSH 8.9p1 / Ubuntu 22.04 persona on the ssh2
 * library. Every password, keyboard-interactive and public-key try is an `auth_attempt`; a login
 * lands in the fake shell (pty → recorded asciicast, exec → one command); scp/SFTP uploads are
 * quarantined.
 */
import { createHash, randomBytes } from "node:crypto"
import type * as net from "node:net"
import * as path from "node:path"
import { Effect, Runtime, Schema } from "effect"
import ssh2 from "ssh2"
import {
  type Connection,
  credentialFields,
  defineHoneypot,
  HoneypotContext,
  type HoneypotContextService,
  serveTcp
} from "../runtime/index.js"
import { crlf, emitCommand, motd, Recorder, Shell, shellPersona, Terminal } from "../shell/index.js"
import { MAX_BUFFERED_UPLOAD_BYTES, storeUpload, Upload, UploadBudget, type Uploader } from "./Capture.js"
import { ScpSink } from "./Scp.js"

export const SshConfig = Schema.Struct({
  /** Root password (`SSH_ROOT_PASSWORD`). */
  password: Schema.optionalWith(Schema.String, { default: () => "admin" }),
  /** The extra sudo user (`SSH_USER`) and its password. */
  user: Schema.optionalWith(Schema.String, { default: () => "ubuntu" }),
  user_password: Schema.optionalWith(Schema.String, { default: () => "admin" }),
  hostname: Schema.optional(Schema.String),
  /** Software version after `SSH-2.0-`. */
  version: Schema.optionalWith(Schema.String, { default: () => "OpenSSH_8.9p1 Ubuntu-3ubuntu0.4" }),
  /** Pre-auth banner text (sshd `Banner`); none by default, like a stock Ubuntu. */
  banner: Schema.optional(Schema.String),
  /** Offer keyboard-interactive (sshd KbdInteractiveAuthentication); more clients then reveal a password. */
  keyboard_interactive: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  /** Accept any password on the Nth try of a connection (0 = never; only the configured ones work). */
  accept_any_after: Schema.optionalWith(Schema.Int, { default: () => 0 }),
  /** MiB of uploads this instance may hold in memory at once, over all sessions (see Capture.ts). */
  upload_buffer_mb: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 4096)), {
    default: () => MAX_BUFFERED_UPLOAD_BYTES / (1024 * 1024)
  })
})
export type SshConfig = typeof SshConfig.Type

const SLUG = "ssh"

// OpenSSH 8.9's default proposal, restricted to what ssh2 implements, in OpenSSH's order.
const ALGORITHMS: ssh2.Algorithms = {
  kex: [
    "curve25519-sha256",
    "curve25519-sha256@libssh.org",
    "ecdh-sha2-nistp256",
    "ecdh-sha2-nistp384",
    "ecdh-sha2-nistp521",
    "diffie-hellman-group-exchange-sha256",
    "diffie-hellman-group16-sha512",
    "diffie-hellman-group18-sha512",
    "diffie-hellman-group14-sha256"
  ],
  cipher: [
    "chacha20-poly1305@openssh.com",
    "aes128-ctr",
    "aes192-ctr",
    "aes256-ctr",
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com"
  ],
  serverHostKey: ["rsa-sha2-512", "rsa-sha2-256", "ssh-ed25519"],
  hmac: [
    "hmac-sha2-256-etm@openssh.com",
    "hmac-sha2-512-etm@openssh.com",
    "hmac-sha1-etm@openssh.com",
    "hmac-sha2-256",
    "hmac-sha2-512",
    "hmac-sha1"
  ],
  compress: ["none", "zlib@openssh.com"]
}

/** Host keys are generated once per decky per process (RSA generation is slow). */
const hostKeyCache = new Map<string, ReadonlyArray<string>>()
const hostKeys = (decky: string): ReadonlyArray<string> => {
  const cached = hostKeyCache.get(decky)
  if (cached !== undefined) return cached
  const keys = [
    ssh2.utils.generateKeyPairSync("rsa", { bits: 2048 }).private,
    ssh2.utils.generateKeyPairSync("ed25519").private
  ]
  hostKeyCache.set(decky, keys)
  return keys
}

const MAX_SESSION_INPUT = 4 * 1024 * 1024
const MAX_COMMAND_EVENTS = 2000
const MAX_AUTH_TRIES = 64

const keyFingerprint = (data: Buffer): string =>
  `SHA256:${createHash("sha256").update(data).digest("base64").replace(/=+$/, "")}`

export const sshHoneypot = defineHoneypot({
  slug: SLUG,
  description: "OpenSSH server (Ubuntu 22.04 persona) with a fake interactive shell",
  ports: { tcp: [22], udp: [] },
  config: SshConfig,
  run: (options) =>
    Effect.gen(function* () {
      const ctx = yield* HoneypotContext
      const config = options.config
      const keys = hostKeys(ctx.decky)
      // One in-memory allowance for every upload in flight on this instance (see Capture.ts).
      const budget = new UploadBudget(config.upload_buffer_mb * 1024 * 1024)
      const listener = yield* serveTcp({
        service: SLUG,
        host: options.host,
        port: options.port(22),
        defaultPort: 22,
        handler: (conn) => handleConnection(ctx, config, keys, budget, conn)
      })
      return [listener]
    })
})

const handleConnection = (
  ctx: HoneypotContextService,
  config: SshConfig,
  keys: ReadonlyArray<string>,
  budget: UploadBudget,
  conn: Connection
): Effect.Effect<void> =>
  Effect.gen(function* () {
    const runtime = yield* Effect.runtime<never>()
    const fork = Runtime.runFork(runtime)
    const srcIp = conn.remoteAddress
    const srcPort = conn.remotePort
    const hostname = config.hostname ?? ctx.hostname
    const server = new ssh2.Server({
      hostKeys: [...keys],
      ident: config.version,
      algorithms: ALGORITHMS,
      ...(config.banner === undefined ? {} : { banner: config.banner })
    })
    server.on("error", () => {})
    let tries = 0
    let commandEvents = 0
    const methods: Array<ssh2.AuthenticationType> = config.keyboard_interactive
      ? ["publickey", "password", "keyboard-interactive"]
      : ["publickey", "password"]

    const credentialsOk = (user: string, password: string): boolean => {
      if (user === "root" && password === config.password) return true
      if (user === config.user && password === config.user_password) return true
      return config.accept_any_after > 0 && tries >= config.accept_any_after
    }
    const logAuth = (
      user: string,
      secret: string | Buffer,
      kind: "plaintext",
      extra: Record<string, string> = {}
    ) =>
      fork(
        ctx.emit(SLUG, "auth_attempt", {
          username: user,
          ...credentialFields(user, secret, kind),
          ...extra,
          src_ip: srcIp,
          src_port: srcPort
        })
      )

    server.on("connection", (client) => {
      let user = ""
      client.on("error", () => {})
      client.on("authentication", (auth) => {
        tries++
        if (tries > MAX_AUTH_TRIES) return client.end()
        if (auth.method === "password") {
          logAuth(auth.username, auth.password, "plaintext", { method: "password" })
          if (credentialsOk(auth.username, auth.password)) {
            user = auth.username
            return auth.accept()
          }
          return auth.reject(methods)
        }
        if (auth.method === "keyboard-interactive" && config.keyboard_interactive) {
          return auth.prompt([{ prompt: "Password: ", echo: false }], (answers) => {
            const pw = answers[0] ?? ""
            logAuth(auth.username, pw, "plaintext", { method: "keyboard-interactive" })
            if (credentialsOk(auth.username, pw)) {
              user = auth.username
              auth.accept()
            } else auth.reject(methods)
          })
        }
        if (auth.method === "publickey") {
          const fp = keyFingerprint(auth.key.data)
          fork(
            ctx.emit(SLUG, "auth_attempt", {
              username: auth.username,
              principal: auth.username,
              secret_printable: fp,
              secret_b64: auth.key.data.toString("base64"),
              secret_kind: "publickey",
              key_algo: auth.key.algo,
              fingerprint: fp,
              method: "publickey",
              src_ip: srcIp,
              src_port: srcPort
            })
          )
          return auth.reject(methods)
        }
        return auth.reject(methods)
      })

      client.on("ready", () => {
        const uploader: Uploader = { srcIp, srcPort, user }
        const who = { uid: user === "root" ? 0 : 1000, user, srcIp, srcPort }
        const logCommands = (cmds: ReadonlyArray<{ cmd: string; pwd: string }>) => {
          for (const c of cmds) {
            if (commandEvents++ >= MAX_COMMAND_EVENTS) return
            fork(emitCommand(ctx, SLUG, c, who))
          }
        }
        const newShell = () => {
          const shell = new Shell(
            shellPersona(ctx, { release: "22.04", hostname, localIp: conn.localAddress, srcIp }),
            user
          )
          return shell
        }

        client.on("session", (acceptSession) => {
          const session = acceptSession()
          let pty = { cols: 80, rows: 24, term: "xterm-256color" }
          session.on("env", (accept) => accept?.())
          session.on("pty", (accept, _reject, info) => {
            pty = { cols: info.cols || 80, rows: info.rows || 24, term: info.term || "xterm" }
            accept?.()
          })
          session.on("window-change", (accept) => accept?.())
          session.on("signal", (accept) => accept?.())
          session.on("auth-agent", (_accept, reject) => reject?.())
          session.on("x11", (_accept, reject) => reject?.())

          session.on("shell", (accept) => {
            const stream = accept()
            const shell = newShell()
            const terminal = new Terminal(shell)
            const recorder = new Recorder({
              width: pty.cols,
              height: pty.rows,
              term: pty.term,
              title: `${user}@${hostname}`
            })
            const sid = `${Date.now().toString(36)}-${randomBytes(6).toString("hex")}`
            let inputBytes = 0
            let finished = false
            const out = (s: string) => {
              recorder.record("o", s)
              stream.write(s)
            }
            const finish = () => {
              if (finished) return
              finished = true
              const file = path.join(ctx.artifactsDir, SLUG, "transcripts", `${sid}.cast`)
              fork(
                Effect.flatMap(recorder.save(file), (s) =>
                  ctx.emit(SLUG, "session_recorded", {
                    sid,
                    service: SLUG,
                    src_ip: srcIp,
                    src_port: srcPort,
                    duration_s: s.durationS.toFixed(3),
                    bytes: s.bytes,
                    truncated: s.truncated,
                    path: s.path
                  })
                )
              )
            }
            out(crlf(motd("22.04", conn.localAddress)) + terminal.start())
            stream.on("data", (data: Buffer) => {
              inputBytes += data.length
              if (inputBytes > MAX_SESSION_INPUT) {
                stream.close()
                return
              }
              const text = data.toString("utf8")
              recorder.record("i", text)
              const r = terminal.feed(text)
              logCommands(r.commands)
              if (r.output !== "") out(r.output)
              if (r.exit) {
                stream.exit(0)
                stream.end()
                finish()
              }
            })
            stream.on("close", finish)
            stream.on("end", () => {
              stream.end()
              finish()
            })
            stream.on("error", () => {})
          })

          session.on("exec", (accept, _reject, info) => {
            const stream = accept()
            stream.on("error", () => {})
            const command = info.command.slice(0, 16 * 1024)
            const scp =
              /^scp\s+(?:-\S+\s+)*-t\s+(?:-\S+\s+)*(?:--\s+)?(.+)$/.exec(command) ??
              /^scp\s+(?:-\S+\s+)*-[a-zA-Z]*t[a-zA-Z]*\s+(.+)$/.exec(command)
            logCommands([{ cmd: command, pwd: user === "root" ? "/root" : `/home/${user}` }])
            if (scp !== null) {
              const target = scp[1]!.trim().replace(/^['"]|['"]$/g, "")
              const sink = new ScpSink(
                target,
                /\s-[a-zA-Z]*d/.test(command) || target.endsWith("/") || target === "." || target === "/tmp",
                budget
              )
              stream.once("close", () => sink.discard())
              let received = 0
              stream.write(Buffer.from([0]))
              stream.on("data", (data: Buffer) => {
                received += data.length
                const step = sink.feed(data)
                for (const u of step.completed) fork(storeUpload(ctx, SLUG, u, uploader))
                if (step.reply.length > 0) stream.write(step.reply)
                if (step.fatal || received > 60 * 1024 * 1024) {
                  stream.exit(1)
                  stream.end()
                }
              })
              stream.on("end", () => {
                stream.exit(0)
                stream.end()
              })
              return
            }
            const shell = newShell()
            const r = shell.run(command)
            if (r.output.length > 0) stream.write(r.output)
            stream.exit(r.status)
            stream.end()
          })

          session.on("sftp", (accept) => {
            const sftp = accept()
            serveSftp(
              sftp,
              budget,
              (u) => fork(storeUpload(ctx, SLUG, u, uploader)),
              user === "root" ? "/root" : `/home/${user}`,
              (c) => logCommands([c])
            )
          })
        })
      })
    })

    // Hand the raw socket to ssh2; the harness keeps its limits (idle timeout, per-IP count) on it.
    const socket: net.Socket = conn.detach()
    yield* Effect.async<void>((resume) => {
      if (socket.destroyed) return resume(Effect.void)
      socket.once("close", () => resume(Effect.void))
      server.injectSocket(socket)
      return Effect.sync(() => socket.destroy())
    })
  })

const { STATUS_CODE, OPEN_MODE } = ssh2.utils.sftp

/**
 * ssh2's SFTPWrapper has no `exit()`, but OpenSSH's scp (SFTP mode) exits 1 unless the channel
 * reports `exit-status` 0, as sftp-server's does. Reach the protocol object ssh2 keeps on the
 * wrapper, checking every step at runtime (it is not part of the typed API).
 */
const sendExitStatus = (sftp: ssh2.SFTPWrapper, status: number): void => {
  const proto: unknown = Reflect.get(sftp, "_protocol")
  const outgoing: unknown = Reflect.get(sftp, "outgoing")
  if (typeof proto !== "object" || proto === null || typeof outgoing !== "object" || outgoing === null) return
  const exitStatus: unknown = Reflect.get(proto, "exitStatus")
  const id: unknown = Reflect.get(outgoing, "id")
  if (typeof exitStatus === "function" && typeof id === "number")
    Reflect.apply(exitStatus, proto, [id, status])
}

/** Minimal SFTP server: enough for `sftp put` / `scp -s`: realpath, stat, open-for-write, write, close. */
const serveSftp = (
  sftp: ssh2.SFTPWrapper,
  budget: UploadBudget,
  onUpload: (u: Upload) => void,
  home: string,
  onCommand: (c: { cmd: string; pwd: string }) => void
): void => {
  const handles = new Map<number, Upload | "dir-done" | "dir">()
  let nextHandle = 1
  const handleBuf = (n: number) => {
    const b = Buffer.alloc(4)
    b.writeUInt32BE(n)
    return b
  }
  const handleOf = (b: Buffer) => (b.length === 4 ? b.readUInt32BE(0) : -1)
  const abs = (p: string) => path.posix.resolve(home, p === "" ? "." : p)
  const dirAttrs = {
    mode: 0o40755,
    uid: 0,
    gid: 0,
    size: 4096,
    atime: 0,
    mtime: Math.floor(Date.now() / 1000)
  }
  sftp.on("error", () => {})
  // Handles still open when the channel goes are unfinished uploads: never stored, budget given back.
  sftp.once("close", () => {
    for (const u of handles.values()) if (u instanceof Upload) u.release()
    handles.clear()
  })
  // The client half-closes after its last request and waits for us to close the channel.
  sftp.on("end", () => {
    sendExitStatus(sftp, 0)
    sftp.end()
  })
  sftp.on("REALPATH", (reqid, p) => {
    const full = abs(p)
    sftp.name(reqid, [{ filename: full, longname: full, attrs: dirAttrs }])
  })
  const stat = (reqid: number, p: string) => {
    const full = abs(p)
    if (["/", "/tmp", "/root", "/var/tmp", "/home", home, "/dev/shm", "/opt"].includes(full))
      sftp.attrs(reqid, dirAttrs)
    else sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE)
  }
  sftp.on("STAT", stat)
  sftp.on("LSTAT", stat)
  sftp.on("OPEN", (reqid, filename, flags) => {
    if (handles.size > 64) return sftp.status(reqid, STATUS_CODE.FAILURE)
    if ((flags & OPEN_MODE.WRITE) === 0) return sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE)
    const full = abs(filename)
    onCommand({ cmd: `sftp put ${full}`, pwd: home })
    const h = nextHandle++
    handles.set(h, new Upload(full, budget))
    sftp.handle(reqid, handleBuf(h))
  })
  sftp.on("WRITE", (reqid, handle, _offset, data) => {
    const u = handles.get(handleOf(handle))
    if (!(u instanceof Upload)) return sftp.status(reqid, STATUS_CODE.FAILURE)
    u.write(data)
    sftp.status(reqid, STATUS_CODE.OK)
  })
  sftp.on("FSTAT", (reqid, handle) => {
    const u = handles.get(handleOf(handle))
    if (u instanceof Upload)
      sftp.attrs(reqid, { mode: 0o100644, uid: 0, gid: 0, size: u.size, atime: 0, mtime: 0 })
    else sftp.status(reqid, STATUS_CODE.FAILURE)
  })
  sftp.on("CLOSE", (reqid, handle) => {
    const h = handleOf(handle)
    const u = handles.get(h)
    handles.delete(h)
    if (u instanceof Upload) onUpload(u)
    sftp.status(reqid, u === undefined ? STATUS_CODE.FAILURE : STATUS_CODE.OK)
  })
  sftp.on("OPENDIR", (reqid, p) => {
    const h = nextHandle++
    handles.set(h, "dir")
    void p
    sftp.handle(reqid, handleBuf(h))
  })
  sftp.on("READDIR", (reqid, handle) => {
    const h = handleOf(handle)
    if (handles.get(h) === "dir") {
      handles.set(h, "dir-done")
      return sftp.name(reqid, [
        {
          filename: ".",
          longname: "drwxr-xr-x    2 root     root         4096 Oct 12 09:41 .",
          attrs: dirAttrs
        },
        {
          filename: "..",
          longname: "drwxr-xr-x   19 root     root         4096 Oct 12 09:41 ..",
          attrs: dirAttrs
        }
      ])
    }
    sftp.status(reqid, STATUS_CODE.EOF)
  })
  for (const ev of ["SETSTAT", "FSETSTAT", "MKDIR"] as const)
    sftp.on(ev, (reqid: number) => sftp.status(reqid, STATUS_CODE.OK))
  for (const ev of ["READ", "REMOVE", "RMDIR", "RENAME", "READLINK", "SYMLINK"] as const)
    sftp.on(ev, (reqid: number) =>
      sftp.status(reqid, ev === "READ" ? STATUS_CODE.EOF : STATUS_CODE.PERMISSION_DENIED)
    )
}
