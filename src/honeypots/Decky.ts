/**
 * Runs one decky's services in one process: the `decnet decky` container entrypoint and the unit the
 * embedded runtime starts per decky. Each service binds in the caller's scope; a service that fails to
 * bind fails the whole decky with a clear error naming it.
 */
import { Data, Effect, type Scope } from "effect"
import {
  type Honeypot,
  type HoneypotConfigError,
  HoneypotContext,
  type HoneypotListenError,
  type Listener
} from "./runtime/index.js"

export class UnknownServiceError extends Data.TaggedError("UnknownServiceError")<{
  readonly slug: string
  readonly known: ReadonlyArray<string>
}> {
  override get message(): string {
    return `unknown honeypot service '${this.slug}'. Known services: ${this.known.join(", ")}`
  }
}

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
}

/** Resolve slugs against a registry, failing with the list of known services. */
export const resolveServices = (
  registry: ReadonlyMap<string, Honeypot>,
  slugs: ReadonlyArray<string>
): Effect.Effect<ReadonlyArray<Honeypot>, UnknownServiceError> =>
  Effect.forEach(slugs, (slug) => {
    const found = registry.get(slug)
    return found === undefined
      ? Effect.fail(new UnknownServiceError({ slug, known: [...registry.keys()].sort() }))
      : Effect.succeed(found)
  })

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
    const running = yield* Effect.forEach(plan.services, ({ honeypot, config }) =>
      honeypot
        .start({
          host: plan.host,
          config,
          port: plan.port === undefined ? undefined : (p) => plan.port!(honeypot.slug, p)
        })
        .pipe(Effect.map((listeners): RunningService => ({ slug: honeypot.slug, listeners })))
    )
    yield* Effect.logInfo(
      `decky ${ctx.decky} up: ${running
        .map((r) => `${r.slug}(${r.listeners.map((l) => `${l.proto}/${l.port}`).join(",")})`)
        .join(" ")}`
    )
    return running
  }).pipe(Effect.withSpan("Decky.start"))
