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
      commandEvents: 0
    }
    const server = yield* Effect.acquireRelease(
      Effect.sync(
        () =>
          new ssh2.Server({
            hostKeys: instance.hostKeys.map((key) => ({ key })),
            ident: config.version,
            algorithms: ALGORITHMS,
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
      server.injectSocket(socket)
    })
    // The client is gone and ssh2 has closed its channels: let what they started finish (store an
    // upload, save a recording). The harness bounds this wait (closeGraceMs), then interrupts.
    yield* FiberSet.awaitEmpty(fibers)
  }).pipe(Effect.scoped)
