// `decnet honeypot <slug>` runs one service in the foreground for trying it by hand; `decnet decky` runs a
// whole decky's services in one process (the container entrypoint of the fleet). Events go to stdout as
// RFC 5424 lines, process logs and the "listening on" notice to stderr. Service modules load lazily.
import * as net from "node:net"
import { Args, Command, Options } from "@effect/cli"
import { Console, Data, Effect, Layer, Logger, Option, Predicate, Schema } from "effect"
import { DecnetConfig } from "../config/DecnetConfig.js"
import type { IdentityOverrides, RunningDecky } from "../fleet/Decky.js"
import { PlantedFile as PlantedFileSpec } from "../fleet/Model.js"
import {
  describeServices,
  hostPort,
  modulePorts as modulePortsOf,
  PortPlan,
  portKey
} from "../fleet/Ports.js"
import { HONEYPOT_SLUGS } from "../honeypots/Registry.js"
import type { Honeypot, HoneypotListenError, UnknownConfigKeys } from "../honeypots/runtime/index.js"

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

const checkHost = (value: string) =>
  net.isIP(value) === 0 ? fail(`--host must be an IP address, got '${value}'`) : Effect.succeed(value)

const parseJson = (raw: string, flag = "--config"): Effect.Effect<unknown, HoneypotCliError> =>
  Effect.try({
    try: (): unknown => JSON.parse(raw),
    catch: (e) =>
      new HoneypotCliError({
        message: `${flag} is not valid JSON: ${e instanceof Error ? e.message : String(e)}`
      })
  })

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
  readonly identity: IdentityOverrides
  /** `--files`: files planted on the decky (the fleet's PlantedFile list, JSON). */
  readonly files?: ReadonlyArray<PlantedFileSpec> | undefined
  readonly host: string
  readonly slugs: ReadonlyArray<string>
  readonly configs: Readonly<Record<string, unknown>>
  readonly ports: (modules: ReadonlyArray<Honeypot>) => Effect.Effect<PortPlan, HoneypotCliError>
  readonly unknownConfigKeys: UnknownConfigKeys
  readonly hint: string
  readonly notice: (running: RunningDecky) => string
}

/**
 * Plan the decky from the flags and DecnetConfig, then launch it: bind, announce on stderr, serve
 * until SIGINT/SIGTERM interrupts (exit 0). Events go to stdout, process logs to stderr.
 */
const serve = (options: ServeOptions) =>
  Effect.gen(function* () {
    const settings = yield* DecnetConfig
    const [fleet, runtime, registry] = yield* Effect.promise(() =>
      Promise.all([
        import("../fleet/Decky.js"),
        import("../honeypots/runtime/index.js"),
        import("../honeypots/Registry.js")
      ])
    )
    const modules = yield* registry.loadHoneypots(options.slugs)
    const plan = yield* fleet.planDecky({
      identity: fleet.resolveIdentity(options.identity, settings),
      host: options.host,
      slugs: options.slugs,
      configs: options.configs,
      ports: yield* options.ports(modules),
      limits: settings.honeypot,
      unknownConfigKeys: options.unknownConfigKeys,
      plantedFiles: fleet.plantedFilesOf(options.files ?? [])
    })
    const announce = (running: RunningDecky) =>
      Effect.sync(() => void process.stderr.write(`${options.notice(running)}\n`))
    return yield* Layer.launch(
      fleet.DeckyLive(plan, announce).pipe(Layer.provide(runtime.EventSinkStdout))
    ).pipe(
      Effect.catchTags({
        HoneypotListenError: (e) => Effect.fail(explainListen(options.hint)(e)),
        HoneypotConfigError: (e) => fail(e.message)
      })
    )
  }).pipe(
    Effect.catchTag("DeckyPlanError", (e) => fail(e.message)),
    // runMain swaps the default logger for its pretty one, which writes to stdout: stdout is for events only.
    Effect.provide(Logger.remove(Logger.prettyLoggerDefault))
  )

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
      return yield* serve({
        identity: o,
        host: bindHost,
        slugs: [slug],
        configs: { [slug]: config },
        ports: (modules) => {
          const known = modules[0] === undefined ? [] : modulePortsOf(modules[0])
          if (ports.length > known.length)
            return fail(
              `${slug} has ${known.length} port(s) (${known.join(", ")}); got ${ports.length} --port values`
            )
          if (ports.length === 0) return Effect.succeed(PortPlan.offset(o.portOffset))
          // The given ports in the order of the service's ports; the rest on free ports.
          return Effect.succeed(
            PortPlan.explicit(new Map(ports.map((p, i) => [portKey(slug, known[i] ?? 0), p])), "ephemeral")
          )
        },
        unknownConfigKeys: "error",
        hint: "use --port or --port-offset",
        notice: (running) =>
          running.services
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
    artifactsDir,
    files: Options.text("files").pipe(
      Options.optional,
      Options.withDescription("files planted on the decky, a JSON list of {path, content_b64, mode, mtime}")
    )
  },
  (o) =>
    Effect.gen(function* () {
      const slugs = splitServices(o.services)
      const files = Option.isSome(o.files)
        ? yield* Effect.flatMap(parseJson(o.files.value, "--files"), (v) =>
            Schema.decodeUnknown(Schema.Array(PlantedFileSpec))(v).pipe(
              Effect.mapError((e) => new HoneypotCliError({ message: `--files: ${e.message}` }))
            )
          )
        : []
      if (slugs.length === 0)
        return yield* fail(
          `--services is empty; give e.g. --services ssh,http (${HONEYPOT_SLUGS.join(", ")})`
        )
      const bindHost = yield* checkHost(o.host)
      const raw = Option.isSome(o.config) ? yield* parseJson(o.config.value) : {}
      if (!Predicate.isRecord(raw))
        return yield* fail(`--config must be a JSON object keyed by service slug, e.g. {"redis":{}}`)
      const overrides = yield* Effect.forEach(o.port, parseOverride)
      return yield* serve({
        identity: o,
        files,
        host: bindHost,
        slugs,
        configs: raw,
        ports: (modules) =>
          Effect.gen(function* () {
            const table = new Map<string, number>()
            for (const ov of overrides) {
              const m = modules.find((x) => x.slug === ov.slug)
              if (m === undefined) return yield* fail(`--port ${ov.slug}=…: ${ov.slug} is not in --services`)
              const def = ov.defaultPort ?? modulePortsOf(m)[0]
              if (def === undefined || !modulePortsOf(m).includes(def))
                return yield* fail(
                  `--port ${ov.slug}:${ov.defaultPort}=…: ${ov.slug}'s ports are ${modulePortsOf(m).join(", ")}`
                )
              table.set(portKey(ov.slug, def), ov.port)
            }
            return PortPlan.explicit(table, o.ephemeral ? "ephemeral" : "offset", o.portOffset)
          }),
        // The fleet writes config from the same Schemas; a stray key is dropped with a warning (spec:
        // validate_cfg drops unknown keys) rather than keeping a decky down.
        unknownConfigKeys: "warn",
        hint: "use --port-offset",
        notice: (running) => `decky ${running.name} listening on ${describeServices(running.services)}`
      })
    })
).pipe(
  Command.withDescription("run a whole decky's services in one process (the decky container entrypoint)")
)
