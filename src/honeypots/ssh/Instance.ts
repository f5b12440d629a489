/**
 * What one running ssh service (one decky's) shares between its connections: config, host keys,
 * the upload quarantine and its memory budget. Built in `run`, never at module level, so two
 * deckies in one process share nothing.
 */
import * as fsp from "node:fs/promises"
import * as path from "node:path"
import { Data, Effect } from "effect"
import ssh2 from "ssh2"
import {
  type Connection,
  type Emitter,
  HoneypotContext,
  type HoneypotContextService
} from "../runtime/index.js"
import { type Quarantine, UploadBudget } from "./Capture.js"
import type { SshConfig } from "./Config.js"
import type { SshEvent } from "./Events.js"
import { personaFor, type SshPersona } from "./Persona.js"

export interface SshInstance {
  readonly ctx: HoneypotContextService
  readonly config: SshConfig
  /** The OpenSSH release it claims (config `version`). */
  readonly persona: SshPersona
  /** The hostname the shell and prompts show. */
  readonly hostname: string
  /** Parsed once per instance: ssh2 parses string keys again for every connection. */
  readonly hostKeys: ReadonlyArray<ssh2.ParsedKey>
  readonly quarantine: Quarantine
  /** Where session recordings go. */
  readonly transcripts: string
}

/** What the channels of one connection share: its emitter, its fiber set, who logged in, its counters. */
export interface SshConnection {
  readonly instance: SshInstance
  readonly conn: Connection
  readonly events: Emitter<SshEvent>
  /**
   * Run an effect started from an ssh2 callback as a fiber of this connection: closing the connection
   * interrupts it (its finalizers run). Failures are logged, never thrown into ssh2.
   */
  readonly fork: (effect: Effect.Effect<void>) => void
  /** The account the client logged in as ("" before). */
  user: string
  /** Authentication requests so far. */
  tries: number
  /** Failed authentication tries, as sshd counts them towards MaxAuthTries. */
  failures: number
  /** `command` events emitted so far (bounded per connection). */
  commandEvents: number
}

const SLUG = "ssh"

/** The host keys a fresh Debian/Ubuntu install generates, in sshd's default HostKey order. */
const HOST_KEYS = [
  { file: "ssh_host_rsa_key", type: "rsa", bits: 3072 },
  { file: "ssh_host_ecdsa_key", type: "ecdsa", bits: 256 },
  { file: "ssh_host_ed25519_key", type: "ed25519", bits: 256 }
] as const

type HostKeySpec = (typeof HOST_KEYS)[number]

class UnusableKey extends Data.TaggedError("UnusableKey")<{ readonly type: string }> {}

/** ssh2's generator runs in the libuv pool (RSA-3072 takes a second or more: never on the event loop). */
const generateKey = (spec: HostKeySpec): Effect.Effect<string> =>
  Effect.async<string>((resume) => {
    const done = (err: Error | null, pair: ssh2.utils.KeyPairReturn) =>
      resume(err === null ? Effect.succeed(pair.private) : Effect.die(err))
    if (spec.type === "ed25519") ssh2.utils.generateKeyPair("ed25519", done)
    else ssh2.utils.generateKeyPair(spec.type, { bits: spec.bits }, done)
  })

const parse = (pem: string): ssh2.ParsedKey | undefined => {
  const key = ssh2.utils.parseKey(pem)
  return key instanceof Error ? undefined : key
}

/**
 * A generated key that ssh2 can also parse. ssh2's generator strips leading zero bytes from an Ed25519
 * public key, so about one key in 256 comes out malformed (mscdex/ssh2#1390, #1513); such a key is
 * thrown away and another generated (eight misses in a row: ~1e-19).
 */
const usableKey = (spec: HostKeySpec): Effect.Effect<string> =>
  generateKey(spec).pipe(
    Effect.filterOrFail(
      (pem) => parse(pem) !== undefined,
      () => new UnusableKey({ type: spec.type })
    ),
    Effect.retry({ times: 7 }),
    Effect.orDie
  )

/**
 * One host key, kept in `<dir>/<file>` (mode 0600): read if it is there and parses, generated and
 * written (to a temporary name, then renamed) otherwise. A key that cannot be stored is still used,
 * for this process only, and logged.
 */
const persistedKey = (dir: string, spec: HostKeySpec): Effect.Effect<string> => {
  const file = path.join(dir, spec.file)
  return Effect.tryPromise(() => fsp.readFile(file, "utf8")).pipe(
    Effect.flatMap((pem) =>
      parse(pem) === undefined ? Effect.fail(new UnusableKey({ type: spec.type })) : Effect.succeed(pem)
    ),
    Effect.orElse(() =>
      usableKey(spec).pipe(
        Effect.tap((pem) =>
          Effect.gen(function* () {
            const tmp = `${file}.${process.pid}.tmp`
            yield* Effect.tryPromise(() => fsp.mkdir(dir, { recursive: true, mode: 0o700 }))
            yield* Effect.tryPromise(() => fsp.writeFile(tmp, pem, { mode: 0o600 }))
            yield* Effect.tryPromise(() => fsp.rename(tmp, file))
          }).pipe(
            Effect.catchAll((cause) => Effect.logWarning(`ssh: could not store host key ${file}`, cause))
          )
        )
      )
    )
  )
}

/**
 * RSA-3072, ECDSA P-256 and Ed25519, generated once per decky and kept under its artifacts directory
 * (`<artifactsDir>/ssh/host_keys/`), so the fingerprints survive restarts and mutations, as a real
 * host's /etc/ssh/ssh_host_*_key do. Memoised per decky and process (the context's host-key memo).
 */
const hostKeys = (ctx: HoneypotContextService): Effect.Effect<ReadonlyArray<ssh2.ParsedKey>> => {
  const dir = path.join(ctx.artifactsDir, SLUG, "host_keys")
  return ctx.hostKeys
    .get(
      `ssh:${dir}`,
      Effect.forEach(HOST_KEYS, (spec) => persistedKey(dir, spec), { concurrency: HOST_KEYS.length })
    )
    .pipe(
      Effect.flatMap((pems) =>
        Effect.forEach(pems, (pem) => {
          const key = parse(pem)
          return key === undefined ? Effect.dieMessage("ssh: unparsable host key") : Effect.succeed(key)
        })
      )
    )
}

export const makeSshInstance = (config: SshConfig): Effect.Effect<SshInstance, never, HoneypotContext> =>
  Effect.gen(function* () {
    const ctx = yield* HoneypotContext
    return {
      ctx,
      config,
      persona: personaFor(config.version),
      hostname: config.hostname ?? ctx.hostname,
      hostKeys: yield* hostKeys(ctx),
      quarantine: {
        dir: path.join(ctx.artifactsDir, SLUG, "captured"),
        // One write-behind allowance for every upload in flight on this instance (see Capture.ts).
        budget: new UploadBudget(config.upload_buffer_mb * 1024 * 1024)
      },
      transcripts: path.join(ctx.artifactsDir, SLUG, "transcripts")
    }
  })
