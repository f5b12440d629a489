// `decnet deploy | teardown | status | redeploy` (spec/fleet.md §6). Flags are parsed here; the work,
// which loads the database, dockerode and the fleet, is in FleetRun.ts, imported when a command runs.
import { Command, Options } from "@effect/cli"
import { Effect, Option } from "effect"
import { requireMaster } from "./mode.js"

const csv = (o: Option.Option<string>): ReadonlyArray<string> | null =>
  Option.match(o, {
    onNone: () => null,
    onSome: (raw) =>
      raw
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s !== "")
  })

const json = Options.boolean("json").pipe(Options.withDescription("print JSON"))

export const deploy = Command.make(
  "deploy",
  {
    deckies: Options.integer("deckies").pipe(
      Options.withAlias("n"),
      Options.optional,
      Options.withDescription("how many deckies")
    ),
    services: Options.text("services").pipe(
      Options.optional,
      Options.withDescription("services of every decky, e.g. ssh,http")
    ),
    randomizeServices: Options.boolean("randomize-services").pipe(
      Options.withDescription("1-3 random services per decky")
    ),
    archetype: Options.text("archetype").pipe(
      Options.withAlias("a"),
      Options.optional,
      Options.withDescription("an archetype (decnet archetypes)")
    ),
    distro: Options.text("distro").pipe(
      Options.optional,
      Options.withDescription("distros to cycle, e.g. debian,ubuntu22")
    ),
    randomizeDistros: Options.boolean("randomize-distros").pipe(
      Options.withDescription("a random distro per decky")
    ),
    config: Options.file("config").pipe(
      Options.withAlias("c"),
      Options.optional,
      Options.withDescription("a deployment INI")
    ),
    iface: Options.text("interface").pipe(
      Options.withAlias("i"),
      Options.optional,
      Options.withDescription("the LAN's parent interface (docker)")
    ),
    subnet: Options.text("subnet").pipe(
      Options.optional,
      Options.withDescription("the LAN, e.g. 192.168.1.0/24 (default: the interface's)")
    ),
    ipStart: Options.text("ip-start").pipe(
      Options.optional,
      Options.withDescription("first address to hand out")
    ),
    ipvlan: Options.boolean("ipvlan").pipe(
      Options.withDescription("ipvlan L2 instead of macvlan (one shared MAC; WiFi)")
    ),
    mutateInterval: Options.integer("mutate-interval").pipe(
      Options.withDefault(30),
      Options.withDescription("minutes between service rotations of each decky")
    ),
    dryRun: Options.boolean("dry-run").pipe(
      Options.withDescription("plan and print; start nothing, store nothing")
    ),
    runtime: Options.choice("runtime", ["docker", "inprocess"]).pipe(
      Options.withDefault("docker" as const),
      Options.withDescription(
        "docker: a container per decky on the LAN; inprocess: served by `decnet up` on loopback"
      )
    ),
    logFile: Options.text("log-file").pipe(
      Options.optional,
      Options.withDescription("evidence log base (default DECNET_INGEST_LOG_FILE)")
    ),
    json
  },
  (o) =>
    Effect.gen(function* () {
      yield* requireMaster("deploy")
      const run = yield* Effect.promise(() => import("./FleetRun.js"))
      yield* run.runDeploy({
        deckies: Option.getOrUndefined(o.deckies),
        services: csv(o.services),
        randomizeServices: o.randomizeServices,
        archetype: Option.getOrNull(o.archetype),
        distros: csv(o.distro),
        randomizeDistros: o.randomizeDistros,
        config: Option.getOrUndefined(o.config),
        iface: o.iface,
        subnet: Option.getOrUndefined(o.subnet),
        ipStart: Option.getOrNull(o.ipStart),
        ipvlan: o.ipvlan,
        mutateInterval: o.mutateInterval,
        dryRun: o.dryRun,
        runtime: o.runtime,
        logFile: Option.getOrNull(o.logFile),
        json: o.json
      })
    })
).pipe(
  Command.withDescription(
    "plan a fleet of deckies and run it (docker), or record it for `decnet up` (inprocess)"
  )
)

export const teardown = Command.make(
  "teardown",
  {
    all: Options.boolean("all").pipe(Options.withDescription("every decky, and the LAN network")),
    id: Options.text("id").pipe(Options.optional, Options.withDescription("one decky, by name")),
    json
  },
  (o) =>
    Effect.gen(function* () {
      yield* requireMaster("teardown")
      const run = yield* Effect.promise(() => import("./FleetRun.js"))
      yield* run.runTeardown({ all: o.all, id: Option.getOrUndefined(o.id), json: o.json })
    })
).pipe(Command.withDescription("stop and forget deckies: --all, or --id NAME"))

export const status = Command.make("status", { json }, (o) =>
  Effect.gen(function* () {
    const run = yield* Effect.promise(() => import("./FleetRun.js"))
    yield* run.runStatus({ json: o.json })
  })
).pipe(Command.withDescription("the deployed deckies: address, state, services and where they listen"))

export const redeploy = Command.make("redeploy", { json }, (o) =>
  Effect.gen(function* () {
    yield* requireMaster("redeploy")
    const run = yield* Effect.promise(() => import("./FleetRun.js"))
    yield* run.runRedeploy({ json: o.json })
  })
).pipe(
  Command.withDescription(
    "restart the fleet's worker services that are down (systemd); deckies are untouched"
  )
)
