// `decnet topology generate | list | show | deploy | teardown | delete | mutate | mutations` (spec/topology.md
// §10, master only). Flags are parsed here; the bodies, which load the database and the runtimes, are in
// TopologyRun.ts, imported when a command runs.
import { Args, Command, Options } from "@effect/cli"
import { Effect, Option } from "effect"
import { MUTATION_OPS, MUTATION_ROW_STATES, TOPOLOGY_STATUSES } from "../topology/Model.js"
import { requireMaster } from "./mode.js"

const json = Options.boolean("json").pipe(Options.withDescription("print JSON (the API's shapes)"))
const topologyArg = Args.text({ name: "topology" }).pipe(Args.withDescription("the topology's id or name"))
const runtime = Options.choice("runtime", ["docker", "inprocess"]).pipe(
  Options.withDefault("docker" as const),
  Options.withDescription("docker: a bridge per LAN and containers per decky; inprocess: inside `decnet up`")
)

const load = Effect.zipRight(
  requireMaster("topology"),
  Effect.promise(() => import("./TopologyRun.js"))
)

const generate = Command.make(
  "generate",
  {
    name: Options.text("name").pipe(Options.withDescription("a unique name, 1-64 characters")),
    depth: Options.integer("depth").pipe(
      Options.withDefault(3),
      Options.withDescription("levels of LANs below the DMZ (1-16)")
    ),
    branching: Options.integer("branching").pipe(
      Options.withDefault(2),
      Options.withDescription("at most this many child LANs per LAN (1-8)")
    ),
    deckiesPerLan: Options.text("deckies-per-lan").pipe(
      Options.withDefault("1-3"),
      Options.withDescription("MIN-MAX home deckies per LAN (the DMZ gets one)")
    ),
    bridgeForwardP: Options.float("bridge-forward-p").pipe(
      Options.withDefault(1),
      Options.withDescription("probability that a bridge decky forwards IP between its LANs (0-1)")
    ),
    crossEdgeP: Options.float("cross-edge-p").pipe(
      Options.withDefault(0),
      Options.withDescription("probability that a LAN gets an extra bridge to an unrelated LAN (0-1)")
    ),
    services: Options.text("services").pipe(
      Options.optional,
      Options.withDescription("services of every decky, e.g. ssh,http (turns random services off)")
    ),
    randomizeServices: Options.boolean("randomize-services").pipe(
      Options.withDescription("1-3 random services per decky (the default)")
    ),
    noRandomizeServices: Options.boolean("no-randomize-services").pipe(
      Options.withDescription("no random services (needs --services)")
    ),
    seed: Options.integer("seed").pipe(
      Options.optional,
      Options.withDescription("the generator's seed: the same seed gives the same topology")
    ),
    json
  },
  (o) =>
    Effect.flatMap(load, (run) =>
      run.runGenerate({
        name: o.name,
        depth: o.depth,
        branching: o.branching,
        deckiesPerLan: o.deckiesPerLan,
        bridgeForwardP: o.bridgeForwardP,
        crossEdgeP: o.crossEdgeP,
        services: Option.getOrNull(o.services),
        randomizeServices: o.randomizeServices,
        noRandomizeServices: o.noRandomizeServices,
        seed: Option.getOrNull(o.seed),
        json: o.json
      })
    )
).pipe(
  Command.withDescription(
    "generate a topology (a DMZ and a tree of LANs with deckies and bridges) and store it, pending"
  )
)

const list = Command.make(
  "list",
  {
    status: Options.choice("status", TOPOLOGY_STATUSES).pipe(
      Options.optional,
      Options.withDescription("only topologies in this status")
    ),
    json
  },
  (o) => Effect.flatMap(load, (run) => run.runList({ status: Option.getOrUndefined(o.status), json: o.json }))
).pipe(Command.withDescription("the stored topologies, newest first"))

const show = Command.make("show", { topology: topologyArg, json }, (o) =>
  Effect.flatMap(load, (run) => run.runShow({ topology: o.topology, json: o.json }))
).pipe(Command.withDescription("one topology, LAN by LAN, with its deckies, bridges and L3 forwarders"))

const deploy = Command.make(
  "deploy",
  {
    topology: topologyArg,
    dryRun: Options.boolean("dry-run").pipe(Options.withDescription("validate only; start nothing")),
    runtime,
    json
  },
  (o) =>
    Effect.flatMap(load, (run) =>
      run.runDeploy({ topology: o.topology, dryRun: o.dryRun, runtime: o.runtime, json: o.json })
    )
).pipe(Command.withDescription("validate a pending topology and deploy it, waiting for the result"))

const teardown = Command.make("teardown", { topology: topologyArg, runtime, json }, (o) =>
  Effect.flatMap(load, (run) => run.runTeardown({ topology: o.topology, runtime: o.runtime, json: o.json }))
).pipe(Command.withDescription("remove a deployed (or failed) topology's deckies and LANs"))

const remove = Command.make(
  "delete",
  {
    topology: topologyArg,
    force: Options.boolean("force").pipe(Options.withDescription("do not ask for confirmation")),
    json
  },
  (o) => Effect.flatMap(load, (run) => run.runDelete({ topology: o.topology, force: o.force, json: o.json }))
).pipe(Command.withDescription("forget a pending, failed or torn-down topology and everything in it"))

const mutate = Command.make(
  "mutate",
  {
    topology: topologyArg,
    op: Args.choice(
      MUTATION_OPS.map((op) => [op, op] as const),
      { name: "op" }
    ).pipe(Args.withDescription("the live edit")),
    payloadJson: Options.text("payload-json").pipe(
      Options.withDefault("{}"),
      Options.withDescription('the op\'s payload, one JSON object, e.g. \'{"name":"LAN-09"}\'')
    ),
    expectedVersion: Options.integer("expected-version").pipe(
      Options.optional,
      Options.withDescription("refuse unless the topology is still at this version")
    ),
    json
  },
  (o) =>
    Effect.flatMap(load, (run) =>
      run.runMutate({
        topology: o.topology,
        op: o.op,
        payloadJson: o.payloadJson,
        expectedVersion: Option.getOrUndefined(o.expectedVersion),
        json: o.json
      })
    )
).pipe(
  Command.withDescription(
    "queue a live edit of an active topology (the reconciler in `decnet mutate --watch` or `decnet up` applies it)"
  )
)

const mutations = Command.make(
  "mutations",
  {
    topology: topologyArg,
    state: Options.choice("state", MUTATION_ROW_STATES).pipe(
      Options.optional,
      Options.withDescription("only mutations in this state")
    ),
    json
  },
  (o) =>
    Effect.flatMap(load, (run) =>
      run.runMutations({ topology: o.topology, state: Option.getOrUndefined(o.state), json: o.json })
    )
).pipe(Command.withDescription("a topology's live edits, newest first"))

export const topology = Command.make("topology").pipe(
  Command.withDescription("MazeNET: multi-LAN deception topologies"),
  Command.withSubcommands([generate, list, show, deploy, teardown, remove, mutate, mutations])
)
