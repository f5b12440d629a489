// [docker] MazeNET's whole flow on the REAL engine, through the real pieces (gated like the other [docker]
// tests: DECNET_TEST_DOCKER=1, and then they fail, not skip, when something is missing). A generated
// depth-2, branching-2 topology (one decky per LAN, on 10.232.0.0/16) is persisted in a SQLite file and
// deployed by deployTopology on the Docker runtime; each base is on exactly its ips_by_lan networks, the
// forwarders route from depth 2 to the DMZ and back, and the internal LANs cannot reach a container on a
// network outside the topology. add_lan, add_decky and attach_decky are enqueued while it is live and the
// mutator's real watch loop applies them (applying → applied on the bus) until the engine has the new
// network, the new decky and its new membership, and its SSH answers from the DMZ. teardownTopology leaves
// no container, network or DOCKER-USER rule with the topology's prefix. Traffic runs only between the
// containers this file makes; afterAll removes all of them, whatever happened.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { NodeContext } from "@effect/platform-node"
import { Effect, Layer, Logger, LogLevel, ManagedRuntime, Option, Queue, type Scope, Stream } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Bus, type BusEvent } from "../../src/bus/Bus.js"
import { FakeBusLive } from "../../src/bus/FakeBus.js"
import { EvidenceWriterLive } from "../../src/collector/Writer.js"
import { DecnetConfig } from "../../src/config/DecnetConfig.js"
import { FleetRepo, MigrationsLive, SqliteLive, StateRepo } from "../../src/db/index.js"
import { Docker } from "../../src/docker/Docker.js"
import { DockerLive } from "../../src/docker/DockerLive.js"
import { buildImages } from "../../src/fleet/Images.js"
import { InProcessRuntime } from "../../src/fleet/InProcess.js"
import { FleetStore } from "../../src/fleet/Store.js"
import { EventSinkMemory } from "../../src/honeypots/runtime/index.js"
import { runWatchLoop } from "../../src/mutator/Watch.js"
import { deployTopology, teardownTopology } from "../../src/topology/Deploy.js"
import { DockerTopologyLive } from "../../src/topology/DockerTopology.js"
import { LABEL_TOPOLOGY, networkName } from "../../src/topology/DockerTopologyPlan.js"
import type { DeckyRow, MutationOp, TopologyDetail } from "../../src/topology/Model.js"
import { enqueueMutation } from "../../src/topology/Lifecycle.js"
import { TopologyRepo } from "../../src/topology/TopologyRepo.js"
import { buildDeckyBundle, DOCKER_SKIP_REASON, dockerEnabled, requireRoot } from "../fleet/dockerSupport.js"
import { spawnAsync } from "../support/spawn.js"
import { dockerProbes, iptablesRules, ipOn, outsideBox } from "./dockerFixture.js"
import { hydrated, persistGenerated, statusOf } from "./harness.js"

const NET = "10.232"
const OUTSIDE_SUBNET = "10.234.200.0/24"
const OUTSIDE_IP = "10.234.200.2"
const NEW_SUBNET = `${NET}.77.0/24`

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "decnet-docker-flow-"))
const dockerLayer = DockerLive.pipe(Layer.provide(DecnetConfig.layer))
const db = Layer.mergeAll(TopologyRepo.Default, FleetStore.Default).pipe(
  Layer.provideMerge(Layer.mergeAll(StateRepo.Default, FleetRepo.Default, MigrationsLive)),
  Layer.provideMerge(SqliteLive(path.join(tmp, "decnet.db")))
)
const world = Layer.mergeAll(
  DockerTopologyLive({ readyTimeout: "90 seconds" }),
  InProcessRuntime({ privileged: false }),
  EvidenceWriterLive(path.join(tmp, "evidence")),
  FakeBusLive()
).pipe(
  Layer.provideMerge(
    Layer.mergeAll(
      dockerLayer,
      NodeContext.layer,
      EventSinkMemory,
      DecnetConfig.fromMap({ DECNET_ARTIFACTS_ROOT: path.join(tmp, "artifacts") }),
      db
    )
  ),
  Layer.provide(Logger.minimumLogLevel(LogLevel.Warning))
)

