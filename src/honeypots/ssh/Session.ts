/**
 * Session channels (RFC 4254 §6) after login: a pty shell (motd, the fake shell, recorded as
 * asciicast), `exec` (one line through the same shell), the legacy scp sink (`scp -t`) and the SFTP
 * subsystem. Each channel runs as one fiber of its connection; ssh2's callbacks only start it.
 */
import { randomBytes } from "node:crypto"
import * as path from "node:path"
import { StringDecoder } from "node:string_decoder"
import { Effect } from "effect"
import type ssh2 from "ssh2"
import { crlf, emitSessionRecorded, motd, Recorder, Shell, shellPersona, Terminal } from "../shell/index.js"
import { openUpload, storeUpload, UPLOAD_HIGH_WATER_BYTES, type Upload } from "./Capture.js"
import { channelInput } from "./Channel.js"
import { homeOf, logCommands } from "./Commands.js"
import type { SshConnection } from "./Instance.js"
import { ScpSink } from "./Scp.js"
import { serveSftp } from "./Sftp.js"

const SLUG = "ssh"
const MAX_SESSION_INPUT = 4 * 1024 * 1024
const MAX_EXEC_COMMAND = 16 * 1024
/** Input read ahead of the shell or the scp sink before the channel is paused. */
const INPUT_HIGH_WATER = 64 * 1024

const newShell = (sc: SshConnection): Shell =>
  new Shell(
    shellPersona(sc.instance.ctx, {
      release: "22.04",
      hostname: sc.instance.hostname,
      localIp: sc.conn.localAddress,
      srcIp: sc.conn.remoteAddress
    }),
    sc.user
  )

interface Pty {
  readonly cols: number
  readonly rows: number
  readonly term: string
}

/** Answer one session channel's requests; shell, exec and sftp each start a fiber. */
export const serveSession = (sc: SshConnection, session: ssh2.Session): void => {
  let pty: Pty = { cols: 80, rows: 24, term: "xterm-256color" }
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
    stream.on("error", () => {})
    sc.fork(shellChannel(sc, stream, pty))
  })
  session.on("exec", (accept, _reject, info) => {
    const stream = accept()
    stream.on("error", () => {})
    sc.fork(execChannel(sc, stream, info.command.slice(0, MAX_EXEC_COMMAND)))
  })
  session.on("sftp", (accept) => {
    const sftp = accept()
    sftp.on("error", () => {})
    sc.fork(serveSftp(sc, sftp))
  })
}

/**
 * An interactive shell: the motd, then the line discipline over the fake shell. The recording is
 * saved when the session ends, however it ends (logout, client gone, the runtime's cut).
 */
const shellChannel = (sc: SshConnection, stream: ssh2.ServerChannel, pty: Pty): Effect.Effect<void> =>
  Effect.gen(function* () {
    const { hostname, transcripts } = sc.instance
    const terminal = new Terminal(newShell(sc))
    const recorder = new Recorder({
      width: pty.cols,
      height: pty.rows,
      term: pty.term,
      title: `${sc.user}@${hostname}`
    })
    // Unique without any shared counter: clock plus randomness, per session.
    const sid = `${Date.now().toString(36)}-${randomBytes(6).toString("hex")}`
    yield* Effect.addFinalizer(() =>
      Effect.flatMap(recorder.save(path.join(transcripts, `${sid}.cast`)), (s) =>
        emitSessionRecorded(sc.events, SLUG, sid, s)
      )
    )
    const out = (s: string) => {
      recorder.record("o", s)
      stream.write(s)
    }
    out(crlf(motd("22.04", sc.conn.localAddress)) + terminal.start())
    const input = yield* channelInput(stream, INPUT_HIGH_WATER)
    const utf8 = new StringDecoder("utf8")
    let inputBytes = 0
    for (;;) {
      const data = yield* input.next
      if (data === undefined) return stream.end()
      inputBytes += data.length
      if (inputBytes > MAX_SESSION_INPUT) return stream.close()
      const text = utf8.write(data)
      recorder.record("i", text)
      const r = terminal.feed(text)
      yield* logCommands(sc, r.commands)
      if (r.output !== "") out(r.output)
      if (r.exit) {
        stream.exit(0)
        return stream.end()
      }
    }
  }).pipe(Effect.scoped, Effect.asVoid)

