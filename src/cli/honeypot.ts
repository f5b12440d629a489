// `decnet honeypot <slug>` runs one service in the foreground for trying it by hand; `decnet decky` runs a
// whole decky's services in one process (the container entrypoint of the fleet). Events go to stdout as
// RFC 5424 lines, process logs and the "listening on" notice to stderr. Service modules load lazily.
import * as net from "node:net"
import { Args, Command, Options } from "@effect/cli"
import { Config, Console, Data, Effect, Layer, Logger, Option, Predicate, Schema } from "effect"
import type { DeckyServiceSpec, RunningService } from "../honeypots/Decky.js"
import { HONEYPOT_SLUGS } from "../honeypots/Registry.js"
import type { Honeypot, HoneypotListenError, UnknownConfigKeys } from "../honeypots/runtime/Honeypot.js"

export class HoneypotCliError extends Data.TaggedError("HoneypotCliError")<{ readonly message: string }> {}

/** One row of `decnet honeypot --list`; the same Schema is the --json item. */
export class HoneypotInfo extends Schema.Class<HoneypotInfo>("HoneypotInfo")({
  slug: Schema.String,
  tcp: Schema.Array(Schema.Number),
  udp: Schema.Array(Schema.Number),
  description: Schema.String
}) {}

const fail = (message: string) => Effect.fail(new HoneypotCliError({ message }))

// ---- shared options -------------------------------------------------------------------------------

const host = Options.text("host").pipe(
  Options.withDefault("127.0.0.1"),
  Options.withDescription("address to bind (default 127.0.0.1; a decky container passes its own address)")
)
const name = Options.text("name").pipe(
  Options.optional,
  Options.withDescription(
    "decky name: RFC 5424 HOSTNAME and persona seed (default $NODE_NAME, $HOSTNAME, 'decky')"
  )
)
const hostname = Options.text("hostname").pipe(
  Options.optional,
  Options.withDescription("hostname shown to attackers in prompts and banners (default: the decky name)")
)
const instanceId = Options.text("instance-id").pipe(
  Options.optional,
  Options.withDescription("instance id mixed into the persona seed (default $INSTANCE_ID or empty)")
)
const artifactsDir = Options.text("artifacts-dir").pipe(
  Options.optional,
  Options.withDescription(
    "where captured files, sessions and mail go (default $DECNET_ARTIFACTS_ROOT/<name>)"
  )
)
const portOffset = Options.integer("port-offset").pipe(
  Options.withDefault(0),
  Options.withDescription(
    "add N to every default port (run unprivileged: --port-offset 10000 puts ssh on 10022)"
  )
)

interface Identity {
  readonly name: Option.Option<string>
  readonly hostname: Option.Option<string>
  readonly instanceId: Option.Option<string>
  readonly artifactsDir: Option.Option<string>
}

const nonEmpty = (key: string) =>
  Config.option(Config.string(key)).pipe(Config.map(Option.filter((s) => s !== "")))

/** Flags first, then the container environment the spec defines (NODE_NAME, HOSTNAME, INSTANCE_ID). */
const resolveIdentity = (flags: Identity) =>
  Effect.gen(function* () {
    const env = yield* Config.all({
      nodeName: nonEmpty("NODE_NAME"),
      hostname: nonEmpty("HOSTNAME"),
      instanceId: nonEmpty("INSTANCE_ID"),
      artifactsRoot: Config.string("DECNET_ARTIFACTS_ROOT").pipe(
        Config.withDefault("/var/lib/decnet/artifacts")
      )
    })
    const decky = Option.getOrElse(
      Option.orElse(
        Option.orElse(flags.name, () => env.nodeName),
        () => env.hostname
      ),
      () => "decky"
    )
    return {
      decky,
      hostname: Option.getOrElse(flags.hostname, () => decky),
      instanceId: Option.getOrElse(
        Option.orElse(flags.instanceId, () => env.instanceId),
        () => ""
      ),
      artifactsDir: Option.getOrElse(
        flags.artifactsDir,
        () => `${env.artifactsRoot.replace(/\/+$/, "")}/${decky}`
      )
    }
  })

const checkHost = (value: string) =>
  net.isIP(value) === 0 ? fail(`--host must be an IP address, got '${value}'`) : Effect.succeed(value)

