/**
 * Runs one decky's services in one process: the `decnet decky` container entrypoint and the unit the
 * embedded runtime starts per decky. Each service binds in the caller's scope; a service that fails to
 * bind fails the whole decky with a clear error naming it. Modules come from the lazy Registry.
 */
import { Effect, type Scope } from "effect"
import { loadHoneypots, type UnknownHoneypot } from "./Registry.js"
import {
  type Honeypot,
  type HoneypotConfigError,
  HoneypotContext,
  type HoneypotListenError,
  type Listener,
  type UnknownConfigKeys
} from "./runtime/index.js"

export interface DeckyServiceSpec {
  readonly honeypot: Honeypot
  readonly config?: unknown
}

export interface RunningService {
  readonly slug: string
  readonly listeners: ReadonlyArray<Listener>
}

export interface DeckyPlan {
  readonly host: string
  readonly services: ReadonlyArray<DeckyServiceSpec>
  /** Port mapping shared by all services: identity, an offset, or explicit per-port overrides. */
  readonly port?: ((slug: string, defaultPort: number) => number) | undefined
  readonly unknownConfigKeys?: UnknownConfigKeys | undefined
}

/** Load the modules for `slugs` and pair each with its entry of `configs` (keyed by slug). */
export const planServices = (
  slugs: ReadonlyArray<string>,
  configs: Readonly<Record<string, unknown>> = {}
): Effect.Effect<ReadonlyArray<DeckyServiceSpec>, UnknownHoneypot> =>
  Effect.map(loadHoneypots(slugs), (modules) =>
    modules.map((honeypot): DeckyServiceSpec => ({ honeypot, config: configs[honeypot.slug] }))
  )

/** Start every service of the decky; they stay up until the scope closes. */
export const startDecky = (
  plan: DeckyPlan
): Effect.Effect<
  ReadonlyArray<RunningService>,
  HoneypotListenError | HoneypotConfigError,
  Scope.Scope | HoneypotContext
> =>
  Effect.gen(function* () {
    const ctx = yield* HoneypotContext
    const mapPort = plan.port
    const running = yield* Effect.forEach(plan.services, ({ honeypot, config }) =>
      honeypot
        .start({
          host: plan.host,
          config,
          port: mapPort === undefined ? undefined : (p) => mapPort(honeypot.slug, p),
          unknownConfigKeys: plan.unknownConfigKeys
        })
        .pipe(Effect.map((listeners): RunningService => ({ slug: honeypot.slug, listeners })))
    )
    yield* Effect.logInfo(`decky ${ctx.decky} up: ${describeServices(running)}`)
    return running
  }).pipe(Effect.withSpan("Decky.start"))

/** `redis 127.0.0.1:6379 (6379/tcp), http 127.0.0.1:8080 (80/tcp)`: the bound address, then the known port. */
export const describeServices = (running: ReadonlyArray<RunningService>): string =>
  running
    .flatMap((r) =>
      r.listeners.map((l) => `${r.slug} ${hostPort(l.host, l.port)} (${l.defaultPort}/${l.proto})`)
    )
    .join(", ")

const hostPort = (host: string, port: number): string =>
  host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`
