/**
 * Running one decky: who it is (name, hostname, persona instance, artifacts root), which ports its
 * services bind, its HoneypotContext, and starting every service in one scope. `decnet decky` (the
 * container entrypoint), `decnet honeypot`, the in-process fleet runtime and the tests share this; a
 * command only turns its flags into a `DeckyPlan`.
 */
import { Data, Effect, Layer, Option, type Scope } from "effect"
import type { DecnetSettings } from "../config/DecnetConfig.js"
import { loadHoneypots, type UnknownHoneypot } from "../honeypots/Registry.js"
import { describeServices, modulePorts, type PortPlan, portOf, type RunningService } from "./Ports.js"

export type { PortPlan, RunningService } from "./Ports.js"

import {
  type EventSink,
  type Honeypot,
  type HoneypotConfigError,
  HoneypotContext,
  HoneypotContextLive,
  type HoneypotLimits,
  type HoneypotListenError,
  makeHoneypotContext,
  type PlantedFile,
  type UnknownConfigKeys
} from "../honeypots/runtime/index.js"

export class DeckyPlanError extends Data.TaggedError("DeckyPlanError")<{ readonly message: string }> {}

// ---- identity --------------------------------------------------------------------------------------

export interface DeckyIdentity {
  /** NODE_NAME: the RFC 5424 HOSTNAME of its events and the persona seed. */
  readonly name: string
  /** What attackers see in prompts and banners. */
  readonly hostname: string
  readonly instanceId: string
  readonly artifactsDir: string
}

/** What a caller may pin; the rest comes from the decky's environment (spec fleet §2), then defaults. */
export interface IdentityOverrides {
  readonly name?: Option.Option<string> | undefined
  readonly hostname?: Option.Option<string> | undefined
  readonly instanceId?: Option.Option<string> | undefined
  readonly artifactsDir?: Option.Option<string> | undefined
}

const DEFAULT_DECKY_NAME = "decky"

/** Flags first, then NODE_NAME / HOSTNAME / INSTANCE_ID, then `decky`; artifacts under the root. */
export const resolveIdentity = (
  overrides: IdentityOverrides,
  settings: Pick<DecnetSettings, "artifactsRoot" | "decky">
): DeckyIdentity => {
  const pick = (o: Option.Option<string> | undefined) => o ?? Option.none()
  const name = pick(overrides.name).pipe(
    Option.orElse(() => settings.decky.nodeName),
    Option.orElse(() => settings.decky.hostname),
    Option.getOrElse(() => DEFAULT_DECKY_NAME)
  )
  return {
    name,
    hostname: Option.getOrElse(pick(overrides.hostname), () => name),
    instanceId: pick(overrides.instanceId).pipe(
      Option.orElse(() => settings.decky.instanceId),
      Option.getOrElse(() => "")
    ),
    artifactsDir: Option.getOrElse(
      pick(overrides.artifactsDir),
      () => `${settings.artifactsRoot.replace(/\/+$/, "")}/${name}`
    )
  }
}

// ---- ports (fleet/Ports.ts) ---------------------------------------------------------------------

/** Refuse a plan that names a port a service lacks, or pushes a known port outside 1–65535. */
const checkPorts = (modules: ReadonlyArray<Honeypot>, plan: PortPlan): Effect.Effect<void, DeckyPlanError> =>
  Effect.gen(function* () {
    if (plan._tag === "Explicit")
      for (const key of plan.ports.keys()) {
        const [slug = "", port = ""] = key.split(":")
        const m = modules.find((x) => x.slug === slug)
        if (m === undefined)
          return yield* new DeckyPlanError({ message: `--port ${slug}=…: ${slug} is not in --services` })
        if (!modulePorts(m).includes(Number(port)))
          return yield* new DeckyPlanError({
            message: `--port ${slug}:${port}=…: ${slug}'s ports are ${modulePorts(m).join(", ")}`
          })
      }
    const map = portOf(plan)
    const offset = plan.offset
    for (const m of modules)
      for (const p of modulePorts(m)) {
        const to = map(m.slug, p)
        if (to !== 0 && (to < 1 || to > 65535))
          return yield* new DeckyPlanError({
            message: `--port-offset ${offset} puts ${m.slug}'s port ${p} at ${to}, outside 1-65535`
          })
      }
  })

// ---- plan and run ----------------------------------------------------------------------------------

export interface DeckyServiceSpec {
  readonly honeypot: Honeypot
  readonly config?: unknown
}

export interface DeckyPlan {
  readonly identity: DeckyIdentity
  /** The decky's address: every service binds here. */
  readonly host: string
  readonly services: ReadonlyArray<DeckyServiceSpec>
  readonly ports: PortPlan
  readonly limits: HoneypotLimits
  readonly unknownConfigKeys: UnknownConfigKeys
  /** Files planted on the decky (`--files`), shown by its fake shell. */
  readonly plantedFiles: ReadonlyArray<PlantedFile>
}

