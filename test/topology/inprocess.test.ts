// The in-process topology runtime (src/topology/InProcessTopology.ts): the loopback map, then the whole flow
// on a real SQLite file and the real MariaDB. A generated depth-2, branching-2 topology is persisted and
// deployed; redis-cli reaches a bridge decky on its loopback address in each of its two LANs; add_lan,
// add_decky and attach_decky are enqueued while it runs and the mutator's real watch loop applies them
// (applying → applied on the bus) until the new decky answers on both its addresses; teardown leaves
// nothing listening.
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { layer } from "@effect/vitest"
import { Effect, Either, Fiber, Layer, Option, Queue, Stream } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { Bus, type BusEvent } from "../../src/bus/Bus.js"
import { FakeBusLive } from "../../src/bus/FakeBus.js"
import { EvidenceWriterLive } from "../../src/collector/Writer.js"
import { DecnetConfig } from "../../src/config/DecnetConfig.js"
import { FleetRepo, MigrationsLive, StateRepo } from "../../src/db/index.js"
import { InProcessRuntime } from "../../src/fleet/InProcess.js"
import { FleetStore } from "../../src/fleet/Store.js"
import { EventSinkMemory } from "../../src/honeypots/runtime/index.js"
import { runWatchLoop } from "../../src/mutator/Watch.js"
import { deployTopology, teardownTopology } from "../../src/topology/Deploy.js"
import {
  InProcessTopology,
  InProcessTopologyLive,
  loopbackOf,
  loopbackSubnetOf
} from "../../src/topology/InProcessTopology.js"
import { enqueueMutation } from "../../src/topology/Lifecycle.js"
import type { MutationOp } from "../../src/topology/Model.js"
import { TopologyRepo } from "../../src/topology/TopologyRepo.js"
import { onBothBackends } from "../db/backends.js"
import { events, run } from "../honeypots/support.js"
import { hydrated, persistGenerated, statusOf } from "./harness.js"

const artifacts = mkdtempSync(join(tmpdir(), "decnet-topology-inprocess-"))
afterAll(() => rmSync(artifacts, { recursive: true, force: true }))

describe("the loopback map", () => {
  it("maps each private range onto its own loopback block, host part kept", () => {
    expect(loopbackOf("172.16.1.2")).toEqual(Either.right("127.100.1.2"))
    expect(loopbackOf("172.31.255.254")).toEqual(Either.right("127.115.255.254"))
    expect(loopbackOf("10.0.3.4")).toEqual(Either.right("127.116.3.4"))
    expect(loopbackOf("10.15.0.9")).toEqual(Either.right("127.131.0.9"))
    expect(loopbackOf("192.168.7.2")).toEqual(Either.right("127.132.7.2"))
    expect(Either.isLeft(loopbackOf("10.16.0.2"))).toBe(true)
    expect(Either.isLeft(loopbackOf("8.8.8.8"))).toBe(true)
    expect(loopbackSubnetOf({ name: "LAN-01", subnet: "172.16.1.0/24" })).toEqual(
      Either.right("127.100.1.0/24")
    )
    expect(loopbackSubnetOf({ name: "dmz", subnet: "10.0.0.0/24" })).toEqual(Either.right("127.116.0.0/24"))
    const outside = loopbackSubnetOf({ name: "wan", subnet: "100.64.0.0/24" })
    expect(Either.isLeft(outside) && outside.left.message).toMatch(
      /^LAN 'wan' \(100\.64\.0\.0\/24\) is outside 172\.16\.0\.0\/12, 10\.0\.0\.0\/12, 192\.168\.0\.0\/16/
    )
  })
})

const redisPing = (host: string, port: number) =>
  Effect.map(run("redis-cli", ["-h", host, "-p", String(port), "PING"], { timeoutMs: 5_000 }), (r) =>
    r.stdout.trim()
  )