if (!dockerEnabled) {
  describe("[docker] MazeNET flow on Docker", () => {
    it.skip(DOCKER_SKIP_REASON, () => {})
  })
} else {
  const rt = ManagedRuntime.make(world)
  type World = Layer.Layer.Success<typeof world>
  const run = <A, E>(effect: Effect.Effect<A, E, World | Scope.Scope>) => rt.runPromise(Effect.scoped(effect))
  let id = ""
  let topology: TopologyDetail | undefined
  let probes: ReturnType<typeof dockerProbes> | undefined
  let removeOutside: () => Promise<void> = async () => {}

  const detail = () => {
    if (topology === undefined) throw new Error("not deployed")
    return topology
  }
  const probe = () => {
    if (probes === undefined) throw new Error("not deployed")
    return probes
  }
  const deckyRow = (t: TopologyDetail, name: string): DeckyRow => {
    const row = t.deckies.find((d) => d.name === name)
    if (row === undefined) throw new Error(`no decky ${name}`)
    return row
  }
  const lanNames = (row: DeckyRow) => Object.keys(row.decky_config?.ips_by_lan ?? {})
  const dmzName = () => {
    const dmz = detail().lans.find((l) => l.is_dmz)
    if (dmz === undefined) throw new Error("no DMZ")
    return dmz.name
  }
  /** The DMZ's own decky (on the DMZ only). */
  const dmzDecky = () => {
    const row = detail().deckies.find((d) => lanNames(d).join() === dmzName())
    if (row === undefined) throw new Error("no decky homed on the DMZ alone")
    return row.name
  }
  /** Deckies with no DMZ membership: every LAN they are on is internal. */
  const insideDeckies = () => detail().deckies.filter((d) => !lanNames(d).includes(dmzName()))

  beforeAll(async () => {
    requireRoot("the [docker] topology flow test")
    const taken = await run(
      Effect.map(
        Effect.flatMap(Docker, (d) => d.listNetworks()),
        (ns) => ns.flatMap((n) => n.IPAM.Config.map((p) => `${n.Name} ${p.Subnet ?? ""}`))
      )
    )
    const clash = taken.filter((t) => t.includes(` ${NET}.`) || t.includes(" 10.234."))
    if (clash.length > 0) throw new Error(`${NET}.0.0/16 or 10.234.0.0/16 is in use: ${clash.join(", ")}`)
    const bundle = await buildDeckyBundle(tmp)
    await run(buildImages({ distro: "debian", bundlePath: bundle, progress: () => Effect.void }))
    const generated = await run(
      persistGenerated({
        // Seed 2 draws the full tree: two children under the DMZ, two under each of them.
        seed: 2,
        subnet_base_prefix: NET,
        deckies_per_lan_min: 1,
        deckies_per_lan_max: 1,
        randomize_services: false,
        services_explicit: ["redis"]
      })
    )
    id = generated.topology.id
    probes = dockerProbes(run, id)
    const t0 = performance.now()
    const outcome = await run(deployTopology(id))
    expect(outcome).toMatchObject({ _tag: "Deployed", status: "active" })
    topology = await run(hydrated(id))
    process.stdout.write(
      `[docker] generated topology deployed: ${topology.deckies.length} deckies on ${topology.lans.length} LANs in ` +
        `${((performance.now() - t0) / 1000).toFixed(1)} s\n`
    )
  }, 900_000)

  afterAll(async () => {
    if (topology !== undefined) await run(teardownTopology(id)).catch(() => {})
    await probes?.sweep()
    await removeOutside()
    await rt.dispose()
    fs.rmSync(tmp, { recursive: true, force: true })
  }, 180_000)

  describe("[docker] MazeNET flow on Docker", () => {
    it("[docker] generated and deployed: each base on exactly its ips_by_lan networks at those addresses; DMZ open, the others internal", async () => {
      const t = detail()
      expect([t.lans.length, t.deckies.length]).toEqual([7, 7])
      expect(t.deckies.every((d) => d.state === "running")).toBe(true)
      for (const row of t.deckies)
        expect(await probe().engineMemberships(row.name)).toEqual(probe().wanted(row))
      const nets = await run(
        Effect.flatMap(Docker, (d) => d.listNetworks({ labels: { [LABEL_TOPOLOGY]: id } }))
      )
      expect(nets.map((n) => [n.Name, n.Internal, n.IPAM.Config[0]?.Subnet]).sort()).toEqual(
        t.lans.map((l) => [networkName(id, l.name), !l.is_dmz, l.subnet]).sort()
      )
    })

    it("[docker] routing through the L3 forwarders: every decky off the DMZ reaches the DMZ's decky and is reached from it", async () => {
      const t = detail()
      const dmz = dmzDecky()
      const dmzIp = ipOn(t, dmz, dmzName())
      const inside = t.deckies.filter((d) => d.name !== dmz)
      // Depth 2 included: a decky homed two LANs down crosses its parent LAN's forwarder.
      expect(inside.some((d) => lanNames(d).every((lan) => lan !== dmzName()))).toBe(true)
      for (const row of inside) {
        const home = lanNames(row)[0] ?? ""
        expect(await probe().tcp(row.name, dmzIp, 6379, "PING\r\n")).toBe("+PONG\r")
        expect(await probe().tcp(dmz, ipOn(t, row.name, home), 6379, "PING\r\n")).toBe("+PONG\r")
      }
    })

    it("[docker] internal LANs have no way out: a container outside the topology answers the host, never them", async () => {
      removeOutside = await outsideBox(
        run,
        `decnet-topoflow-outside-${id.slice(0, 8)}`,
        OUTSIDE_SUBNET,
        OUTSIDE_IP
      )
      expect((await spawnAsync("busybox", ["ping", "-c", "1", "-W", "2", OUTSIDE_IP])).status).toBe(0)
      const inside = insideDeckies()
      expect(inside.length).toBeGreaterThan(0)
      // Pings do cross the maze…
      expect(await probe().ping(inside[0]?.name ?? "", ipOn(detail(), dmzDecky(), dmzName()))).toBe(true)
      // …but never leave it.
      for (const row of inside) expect(await probe().ping(row.name, OUTSIDE_IP)).toBe(false)
    })

    it("[docker] add_lan, add_decky (ssh) and attach_decky enqueued live: the watch loop applies each (applying → applied) and the engine converges", async () => {
      const dmz = dmzName()
      const heard = await run(
        Effect.gen(function* () {
          const bus = yield* Bus
          const seen = yield* Queue.unbounded<BusEvent>()
          yield* (yield* bus.subscribe(`topology.${id}.mutation.>`)).pipe(
            Stream.runForEach((e) => Queue.offer(seen, e)),
            Effect.forkScoped
          )
          yield* Effect.forkScoped(runWatchLoop({ pollSeconds: 60 }))
          // As the API does: the row, then the enqueued hint (Lifecycle.enqueueMutation).
          const enqueue = (op: MutationOp, payload: Record<string, unknown>) =>
            Effect.map(enqueueMutation(id, op, payload), (r) => r.mutation_id)
          const ids = [
            yield* enqueue("add_lan", { name: "LAN-new", subnet: NEW_SUBNET }),
            yield* enqueue("add_decky", { name: "decky-new", lan: "LAN-new", services: ["ssh"] }),
            yield* enqueue("attach_decky", { decky: "decky-new", lan: dmz })
          ]
          const events: Array<BusEvent> = []
          while (events.filter((e) => e.type === "applied" || e.type === "failed").length < 3) {
            const next = yield* Queue.take(seen).pipe(Effect.timeout("180 seconds"))
            if (next.type !== "enqueued") events.push(next)
          }
          return { ids, events }
        })
      )
      expect(heard.events.map((e) => [e.type, e.payload.mutation_id])).toEqual(
        heard.ids.flatMap((m) => [
          ["applying", m],
          ["applied", m]
        ])
      )
      const after = await run(hydrated(id))
      topology = after
      expect(await run(statusOf(id))).toBe("active")
      const fresh = deckyRow(after, "decky-new")
      expect(fresh.state).toBe("running")
      expect(lanNames(fresh)).toEqual(["LAN-new", dmz])
      expect(fresh.decky_config?.ips_by_lan?.["LAN-new"]).toMatch(/^10\.232\.77\./)

      // The engine: the new network with its subnet, the new decky on exactly its two networks, running.
      const net = await run(Effect.flatMap(Docker, (d) => d.inspectNetwork(networkName(id, "LAN-new"))))
      expect([net.Internal, net.IPAM.Config[0]?.Subnet]).toEqual([true, NEW_SUBNET])
      expect(await probe().engineMemberships("decky-new")).toEqual(probe().wanted(fresh))
      // A real client reaches its SSH from the DMZ's decky, on its DMZ address.
      expect(await probe().tcp(dmzDecky(), ipOn(after, "decky-new", dmz), 22)).toMatch(/^SSH-2\.0-/)
    })

    it("[docker] teardownTopology leaves nothing: no container, network or DOCKER-USER rule with the prefix", async () => {
      await run(teardownTopology(id))
      expect(await run(statusOf(id))).toBe("torn_down")
      expect(await probe().leftovers()).toEqual([])
      expect(await iptablesRules(`decnet_t_${id.slice(0, 8)}_`)).toEqual([])
      // The row stays (torn down, its subnets released); only the engine's state went.
      expect(Option.isSome(await run(Effect.flatMap(TopologyRepo, (r) => r.getTopology(id))))).toBe(true)
    })
  })
}
