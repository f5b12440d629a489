/**
 * The honeypot module contract: a slug, its ports, a config Schema, its events, and a scoped `run`
 * that binds listeners. The same module runs in a decky process (`decnet decky`), in-process (the
 * embedded runtime) and in tests; `defineHoneypot` erases its config and event types so different
 * services share one registry.
 */
import { Effect, Random, type Schema, SchemaAST, type Scope } from "effect"
import { decodeConfig, type HoneypotConfigError, type UnknownConfigKeys } from "./Config.js"
import { HoneypotContext } from "./Context.js"
import type { RuntimeEvent, ServiceEvents, TaggedEvent } from "./Events.js"
import type { HoneypotListenError, Listener } from "./Serve.js"

/** Where one listener binds: spread into `serveTcp` / `serveUdp`. */
export interface BindAddress {
  readonly host: string
  /** The port to bind (the known port in production, a mapped or ephemeral one elsewhere). */
  readonly port: number
  /** The port the protocol is known by. */
  readonly defaultPort: number
}

export interface RunOptions<C> {
  readonly host: string
  readonly config: C
  /** Maps a default port to the port to bind (identity in production, 0/ephemeral in tests). */
  readonly port: (defaultPort: number) => number
  /** The bind address of one of the module's ports; the module's first TCP port when not given. */
  readonly address: (defaultPort?: number) => BindAddress
}

export interface ServicePorts {
  readonly tcp: ReadonlyArray<number>
  readonly udp: ReadonlyArray<number>
}

export interface HoneypotModule<C, I, E extends TaggedEvent> {
  readonly slug: string
  readonly description: string
  readonly ports: ServicePorts
  readonly config: Schema.Schema<C, I>
  readonly events: ServiceEvents<E | RuntimeEvent>
  readonly run: (
    options: RunOptions<C>
  ) => Effect.Effect<ReadonlyArray<Listener>, HoneypotListenError, Scope.Scope | HoneypotContext>
}

/** A service's events as the registry and consumers see them (decode only). */
export type ServiceEventsInfo = Omit<ServiceEvents<TaggedEvent>, "encode">

export interface StartOptions {
  readonly host: string
  readonly config?: unknown
  readonly port?: ((defaultPort: number) => number) | undefined
  /**
   * Config keys the Schema does not know: dropped (`ignore`, the default, like the original's
   * validate_cfg), dropped with a warning (`warn`), or refused (`error`, for by-hand runs).
   */
  readonly unknownConfigKeys?: UnknownConfigKeys | undefined
}

/** A module with its config and event types erased. */
export interface Honeypot {
  readonly slug: string
  readonly description: string
  readonly ports: ServicePorts
  readonly events: ServiceEventsInfo
  /** The config keys its Schema knows (the catalog's form must offer exactly these). */
  readonly configKeys: ReadonlyArray<string>
  readonly start: (
    options: StartOptions
  ) => Effect.Effect<
    ReadonlyArray<Listener>,
    HoneypotListenError | HoneypotConfigError,
    Scope.Scope | HoneypotContext
  >
  /** Decode a config exactly as `start` would, without binding anything (for up-front checks). */
  readonly validateConfig: (
    config: unknown,
    unknownConfigKeys?: UnknownConfigKeys | undefined
  ) => Effect.Effect<void, HoneypotConfigError>
}

/** The keys of a struct config (its type side: a field with a default is a Transformation on the wire side). */
const keysOf = (schema: { readonly ast: SchemaAST.AST }): ReadonlyArray<string> => {
  const ast = SchemaAST.typeAST(schema.ast)
  return ast._tag === "TypeLiteral" ? ast.propertySignatures.map((p) => String(p.name)) : []
}

export const defineHoneypot = <C, I, E extends TaggedEvent>(module: HoneypotModule<C, I, E>): Honeypot => ({
  slug: module.slug,
  description: module.description,
  ports: module.ports,
  events: module.events,
  configKeys: keysOf(module.config),
  start: (options) =>
    Effect.gen(function* () {
      const config = yield* decodeConfig(module, options.config ?? {}, options.unknownConfigKeys ?? "ignore")
      const ctx = yield* HoneypotContext
      // Jitter (reply delays) draws from a generator seeded per decky and service, never a shared one.
      const random = Random.make(`${ctx.decky}:${ctx.seed.instanceId}:${module.slug}`)
      const port = options.port ?? ((p: number) => p)
      const first = module.ports.tcp[0] ?? module.ports.udp[0] ?? 0
      const address = (defaultPort: number = first): BindAddress => ({
        host: options.host,
        port: port(defaultPort),
        defaultPort
      })
      const listeners = yield* module
        .run({ host: options.host, config, port, address })
        .pipe(Effect.withRandom(random))
      yield* ctx
        .emitter(module.events)
        .emit({ _tag: "startup" }, { msg: `${module.slug} server starting as ${ctx.decky}` })
      return listeners
    }).pipe(Effect.withSpan("Honeypot.start", { attributes: { service: module.slug } })),
  validateConfig: (config, unknownConfigKeys) =>
    Effect.asVoid(decodeConfig(module, config, unknownConfigKeys ?? "ignore"))
})
