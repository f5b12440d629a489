/**
 * MazeNET on Docker: deploy seconds per decky for a depth-2 topology (issue 15's benchmark figure).
 *
 *   npx decnet images build                      # once: decnet-base:bookworm + decnet-decky:debian
 *   node --import tsx bench/topologyDocker.ts    # as root, with dockerd running
 *
 * Each round generates a depth-2, branching-2 topology (the generator's defaults otherwise: 1–3 deckies per
 * LAN, every bridge forwarding, 1–3 random services per decky; seed BENCH_TOPO_SEED + round) under
 * BENCH_TOPO_BASE (default 10.232.0.0/16, which must be free on the engine), deploys it with the Docker
 * runtime (networks, both containers of every decky, DOCKER-USER rules, routes, and every service's
 * `startup` line), checks every decky runs, and tears it down. Deploy time ÷ deckies is the figure; the
 * mean over BENCH_TOPO_ROUNDS rounds (default 3) is printed last. Teardown runs whatever happened.
 * `measureDockerTopologyDeploy` is the same measurement for bench/topology.ts to call.
 */
import { randomUUID } from "node:crypto"
import { NodeContext } from "@effect/platform-node"
import { Clock, Effect, Either, Layer, Logger, LogLevel, ManagedRuntime, Schema } from "effect"
import { DecnetConfig } from "../src/config/DecnetConfig.js"
import { DockerLive } from "../src/docker/DockerLive.js"
import { isHoneypotSlug } from "../src/honeypots/Registry.js"
import { DockerTopologyLive } from "../src/topology/DockerTopology.js"
import { generate, toDetail } from "../src/topology/Generator.js"
import { TopologyConfig } from "../src/topology/Model.js"
import { TopologyRuntime } from "../src/topology/Runtime.js"

export interface TopologyDeployRound {
  readonly seed: number
  readonly lans: number
  readonly deckies: number
  /** Services with an emulator (what runs); the generator also draws catalog services not emulated yet. */
  readonly services: number
  readonly deploySeconds: number
  readonly teardownSeconds: number
  readonly secondsPerDecky: number
}

export interface DockerTopologyBenchOptions {
  readonly rounds?: number
  readonly seed?: number
  readonly subnetBase?: string
}

const seconds = (t0: number) => Effect.map(Clock.currentTimeMillis, (t) => (t - t0) / 1000)

/** One generated depth-2 topology deployed, checked and torn down; its timings. */
const round = (seed: number, subnetBase: string) =>
  Effect.gen(function* () {
    const config = yield* Schema.decodeUnknown(TopologyConfig)({
      name: `bench-${seed}`,
      depth: 2,
      branching_factor: 2,
      subnet_base_prefix: subnetBase,
      seed
    })
    const plan = yield* Either.match(generate({ ...config, seed }), {
      onLeft: (e) => Effect.die(e),
      onRight: Effect.succeed
    })
    const topology = toDetail(plan, { topologyId: randomUUID() })
    const runtime = yield* TopologyRuntime
    const t0 = yield* Clock.currentTimeMillis
    const deploySeconds = yield* Effect.gen(function* () {
      yield* runtime.deploy(topology)
      const deployed = yield* seconds(t0)
      const down = (yield* runtime.inspect(topology)).filter((s) => s.state !== "running")
      if (down.length > 0)
        return yield* Effect.dieMessage(
          `not running after deploy: ${down.map((s) => `${s.decky}=${s.detail}`).join(", ")}`
        )
      return deployed
    }).pipe(Effect.ensuring(runtime.teardown(topology).pipe(Effect.orDie)))
    const total = yield* seconds(t0)
    return {
      seed,
      lans: topology.lans.length,
      deckies: topology.deckies.length,
      services: topology.deckies.reduce((n, d) => n + d.services.filter(isHoneypotSlug).length, 0),
      deploySeconds,
      teardownSeconds: total - deploySeconds,
      secondsPerDecky: deploySeconds / topology.deckies.length
    } satisfies TopologyDeployRound
  })

/** `rounds` rounds; needs the Docker engine, root (iptables, nsenter) and the decky image. */
export const measureDockerTopologyDeploy = (options: DockerTopologyBenchOptions = {}) =>
  Effect.forEach(
    Array.from({ length: options.rounds ?? 3 }, (_, i) => (options.seed ?? 1) + i),
    (seed) => round(seed, options.subnetBase ?? "10.232.0.0/16")
  )

export const dockerTopologyLayer = DockerTopologyLive().pipe(
  Layer.provideMerge(Layer.mergeAll(DockerLive.pipe(Layer.provide(DecnetConfig.layer)), NodeContext.layer)),
  // Warnings would list every drawn service that has no emulator yet.
  Layer.provide(Logger.minimumLogLevel(LogLevel.Error))
)

const main = async () => {
  const env = (name: string, fallback: number) => {
    const v = Number(process.env[name] ?? fallback)
    return Number.isInteger(v) && v > 0 ? v : fallback
  }
  const rt = ManagedRuntime.make(dockerTopologyLayer)
  try {
    const rounds = await rt.runPromise(
      measureDockerTopologyDeploy({
        rounds: env("BENCH_TOPO_ROUNDS", 3),
        seed: env("BENCH_TOPO_SEED", 1),
        subnetBase: process.env.BENCH_TOPO_BASE ?? "10.232.0.0/16"
      })
    )
    for (const r of rounds)
      console.log(
        `seed ${r.seed}: ${r.lans} LANs, ${r.deckies} deckies, ${r.services} emulated services: deploy ${r.deploySeconds.toFixed(2)} s ` +
          `(${r.secondsPerDecky.toFixed(2)} s per decky), teardown ${r.teardownSeconds.toFixed(2)} s`
      )
    const deckies = rounds.reduce((n, r) => n + r.deckies, 0)
    const total = rounds.reduce((n, r) => n + r.deploySeconds, 0)
    console.log(
      `deploy seconds per decky for a depth-2 topology on Docker: ${(total / deckies).toFixed(2)} ` +
        `(${deckies} deckies over ${rounds.length} rounds)`
    )
  } finally {
    await rt.dispose()
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main()