const parseJson = (raw: string): Effect.Effect<unknown, HoneypotCliError> =>
  Effect.try({
    try: (): unknown => JSON.parse(raw),
    catch: (e) =>
      new HoneypotCliError({
        message: `--config is not valid JSON: ${e instanceof Error ? e.message : String(e)}`
      })
  })

const allPorts = (h: Honeypot): ReadonlyArray<number> => [...h.ports.tcp, ...h.ports.udp]

const checkOffset = (services: ReadonlyArray<Honeypot>, offset: number) =>
  Effect.forEach(services, (h) =>
    Effect.forEach(allPorts(h), (p) =>
      p + offset < 1 || p + offset > 65535
        ? fail(`--port-offset ${offset} puts ${h.slug}'s port ${p} at ${p + offset}, outside 1-65535`)
        : Effect.void
    )
  )

const hostPort = (h: string, p: number) => (h.includes(":") ? `[${h}]:${p}` : `${h}:${p}`)

/** Add what to do to the bind errors a by-hand run meets. */
const explainListen = (hint: string) => (e: HoneypotListenError) =>
  new HoneypotCliError({
    message: `${e.service}: ${
      e.code === "EACCES" && e.port < 1024
        ? e.message.replace(/\)$/, `; ${hint})`)
        : e.code === "EADDRINUSE"
          ? `${e.message}; choose another port (${hint})`
          : e.message
    }`
  })

interface ServeOptions {
  readonly identity: Identity
  readonly host: string
  readonly slugs: ReadonlyArray<string>
  readonly configs: Readonly<Record<string, unknown>>
  readonly port: (module: Honeypot) => (defaultPort: number) => number
  readonly unknownConfigKeys: UnknownConfigKeys
  readonly hint: string
  readonly notice: (
    decky: string,
    running: ReadonlyArray<RunningService>,
    describe: (running: ReadonlyArray<RunningService>) => string
  ) => string
}

/** Load, bind, announce on stderr, then serve until SIGINT/SIGTERM interrupts (exit 0). */
const serve = (options: ServeOptions) =>
  Effect.gen(function* () {
    const identity = yield* resolveIdentity(options.identity)
    const [runtime, decky, logging, registry] = yield* Effect.promise(() =>
      Promise.all([
        import("../honeypots/runtime/index.js"),
        import("../honeypots/Decky.js"),
        import("../logging/DecnetLogger.js"),
        import("../honeypots/Registry.js")
      ])
    )
    // DECNET_HONEYPOT_MAX_LINE_BYTES, …_MAX_CONN_PER_IP, …: a bad value fails naming the variable.
    const limits = yield* runtime.limitsConfig
    const modules = yield* registry.loadHoneypots(options.slugs)
    const services = modules.map(
      (honeypot): DeckyServiceSpec => ({ honeypot, config: options.configs[honeypot.slug] })
    )
    const bySlug = new Map(modules.map((m) => [m.slug, options.port(m)]))
    const context = runtime
      .HoneypotContextLive({
        decky: identity.decky,
        hostname: identity.hostname,
        instanceId: identity.instanceId,
        artifactsDir: identity.artifactsDir,
        limits
      })
      .pipe(Layer.provide(runtime.EventSinkStdout))
    return yield* Effect.gen(function* () {
      const running = yield* decky.startDecky({
        host: options.host,
        services,
        port: (slug, p) => bySlug.get(slug)?.(p) ?? p,
        unknownConfigKeys: options.unknownConfigKeys
      })
      yield* Effect.sync(
        () =>
          void process.stderr.write(`${options.notice(identity.decky, running, decky.describeServices)}\n`)
      )
      return yield* Effect.never
    }).pipe(
      Effect.scoped,
      Effect.catchTags({
        HoneypotListenError: (e) => Effect.fail(explainListen(options.hint)(e)),
        HoneypotConfigError: (e) => fail(e.message)
      }),
      Effect.provide(context),
      Effect.provide(logging.DecnetLogger.layer("honeypot")),
      // runMain swaps the default logger for its pretty one, which writes to stdout: stdout is for events only.
      Effect.provide(Logger.remove(Logger.prettyLoggerDefault))
    )
  })

// ---- decnet honeypot ------------------------------------------------------------------------------

