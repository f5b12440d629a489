/**
 * What one running ssh service (one decky's) shares between its connections: config, host keys,
 * the upload quarantine and its memory budget. Built in `run`, never at module level, so two
 * deckies in one process share nothing.
 */
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

export interface SshInstance {
  readonly ctx: HoneypotContextService
  readonly config: SshConfig
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
  /** `command` events emitted so far (bounded per connection). */
  commandEvents: number
}

const SLUG = "ssh"

/** ssh2's generator runs in the libuv pool (RSA-2048 takes most of a second: never on the event loop). */
const generateKey = (type: "rsa" | "ed25519"): Effect.Effect<string> =>
  Effect.async<string>((resume) => {
    const done = (err: Error | null, pair: ssh2.utils.KeyPairReturn) =>
      resume(err === null ? Effect.succeed(pair.private) : Effect.die(err))
    if (type === "rsa") ssh2.utils.generateKeyPair("rsa", { bits: 2048 }, done)
    else ssh2.utils.generateKeyPair("ed25519", done)
  })

/**
 * RSA-2048 + Ed25519, generated once per decky and process (the context's host-key memo) and
 * never persisted: a restart changes the fingerprint, as a re-imaged box would.
 */
const hostKeys = (ctx: HoneypotContextService): Effect.Effect<ReadonlyArray<ssh2.ParsedKey>> =>
  ctx.hostKeys
    .get("ssh:rsa-2048+ed25519", Effect.all([usableKey("rsa"), usableKey("ed25519")], { concurrency: 2 }))
    .pipe(
      Effect.flatMap((pems) =>
        Effect.forEach(pems, (pem) => {
          const key = ssh2.utils.parseKey(pem)
          return key instanceof Error ? Effect.die(key) : Effect.succeed(key)
        })
      )
    )

class UnusableKey extends Data.TaggedError("UnusableKey")<{ readonly type: string }> {}

/**
 * A generated key that ssh2 can also parse. ssh2's generator strips leading zero bytes from an Ed25519
 * public key, so about one key in 256 comes out malformed (mscdex/ssh2#1390, #1513); such a key is
 * thrown away and another generated (eight misses in a row: ~1e-19).
 */
const usableKey = (type: "rsa" | "ed25519"): Effect.Effect<string> =>
  generateKey(type).pipe(
    Effect.filterOrFail(
      (pem) => !(ssh2.utils.parseKey(pem) instanceof Error),
      () => new UnusableKey({ type })
    ),
    Effect.retry({ times: 7 }),
    Effect.orDie
  )

export const makeSshInstance = (config: SshConfig): Effect.Effect<SshInstance, never, HoneypotContext> =>
  Effect.gen(function* () {
    const ctx = yield* HoneypotContext
    return {
      ctx,
      config,
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
