/**
 * Helpers for the ssh tests: the OpenSSH client options, an ssh instance whose upload budget the test
 * can read, and a scripted ssh2 client for what OpenSSH's tools will not do (stall or flood mid-upload).
 */
import { Effect, Schema } from "effect"
import ssh2 from "ssh2"
import { serveTcp } from "../../src/honeypots/runtime/index.js"
import { makeSshInstance } from "../../src/honeypots/ssh/Instance.js"
import { SshConfig, sshEvents } from "../../src/honeypots/ssh/index.js"
import { handleConnection } from "../../src/honeypots/ssh/Transport.js"

/** The OpenSSH client options every password-login test uses: no host-key prompts, no keys, quiet. */
export const CLIENT_OPTIONS = [
  "StrictHostKeyChecking=no",
  "UserKnownHostsFile=/dev/null",
  "PubkeyAuthentication=no",
  "LogLevel=ERROR"
].flatMap((o) => ["-o", o])

/**
 * The ssh module's own pieces (instance + connection handler) on an ephemeral port, so a test can
 * watch the instance's upload budget.
 */
export const startSsh = (config: Record<string, unknown> = {}) =>
  Effect.gen(function* () {
    const decoded = yield* Schema.decodeUnknown(SshConfig)(config).pipe(Effect.orDie)
    const instance = yield* makeSshInstance(decoded)
    const listener = yield* serveTcp({
      host: "127.0.0.1",
      port: 0,
      events: sshEvents,
      handler: (conn, events) => handleConnection(instance, conn, events)
    })
    return { port: listener.port, instance, budget: instance.quarantine.budget }
  })

/** A logged-in ssh2 client, ended with the scope. */
export const sshClient = (port: number, username = "root", password = "admin") =>
  Effect.acquireRelease(
    Effect.async<ssh2.Client, Error>((resume) => {
      const client = new ssh2.Client()
      client.once("ready", () => resume(Effect.succeed(client)))
      client.once("error", (e) => resume(Effect.fail(e)))
      client.connect({ host: "127.0.0.1", port, username, password, readyTimeout: 10_000 })
    }),
    (client) => Effect.sync(() => client.end())
  ).pipe(Effect.orDie)

export const exec = (client: ssh2.Client, command: string) =>
  Effect.async<ssh2.ClientChannel, Error>((resume) => {
    client.exec(command, (err, stream) => resume(err ? Effect.fail(err) : Effect.succeed(stream)))
  }).pipe(Effect.orDie)

export const shell = (client: ssh2.Client) =>
  Effect.async<ssh2.ClientChannel, Error>((resume) => {
    client.shell({ term: "xterm", cols: 80, rows: 24 }, (err, stream) =>
      resume(err ? Effect.fail(err) : Effect.succeed(stream))
    )
  }).pipe(Effect.orDie)

export const sftp = (client: ssh2.Client) =>
  Effect.async<ssh2.SFTPWrapper, Error>((resume) => {
    client.sftp((err, s) => resume(err ? Effect.fail(err) : Effect.succeed(s)))
  }).pipe(Effect.orDie)

export const openForWrite = (s: ssh2.SFTPWrapper, file: string) =>
  Effect.async<Buffer, Error>((resume) => {
    s.open(file, "w", (err, handle) => resume(err ? Effect.fail(err) : Effect.succeed(handle)))
  }).pipe(Effect.orDie)

/** Send `count` WRITEs of `chunk` back to back, without waiting for any reply; wait for all replies. */
export const floodWrites = (s: ssh2.SFTPWrapper, handle: Buffer, chunk: Buffer, count: number) =>
  Effect.async<void>((resume) => {
    let left = count
    for (let i = 0; i < count; i++)
      s.write(handle, chunk, 0, chunk.length, i * chunk.length, () => {
        if (--left === 0) resume(Effect.void)
      })
  })

export const closeHandle = (s: ssh2.SFTPWrapper, handle: Buffer) =>
  Effect.async<void>((resume) => {
    s.close(handle, () => resume(Effect.void))
  })

/** Read from a channel until `want` bytes of output arrived (scp acknowledgements). */
export const readBytes = (stream: ssh2.ClientChannel, want: number) =>
  Effect.async<Buffer>((resume) => {
    let got = Buffer.alloc(0)
    const onData = (d: Buffer) => {
      got = Buffer.concat([got, d])
      if (got.length >= want) {
        stream.off("data", onData)
        resume(Effect.succeed(got))
      }
    }
    stream.on("data", onData)
    return Effect.sync(() => stream.off("data", onData))
  })

/** Poll `check` until it holds (servers clean up asynchronously); the last value either way. */
export const eventually = <A>(value: () => A, check: (a: A) => boolean, tries = 100) =>
  Effect.gen(function* () {
    for (let i = 0; i < tries; i++) {
      const v = value()
      if (check(v)) return v
      yield* Effect.sleep("50 millis")
    }
    return value()
  })