const listing = Effect.gen(function* () {
  const { loadAllHoneypots } = yield* Effect.promise(() => import("../honeypots/Registry.js"))
  const modules = yield* loadAllHoneypots
  return modules.map(
    (m) =>
      new HoneypotInfo({
        slug: m.slug,
        tcp: [...m.ports.tcp],
        udp: [...m.ports.udp],
        description: m.description
      })
  )
})

const portsText = (info: HoneypotInfo) =>
  [...info.tcp.map((p) => `${p}/tcp`), ...info.udp.map((p) => `${p}/udp`)].join(",")

const printListing = (json: boolean) =>
  Effect.gen(function* () {
    const rows = yield* listing
    if (json) {
      const encoded = yield* Schema.encode(Schema.Array(HoneypotInfo))(rows).pipe(Effect.orDie)
      return yield* Console.log(JSON.stringify(encoded, null, 2))
    }
    const slugWidth = Math.max(4, ...rows.map((r) => r.slug.length))
    const portWidth = Math.max(5, ...rows.map((r) => portsText(r).length))
    const line = (a: string, b: string, c: string) => `${a.padEnd(slugWidth)}  ${b.padEnd(portWidth)}  ${c}`
    yield* Console.log(
      [
        line("SLUG", "PORTS", "DESCRIPTION"),
        ...rows.map((r) => line(r.slug, portsText(r), r.description))
      ].join("\n")
    )
  })

const slugArg = Args.text({ name: "slug" }).pipe(
  Args.optional,
  Args.withDescription(`the service to run: ${HONEYPOT_SLUGS.join(", ")}`)
)

export const honeypot = Command.make(
  "honeypot",
  {
    slug: slugArg,
    list: Options.boolean("list").pipe(
      Options.withDescription("list the services (slug, ports, description)")
    ),
    json: Options.boolean("json").pipe(Options.withDescription("with --list: print JSON")),
    host,
    // Text, not Options.integer: @effect/cli 0.77 rejects a single occurrence of a repeated integer option.
    port: Options.text("port").pipe(
      Options.repeated,
      Options.withDescription(
        "port to bind, repeatable, in the order of the service's ports (0 = any free port); " +
          "ports not given are then bound to free ports"
      )
    ),
    portOffset,
    config: Options.text("config").pipe(
      Options.optional,
      Options.withDescription("service config as a JSON object")
    ),
    name,
    hostname,
    instanceId,
    artifactsDir
  },
  (o) =>
    Effect.gen(function* () {
      if (o.list) return yield* printListing(o.json)
      if (Option.isNone(o.slug))
        return yield* fail(`give a service to run (${HONEYPOT_SLUGS.join(", ")}) or --list to list them`)
      const slug = o.slug.value
      const bindHost = yield* checkHost(o.host)
      const config = Option.isSome(o.config) ? yield* parseJson(o.config.value) : {}
      const ports = yield* Effect.forEach(o.port, (p) =>
        /^\d{1,5}$/.test(p) && Number(p) <= 65535
          ? Effect.succeed(Number(p))
          : fail(`--port '${p}' is not a port number (0-65535; 0 = any free port)`)
      )
      const { loadHoneypot } = yield* Effect.promise(() => import("../honeypots/Registry.js"))
      const module = yield* loadHoneypot(slug)
      const defaults = allPorts(module)
      if (ports.length > defaults.length)
        return yield* fail(
          `${slug} has ${defaults.length} port(s) (${defaults.join(", ")}); got ${ports.length} --port values`
        )
      yield* checkOffset([module], o.portOffset)
      return yield* serve({
        identity: o,
        host: bindHost,
        slugs: [slug],
        configs: { [slug]: config },
        port: (m) => (p) => {
          if (ports.length === 0) return p + o.portOffset
          return ports[allPorts(m).indexOf(p)] ?? 0
        },
        unknownConfigKeys: "error",
        hint: "use --port or --port-offset",
        notice: (_decky, running) =>
          running
            .map(
              (r) =>
                `${r.slug} listening on ${r.listeners.map((l) => `${hostPort(l.host, l.port)} (${l.defaultPort}/${l.proto})`).join(", ")}`
            )
            .join("; ")
      })
    })
).pipe(
  Command.withDescription("run one honeypot service in the foreground (events on stdout), or --list them")
)