/** `scp -t [-d] [-r] … <target>` (OpenSSH's scp -O sink); the target, unquoted. */
const scpTarget = (command: string): string | undefined => {
  const m =
    /^scp\s+(?:-\S+\s+)*-t\s+(?:-\S+\s+)*(?:--\s+)?(.+)$/.exec(command) ??
    /^scp\s+(?:-\S+\s+)*-[a-zA-Z]*t[a-zA-Z]*\s+(.+)$/.exec(command)
  return m === null ? undefined : m[1]!.trim().replace(/^['"]|['"]$/g, "")
}

/** One command line: the scp sink, or the fake shell with its exit status. */
const execChannel = (sc: SshConnection, stream: ssh2.ServerChannel, command: string): Effect.Effect<void> =>
  Effect.gen(function* () {
    yield* logCommands(sc, [{ cmd: command, pwd: homeOf(sc.user) }])
    const target = scpTarget(command)
    if (target !== undefined) {
      const isDir =
        /\s-[a-zA-Z]*d/.test(command) || target.endsWith("/") || target === "." || target === "/tmp"
      return yield* scpChannel(sc, stream, new ScpSink(target, isDir))
    }
    const r = newShell(sc).run(command)
    if (r.output.length > 0) stream.write(r.output)
    stream.exit(r.status)
    stream.end()
  })

const fail = (stream: ssh2.ServerChannel, reply: string | Buffer) =>
  Effect.sync(() => {
    stream.write(reply)
    stream.exit(1)
    stream.end()
  })

/**
 * The scp sink: each file streams into the quarantine as it arrives. While an upload's write-behind
 * is past the high-water mark the channel is not read, so the client waits for the disk. A file over
 * the cap (or past the instance budget) ends the transfer at once, with `file_skipped`.
 */
const scpChannel = (sc: SshConnection, stream: ssh2.ServerChannel, sink: ScpSink): Effect.Effect<void> =>
  Effect.gen(function* () {
    const { quarantine } = sc.instance
    let current: Upload | undefined
    // The channel may go mid-file: an unfinished upload is never stored.
    yield* Effect.addFinalizer(() => (current === undefined ? Effect.void : current.discard()))
    const input = yield* channelInput(stream, INPUT_HIGH_WATER)
    stream.write(Buffer.from([0]))
    for (;;) {
      const data = yield* input.next
      if (data === undefined) {
        stream.exit(0)
        return stream.end()
      }
      for (const step of sink.feed(data)) {
        switch (step._tag) {
          case "Ack":
            stream.write(Buffer.from([0]))
            break
          case "File": {
            const opened = yield* Effect.either(openUpload(quarantine, step.path))
            if (opened._tag === "Left") {
              yield* Effect.logWarning(`ssh scp upload ${step.path} refused: ${opened.left.message}`)
              return yield* fail(stream, `\x02scp: ${step.path}: Permission denied\n`)
            }
            current = opened.right
            stream.write(Buffer.from([0]))
            break
          }
          case "Data": {
            const upload = current
            if (upload === undefined) break
            const skipped = upload.write(step.chunk, upload.length)
            if (skipped !== undefined) {
              current = undefined
              yield* storeUpload(quarantine, upload, sc.events, { user: sc.user })
              const why = skipped === "too_large" ? "File too large" : "No space left on device"
              return yield* fail(stream, `\x02scp: ${upload.origPath}: ${why}\n`)
            }
            yield* upload.heldAtMost(UPLOAD_HIGH_WATER_BYTES)
            break
          }
          case "FileEnd": {
            const upload = current
            current = undefined
            if (upload !== undefined) yield* storeUpload(quarantine, upload, sc.events, { user: sc.user })
            stream.write(Buffer.from([0]))
            break
          }
          case "Fatal":
            return yield* fail(stream, step.reply)
        }
      }
    }
  }).pipe(Effect.scoped, Effect.asVoid)
