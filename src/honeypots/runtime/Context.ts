/**
 * The running decky as its services see it: identity (name, hostname, persona seed), limits, where
 * artifacts go, the per-decky material caches, and the emitters its events go through. Everything a
 * service keeps between connections hangs off this instance or off the service's own `run`, never off
 * a module, so deckies that share a process share nothing an attacker could observe.
 */
import { Context, Effect, Layer } from "effect"
import { headerToken } from "../../logging/Rfc5424.js"
import { type Emitter, EventSink, makeEmitter, type Peer } from "./Emitter.js"
import type { ServiceEvents, TaggedEvent } from "./Events.js"
import { defaultLimits, type HoneypotLimits } from "./Limits.js"
import { type Memo, makeMemo } from "./Memo.js"
import { InstanceSeed } from "./Seed.js"
import type { TlsError, TlsMaterial } from "./Tls.js"

export interface HoneypotContextService {
  /** NODE_NAME: the decky name, the RFC 5424 HOSTNAME of its events. */
  readonly decky: string
  /** The decky's hostname as shown to attackers (prompts, banners). */
  readonly hostname: string
  readonly seed: InstanceSeed
  readonly limits: HoneypotLimits
  /** Root for captured files, sessions and mail (per decky). */
  readonly artifactsDir: string
  /** Files an operator planted (`POST /deckies/files`): the fake shell shows them. */
  readonly plantedFiles: ReadonlyArray<PlantedFile>
  /** Self-signed certificates, one per common name (RSA generation costs ~100 ms). */
  readonly certificates: Memo<TlsMaterial, TlsError>
  /** SSH host keys (PEM), generated once per decky and process. */
  readonly hostKeys: Memo<ReadonlyArray<string>, never>
  /** An emitter of `events` for `peer` (a connection's), or for no peer (service-level events). */
  readonly emitter: <E extends TaggedEvent>(events: ServiceEvents<E>, peer?: Peer) => Emitter<E>
}

export class HoneypotContext extends Context.Tag("decnet/honeypots/HoneypotContext")<
  HoneypotContext,
  HoneypotContextService
>() {}

/** A file an operator planted on the decky (a canary, a lure): what its fake filesystems show. */
export interface PlantedFile {
  /** Absolute, normalised. */
  readonly path: string
  readonly content: string
  /** Permission bits (0o644 = 420). */
  readonly mode: number
  /** Epoch seconds; null: the persona's default. */
  readonly mtime: number | null
}

export interface HoneypotContextOptions {
  readonly decky: string
  readonly plantedFiles?: ReadonlyArray<PlantedFile> | undefined
  readonly hostname?: string | undefined
  readonly instanceId?: string | undefined
  readonly limits?: Partial<HoneypotLimits> | undefined
  readonly artifactsDir?: string | undefined
}

/** Certificates and host keys a decky may hold at once (common names are operator-chosen). */
const MATERIAL_CAPACITY = 16

/** Build one decky instance (each build is a new, empty one). */
export const makeHoneypotContext = (
  options: HoneypotContextOptions
): Effect.Effect<HoneypotContextService, never, EventSink> =>
  Effect.gen(function* () {
    const sink = yield* EventSink
    // The HOSTNAME header is one printable token; a name that is not stays readable, not broken.
    const decky = headerToken(options.decky, 255)
    return {
      decky,
      hostname: options.hostname ?? decky,
      seed: new InstanceSeed(decky, options.instanceId ?? ""),
      limits: { ...defaultLimits, ...options.limits },
      artifactsDir: options.artifactsDir ?? `/var/lib/decnet/artifacts/${decky}`,
      plantedFiles: options.plantedFiles ?? [],
      certificates: makeMemo(MATERIAL_CAPACITY),
      hostKeys: makeMemo(MATERIAL_CAPACITY),
      emitter: (events, peer) => makeEmitter(sink, decky, events, peer)
    }
  })

export const HoneypotContextLive = (
  options: HoneypotContextOptions
): Layer.Layer<HoneypotContext, never, EventSink> =>
  Layer.effect(HoneypotContext, makeHoneypotContext(options))
