/**
 * One SSH transport per TCP connection: the harness hands the socket to an ssh2 `Server` of this
 * connection (so its limits, per-IP count and deadlines still apply), authentication runs in Auth.ts,
 * channels in Session.ts / Sftp.ts. Everything ssh2's callbacks start runs in this connection's
 * `FiberSet`, so closing the connection (or the runtime cutting it) interrupts all of it.
 */
import type * as net from "node:net"
import { Cause, Effect, FiberSet } from "effect"
import ssh2 from "ssh2"
import type { Connection, Emitter } from "../runtime/index.js"
import { authenticate } from "./Auth.js"
import type { SshEvent } from "./Events.js"
import type { SshConnection, SshInstance } from "./Instance.js"
import { serveSession } from "./Session.js"

/** sshd's SSH_MAX_BANNER_LEN: a longer identification line is invalid. */
const MAX_IDENT_LINE = 8192

/**
 * sshd's answer (kex.c, kex_exchange_identification) to the client's identification line `line`
 * (without its CR LF), or undefined when sshd accepts it. sshd reads it byte by byte; a server accepts
 * no line before the `SSH-` one.
 */
export const identificationReply = (line: string): string | undefined => {
  if (line.length <= 4 || !line.startsWith("SSH-")) return "Invalid SSH identification string."
  // sscanf(line, "SSH-%d.%d-%[^\n]\n", ...): %d skips white space and takes a sign; %[ needs a byte.
  const m = /^SSH-[ \t\v\f]*([+-]?\d+)\.[ \t\v\f]*([+-]?\d+)-[\s\S]/.exec(line)
  if (m === null) return "Invalid SSH identification string."
  const major = Number(m[1])
  const minor = Number(m[2])
  return major === 2 || (major === 1 && minor === 99) ? undefined : "Protocol major versions differ."
}

/**
 * Watch the client's first line as sshd reads it: CR only before LF, no NUL, at most 8192 bytes. On a
 * line sshd would refuse, send sshd's one-line error and close (ssh2, fed the same bytes, would close
 * without a word). Returns the listener to attach before ssh2's own.
 */
const identificationGuard = (socket: net.Socket): ((chunk: Buffer) => void) => {
  let line = ""
  let expectNewline = false
  const refuse = (reply: string) => {
    socket.removeListener("data", onData)
    if (socket.writable) socket.end(`${reply}\r\n`)
  }
  const onData = (chunk: Buffer): void => {
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!
      if (c === 0x0d) {
        expectNewline = true
        continue
      }
      if (c === 0x0a) {
        socket.removeListener("data", onData)
        const reply = identificationReply(line)
        if (reply !== undefined) refuse(reply)
        return
      }
      line += String.fromCharCode(c)
      if (c === 0 || expectNewline || line.length > MAX_IDENT_LINE) {
        refuse("Invalid SSH identification string.")
        return
      }
    }
  }
  return onData
}

const reportFailure = (cause: Cause.Cause<never>): Effect.Effect<void> =>
  Cause.isInterruptedOnly(cause) ? Effect.void : Effect.logError("ssh: connection task failed", cause)

export const handleConnection = (
  instance: SshInstance,
  conn: Connection,
  events: Emitter<SshEvent>
): Effect.Effect<void> =>
  Effect.gen(function* () {
    const { config } = instance
    const fibers = yield* FiberSet.make<void, never>()
    const runFork = yield* FiberSet.runtime(fibers)<never>()
    const sc: SshConnection = {
      instance,
      conn,
      events,
      fork: (effect) => {
        runFork(Effect.catchAllCause(effect, reportFailure))
      },
      user: "",
      tries: 0,
      failures: 0,
      commandEvents: 0
    }
    const { persona } = instance
    const server = yield* Effect.acquireRelease(
      Effect.sync(
        () =>
          new ssh2.Server({
            hostKeys: instance.hostKeys.map((key) => ({ key })),
            ident: persona.version,
            algorithms: persona.algorithms,
            strictKex: persona.strictKex,
            extInfo: persona.extInfo,
            ...(config.banner === undefined ? {} : { banner: config.banner })
          })
      ),
      (s) => Effect.sync(() => s.removeAllListeners())
    )
    server.on("error", () => {})
    server.on("connection", (client) => {
      client.on("error", () => {})
      authenticate(sc, client)
      client.on("ready", () => client.on("session", (accept) => serveSession(sc, accept())))
    })

    // Hand the raw socket to ssh2; destroyed when this scope closes, whoever closes it.
    const socket: net.Socket = yield* Effect.acquireRelease(
      Effect.sync(() => conn.detach()),
      (s) => Effect.sync(() => s.destroy())
    )
    yield* Effect.async<void>((resume) => {
      if (socket.destroyed) return resume(Effect.void)
      socket.once("close", () => resume(Effect.void))
      socket.on("data", identificationGuard(socket))
      server.injectSocket(socket)
    })
    // The client is gone and ssh2 has closed its channels: let what they started finish (store an
    // upload, save a recording). The harness bounds this wait (closeGraceMs), then interrupts.
    yield* FiberSet.awaitEmpty(fibers)
  }).pipe(Effect.scoped)