onBothBackends("in-process topology, end to end", (backend) => {
  const db = Layer.mergeAll(TopologyRepo.Default, FleetStore.Default).pipe(
    Layer.provideMerge(Layer.mergeAll(StateRepo.Default, FleetRepo.Default, MigrationsLive)),
    Layer.provideMerge(backend.layer)
  )
  const config = DecnetConfig.fromMap({ DECNET_ARTIFACTS_ROOT: artifacts })
  const world = Layer.mergeAll(
    InProcessTopologyLive({ privileged: false }),
    InProcessRuntime({ privileged: false }),
    EvidenceWriterLive(join(artifacts, `evidence-${backend.name}`)),
    FakeBusLive()
  ).pipe(Layer.provideMerge(Layer.mergeAll(EventSinkMemory, config, db)))

  layer(world, { timeout: "120 seconds", excludeTestServices: true })((it) => {
    it.scoped(
      "deploy, reach a bridge decky in both LANs, edit it live through the watch loop, tear down",
      () =>
        Effect.gen(function* () {
          const repo = yield* TopologyRepo
          const inproc = yield* InProcessTopology
          const bus = yield* Bus
          const { topology } = yield* persistGenerated({
            randomize_services: false,
            services_explicit: ["redis"]
          })
          const id = topology.id
          expect(yield* deployTopology(id)).toMatchObject({ _tag: "Deployed", status: "active" })

          // decky-002 is LAN-01's bridge to the DMZ (the generator's seed-7 plan): on both, answering on both.
          const detail = yield* hydrated(id)
          const bridge = (yield* inproc.listeners(id)).filter((l) => l.decky === "decky-002")
          expect(bridge.map((l) => l.lan).sort()).toEqual(["LAN-00", "LAN-01"])
          for (const l of bridge) {
            expect(Either.right(l.loopback)).toEqual(loopbackOf(l.ip))
            expect(l.ip).toBe(
              detail.deckies.find((d) => d.name === "decky-002")?.decky_config?.ips_by_lan?.[l.lan]
            )
            const redis = l.ports.find((p) => p.service === "redis")
            expect(redis?.port).toBe(16379)
            expect(yield* redisPing(l.loopback, redis?.port ?? 0)).toBe("PONG")
          }
          // Its events reach the process's sink as the fleet's do, under its own name.
          const startups = (yield* events).filter((e) => e.type === "startup").map((e) => e.raw.split(" ")[2])
          expect(startups.filter((n) => n === "decky-002").length).toBe(2)

          // Live edits, enqueued as the API does (row, then the hint), applied by the watch loop.
          const seen = yield* Queue.unbounded<BusEvent>()
          yield* (yield* bus.subscribe(`topology.${id}.mutation.>`)).pipe(
            Stream.runForEach((e) => Queue.offer(seen, e)),
            Effect.forkScoped
          )
          const loop = yield* Effect.forkScoped(runWatchLoop({ pollSeconds: 60 }))
          // As the API does: the row, then the enqueued hint (Lifecycle.enqueueMutation).
          const enqueue = (op: MutationOp, payload: Record<string, unknown>) =>
            Effect.map(enqueueMutation(id, op, payload), (r) => r.mutation_id)
          const ids = [
            yield* enqueue("add_lan", { name: "LAN-new", subnet: "192.168.77.0/24" }),
            yield* enqueue("add_decky", { name: "decky-new", lan: "LAN-new", services: ["redis"] }),
            yield* enqueue("attach_decky", { decky: "decky-new", lan: "LAN-00" })
          ]
          const heard: Array<BusEvent> = []
          while (heard.filter((e) => e.type === "applied").length < 3) {
            const next = yield* Queue.take(seen).pipe(Effect.timeout("30 seconds"))
            if (next.type !== "enqueued") heard.push(next)
            expect(next.type).not.toBe("failed")
          }
          expect(heard.map((e) => [e.type, e.payload.mutation_id])).toEqual(
            ids.flatMap((m) => [
              ["applying", m],
              ["applied", m]
            ])
          )
          const after = yield* hydrated(id)
          const fresh = after.deckies.find((d) => d.name === "decky-new")
          expect(fresh?.state).toBe("running")
          expect(Object.keys(fresh?.decky_config?.ips_by_lan ?? {})).toEqual(["LAN-new", "LAN-00"])
          const freshListeners = (yield* inproc.listeners(id)).filter((l) => l.decky === "decky-new")
          expect(freshListeners.map((l) => [l.lan, l.loopback]).sort()).toEqual(
            [
              ["LAN-00", Either.getOrThrow(loopbackOf(fresh?.decky_config?.ips_by_lan?.["LAN-00"] ?? ""))],
              ["LAN-new", "127.132.77.2"]
            ].sort()
          )
          for (const l of freshListeners) expect(yield* redisPing(l.loopback, 16379)).toBe("PONG")
          expect(yield* statusOf(id)).toBe("active")
          yield* Fiber.interrupt(loop)

          // Teardown: torn down, nothing listening on any address the topology had.
          const addresses = (yield* inproc.listeners(id)).map((l) => l.loopback)
          yield* teardownTopology(id)
          expect(yield* statusOf(id)).toBe("torn_down")
          expect(yield* inproc.listeners(id)).toEqual([])
          for (const address of addresses) expect(yield* redisPing(address, 16379)).not.toBe("PONG")
          yield* repo.deleteTopologyCascade(id)
          expect(Option.isNone(yield* repo.getTopology(id))).toBe(true)
        })
    )
  })
})