export interface DeckyRequest {
  readonly identity: DeckyIdentity
  readonly host: string
  readonly slugs: ReadonlyArray<string>
  /** Per-service config keyed by slug; a key that is not among `slugs` is refused. */
  readonly configs?: Readonly<Record<string, unknown>> | undefined
  readonly ports?: PortPlan | undefined
  readonly limits: HoneypotLimits
  readonly unknownConfigKeys?: UnknownConfigKeys | undefined
  readonly plantedFiles?: ReadonlyArray<PlantedFile> | undefined
}

/** The fleet's planted files (base64 bodies) as the honeypot runtime shows them (UTF-8 text). */
export const plantedFilesOf = (
  files: ReadonlyArray<{
    readonly path: string
    readonly content_b64: string
    readonly mode: number
    readonly mtime: number | null
  }>
): ReadonlyArray<PlantedFile> =>
  files.map((f) => ({
    path: f.path,
    content: Buffer.from(f.content_b64, "base64").toString("utf8"),
    mode: f.mode,
    mtime: f.mtime
  }))

/** Load the modules (one typo fails before anything loads), pair them with their configs, check ports. */
export const planDecky = (
  request: DeckyRequest
): Effect.Effect<DeckyPlan, UnknownHoneypot | DeckyPlanError> =>
  Effect.gen(function* () {
    const slugs = [...new Set(request.slugs)]
    if (slugs.length === 0)
      return yield* new DeckyPlanError({ message: "a decky needs at least one service" })
    const configs = request.configs ?? {}
    for (const key of Object.keys(configs))
      if (!slugs.includes(key))
        return yield* new DeckyPlanError({
          message: `--config has an entry for '${key}', which is not in --services`
        })
    const modules = yield* loadHoneypots(slugs)
    const ports = request.ports ?? { _tag: "Offset", offset: 0 }
    yield* checkPorts(modules, ports)
    return {
      identity: request.identity,
      host: request.host,
      services: modules.map((honeypot): DeckyServiceSpec => ({ honeypot, config: configs[honeypot.slug] })),
      ports,
      limits: request.limits,
      unknownConfigKeys: request.unknownConfigKeys ?? "warn",
      plantedFiles: request.plantedFiles ?? []
    }
  })

export interface RunningDecky {
  readonly name: string
  readonly host: string
  readonly services: ReadonlyArray<RunningService>
}

const contextOptions = (
  plan: Pick<DeckyPlan, "identity" | "limits"> & { readonly plantedFiles?: ReadonlyArray<PlantedFile> }
) => ({
  decky: plan.identity.name,
  hostname: plan.identity.hostname,
  instanceId: plan.identity.instanceId,
  artifactsDir: plan.identity.artifactsDir,
  limits: plan.limits,
  plantedFiles: plan.plantedFiles ?? []
})

/** The decky's HoneypotContext as a layer: its identity and limits, events into the given sink. */
export const deckyContext = (
  plan: Pick<DeckyPlan, "identity" | "limits">
): Layer.Layer<HoneypotContext, never, EventSink> => HoneypotContextLive(contextOptions(plan))

/**
 * Start every service of the decky; they stay up until the scope closes. A service that fails to
 * bind fails the whole decky with an error naming it.
 */
export const startDecky = (
  plan: DeckyPlan
): Effect.Effect<RunningDecky, HoneypotListenError | HoneypotConfigError, Scope.Scope | EventSink> =>
  Effect.gen(function* () {
    // The context directly, not through Layer.build: a fleet runs many deckies in one process.
    const ctx = yield* makeHoneypotContext(contextOptions(plan))
    const port = portOf(plan.ports)
    const services = yield* Effect.forEach(plan.services, ({ honeypot, config }) =>
      honeypot
        .start({
          host: plan.host,
          config,
          port: (p) => port(honeypot.slug, p),
          unknownConfigKeys: plan.unknownConfigKeys
        })
        .pipe(Effect.map((listeners): RunningService => ({ slug: honeypot.slug, listeners })))
    ).pipe(Effect.provideService(HoneypotContext, ctx))
    const running = { name: plan.identity.name, host: plan.host, services }
    yield* Effect.logInfo(`decky ${running.name} up: ${describeServices(services)}`)
    return running
  }).pipe(Effect.withSpan("Decky.start"))

/** A decky that runs while the layer is alive (`Layer.launch` keeps it up until interrupted). */
export const DeckyLive = (
  plan: DeckyPlan,
  onStarted: (running: RunningDecky) => Effect.Effect<void> = () => Effect.void
): Layer.Layer<never, HoneypotListenError | HoneypotConfigError, EventSink> =>
  Layer.scopedDiscard(Effect.flatMap(startDecky(plan), onStarted))