// ---- decnet decky ---------------------------------------------------------------------------------

interface PortOverride {
  readonly slug: string
  readonly defaultPort: number | undefined
  readonly port: number
}

/** `slug=PORT` (the service's first port) or `slug:DEFAULT=PORT`. */
const parseOverride = (spec: string): Effect.Effect<PortOverride, HoneypotCliError> => {
  const m = /^([a-z0-9_]+)(?::(\d+))?=(\d+)$/.exec(spec.trim())
  if (m === null)
    return fail(`--port '${spec}': expected slug=PORT or slug:DEFAULT=PORT (e.g. ssh=2222, imap:993=9993)`)
  const port = Number(m[3])
  if (port > 65535) return fail(`--port '${spec}': ${port} is outside 0-65535`)
  return Effect.succeed({
    slug: m[1] ?? "",
    defaultPort: m[2] === undefined ? undefined : Number(m[2]),
    port
  })
}

const splitServices = (raw: string): ReadonlyArray<string> => [
  ...new Set(
    raw
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== "")
  )
]

export const decky = Command.make(
  "decky",
  {
    services: Options.text("services").pipe(
      Options.withDescription("comma-separated services, e.g. ssh,http,redis")
    ),
    host,
    config: Options.text("config").pipe(
      Options.optional,
      Options.withDescription(
        'per-service config as a JSON object keyed by slug, e.g. {"ssh":{"password":"x"}}'
      )
    ),
    portOffset,
    port: Options.text("port").pipe(
      Options.repeated,
      Options.withDescription(
        "override one port, repeatable: slug=PORT (its first port) or slug:DEFAULT=PORT; 0 = any free"
      )
    ),
    ephemeral: Options.boolean("ephemeral").pipe(
      Options.withDescription(
        "bind every port not overridden to a free port (the notice on stderr says which)"
      )
    ),
    name,
    hostname,
    instanceId,
    artifactsDir
  },
  (o) =>
    Effect.gen(function* () {
      const slugs = splitServices(o.services)
      if (slugs.length === 0)
        return yield* fail(
          `--services is empty; give e.g. --services ssh,http (${HONEYPOT_SLUGS.join(", ")})`
        )
      const bindHost = yield* checkHost(o.host)
      const raw = Option.isSome(o.config) ? yield* parseJson(o.config.value) : {}
      if (!Predicate.isRecord(raw))
        return yield* fail(`--config must be a JSON object keyed by service slug, e.g. {"redis":{}}`)
      for (const key of Object.keys(raw))
        if (!slugs.includes(key))
          return yield* fail(`--config has an entry for '${key}', which is not in --services`)
      const { loadHoneypots } = yield* Effect.promise(() => import("../honeypots/Registry.js"))
      const modules = yield* loadHoneypots(slugs)
      const overrides = yield* Effect.forEach(o.port, parseOverride)
      const table = new Map<string, number>()
      for (const ov of overrides) {
        const m = modules.find((x) => x.slug === ov.slug)
        if (m === undefined) return yield* fail(`--port ${ov.slug}=…: ${ov.slug} is not in --services`)
        const def = ov.defaultPort ?? allPorts(m)[0]
        if (def === undefined || !allPorts(m).includes(def))
          return yield* fail(
            `--port ${ov.slug}:${ov.defaultPort}=…: ${ov.slug}'s ports are ${allPorts(m).join(", ")}`
          )
        table.set(`${ov.slug}:${def}`, ov.port)
      }
      if (!o.ephemeral) yield* checkOffset(modules, o.portOffset)
      return yield* serve({
        identity: o,
        host: bindHost,
        slugs,
        configs: raw,
        port: (m) => (p) => table.get(`${m.slug}:${p}`) ?? (o.ephemeral ? 0 : p + o.portOffset),
        // The fleet writes config from the same Schemas; a stray key is dropped with a warning (spec:
        // validate_cfg drops unknown keys) rather than keeping a decky down.
        unknownConfigKeys: "warn",
        hint: "use --port-offset",
        notice: (deckyName, running, describe) => `decky ${deckyName} listening on ${describe(running)}`
      })
    })
).pipe(
  Command.withDescription("run a whole decky's services in one process (the decky container entrypoint)")
)
