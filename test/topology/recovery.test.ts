// Deploys and teardowns a stopped process left unfinished (src/topology/Recovery.ts), on a real SQLite file
// and the real MariaDB. The unfinished operation is real: deployer.ts runs deployTopology/teardownTopology
// in a process of its own on a runtime that never answers, and is SIGKILLed once the status and its owner
// are written. Then this process, on the same host and runtime, finishes it (a deploy to active, a teardown
// to torn_down, the take-over in the audit), and leaves alone what it must not take: an owner still
// running, another runtime's, another host's, or one with no owner recorded.
import * as os from "node:os"
import { Effect, Option } from "effect"
import { expect, it } from "vitest"
import { deployTopology } from "../../src/topology/Deploy.js"
import { type OperationOwner, ownerOf, ownerText, thisProcess } from "../../src/topology/Owner.js"
import { recoverInterrupted, resumeInterrupted } from "../../src/topology/Recovery.js"
import { TopologyRepo } from "../../src/topology/TopologyRepo.js"
import { onBothBackends } from "../db/backends.js"
import { hydrated, makeWorld, persistGenerated, statusOf, tails, useTopologyDb } from "./harness.js"
import { backendTarget, startDeployer } from "./interrupt.js"

onBothBackends("interrupted deploys and teardowns", (backend) => {
  const { run } = useTopologyDb(backend)
  const cleanup = (id: string) => Effect.flatMap(TopologyRepo, (r) => r.deleteTopologyCascade(id))
  const events = (id: string) =>
    Effect.map(
      Effect.flatMap(TopologyRepo, (r) => r.listStatusEvents(id)),
      (es) => [...es].reverse()
    )
  const moves = (id: string) =>
    Effect.map(events(id), (es) => es.map((e) => `${e.from_status}→${e.to_status}`))

  it("a deploy and a teardown record their owner: this process, its host and start, the runtime", () =>
    run(
      Effect.gen(function* () {
        const world = yield* makeWorld()
        const { topology } = yield* persistGenerated()
        yield* world.provide(deployTopology(topology.id))
        const [deploying] = yield* events(topology.id)
        const me = yield* thisProcess("in-process")
        expect(me).toMatchObject({ process: "decnet", host: os.hostname(), pid: process.pid })
        expect(deploying?.to_status).toBe("deploying")
        expect(deploying?.reason).toBe(ownerText(me))
        expect(ownerOf(deploying?.reason ?? null)).toEqual(Option.some(me))
        expect(ownerOf("network create failed")).toEqual(Option.none())
        yield* cleanup(topology.id)
      })
    ))

  it("a deploy whose process was SIGKILLed mid-way: recovery runs it again to active, the take-over audited", async () => {
    const { topology } = await run(persistGenerated())
    const deployer = await startDeployer(backendTarget(backend), topology.id, "deploy", "in-process")
    const pid = deployer.child.pid
    await deployer.kill()
    expect(await run(statusOf(topology.id))).toBe("deploying")

    await run(
      Effect.gen(function* () {
        const world = yield* makeWorld()
        const resumed = yield* world.provide(recoverInterrupted)
        expect(resumed).toContain(topology.id)
        expect(yield* statusOf(topology.id)).toBe("active")
        expect((yield* world.calls).map((c) => c.op)).toEqual(["deploy", "inspect"])
        expect((yield* hydrated(topology.id)).deckies.every((d) => d.state === "running")).toBe(true)
        expect(yield* moves(topology.id)).toEqual([
          "pending→deploying",
          "deploying→deploying",
          "deploying→active"
        ])
        const [first, takeOver] = yield* events(topology.id)
        const gone = Option.getOrThrow(ownerOf(first?.reason ?? null))
        expect(gone).toMatchObject({ process: "decnet up", host: os.hostname(), pid, runtime: "in-process" })
        expect(takeOver?.reason).toBe(
          `${ownerText(yield* thisProcess("in-process"))}; resuming the deploy left unfinished ${ownerText(gone)}`
        )
        expect(tails(yield* world.events)).toEqual(["status", "status"])
        // Nothing is left to take over.
        expect(yield* world.provide(recoverInterrupted)).not.toContain(topology.id)
        yield* cleanup(topology.id)
      })
    )
  })

  it("a teardown whose process was SIGKILLed mid-way: recovery finishes it, every decky torn down", async () => {
    const { topology } = await run(persistGenerated({ seed: 3 }))
    await run(Effect.flatMap(makeWorld(), (w) => w.provide(deployTopology(topology.id))))
    const deployer = await startDeployer(backendTarget(backend), topology.id, "teardown", "in-process")
    await deployer.kill()
    expect(await run(statusOf(topology.id))).toBe("tearing_down")

    await run(
      Effect.gen(function* () {
        const world = yield* makeWorld()
        expect(yield* world.provide(recoverInterrupted)).toContain(topology.id)
        expect(yield* statusOf(topology.id)).toBe("torn_down")
        expect((yield* world.calls).map((c) => c.op)).toEqual(["teardown"])
        expect((yield* hydrated(topology.id)).deckies.every((d) => d.state === "torn_down")).toBe(true)
        expect((yield* moves(topology.id)).slice(-3)).toEqual([
          "active→tearing_down",
          "tearing_down→tearing_down",
          "tearing_down→torn_down"
        ])
        yield* cleanup(topology.id)
      })
    )
  })

  it("an owner that still runs is left alone and named; once it is gone, resuming the one topology works", async () => {
    const { topology } = await run(persistGenerated({ seed: 4 }))
    const deployer = await startDeployer(backendTarget(backend), topology.id, "deploy", "in-process")
    try {
      await run(
        Effect.gen(function* () {
          const world = yield* makeWorld()
          expect(yield* world.provide(recoverInterrupted)).not.toContain(topology.id)
          const refused = yield* Effect.flip(world.provide(resumeInterrupted(topology.id)))
          expect(refused._tag).toBe("TopologyStatusError")
          expect(refused.message).toBe(
            `Topology is 'deploying' by decnet up on ${os.hostname()} (pid ${deployer.child.pid}, started ${
              Option.getOrThrow(ownerOf((yield* events(topology.id))[0]?.reason ?? null)).started
            }, in-process runtime): it is still running.`
          )
          expect(yield* world.calls).toEqual([])
          expect(yield* statusOf(topology.id)).toBe("deploying")
        })
      )
    } finally {
      await deployer.kill()
    }
    await run(
      Effect.gen(function* () {
        const world = yield* makeWorld()
        const outcome = yield* world.provide(resumeInterrupted(topology.id))
        expect(outcome).toMatchObject({ _tag: "Deployed", status: "active" })
        expect(yield* statusOf(topology.id)).toBe("active")
        const pending = yield* Effect.flip(world.provide(resumeInterrupted(topology.id)))
        expect(pending.message).toBe(
          "Topology is 'active'; only an unfinished deploy or teardown (deploying, tearing_down) can be resumed."
        )
        yield* cleanup(topology.id)
      })
    )
  })

  it("two processes that judge the same dead owner at once: one takes the operation over, the other is told", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* TopologyRepo
        const world = yield* makeWorld()
        const me = yield* thisProcess("in-process")
        const { topology } = yield* persistGenerated({ seed: 11 })
        // An earlier run of this pid left it (its owner is gone), as a crashed `decnet up` would.
        yield* repo.transitionStatus(
          topology.id,
          "deploying",
          ownerText({ ...me, started: "2000-01-01T00:00:00.000Z" })
        )
        const [judged] = yield* repo.listStatusEvents(topology.id, 1)
        const lastEventId = judged?.id ?? null
        const attempts = yield* Effect.all(
          Array.from({ length: 4 }, (_, i) =>
            repo.takeOverOperation(topology.id, "deploying", `taker ${i}`, lastEventId)
          ),
          { concurrency: "unbounded" }
        )
        expect(attempts.filter(Option.isSome)).toHaveLength(1)
        expect(yield* moves(topology.id)).toEqual(["pending→deploying", "deploying→deploying"])
        // Once taken, resuming again is refused with who holds it (this process, alive), and nothing runs twice.
        const refused = yield* Effect.flip(world.provide(resumeInterrupted(topology.id)))
        expect(refused.message).toMatch(/^Topology is 'deploying' /)
        // A stale judgement (the newest event has changed since) takes nothing.
        expect(
          Option.isNone(yield* repo.takeOverOperation(topology.id, "deploying", "late", lastEventId))
        ).toBe(true)
        expect((yield* world.calls).map((c) => c.op)).toEqual([])
        yield* cleanup(topology.id)
      })
    ))

  it("another runtime's, another host's, or an unowned operation is left as it is; a later run of this pid is not", async () => {
    const { topology: docker } = await run(persistGenerated({ seed: 5 }))
    await (await startDeployer(backendTarget(backend), docker.id, "deploy", "docker", "decnet api")).kill()
    await run(
      Effect.gen(function* () {
        const repo = yield* TopologyRepo
        const world = yield* makeWorld()
        const me = yield* thisProcess("in-process")
        const elsewhere = (yield* persistGenerated({ seed: 6 })).topology
        const away: OperationOwner = { ...me, host: "decnet-other.invalid", pid: 1 }
        yield* repo.transitionStatus(elsewhere.id, "deploying", ownerText(away))
        const unowned = (yield* persistGenerated({ seed: 8 })).topology
        yield* repo.transitionStatus(unowned.id, "deploying", null)
        // This pid, but another start of it (a restarted container's pid 1): that run is gone.
        const earlier = (yield* persistGenerated({ seed: 9 })).topology
        yield* repo.transitionStatus(
          earlier.id,
          "deploying",
          ownerText({ ...me, started: "2000-01-01T00:00:00.000Z" })
        )

        const resumed = yield* world.provide(recoverInterrupted)
        expect([docker.id, elsewhere.id, unowned.id].filter((id) => resumed.includes(id))).toEqual([])
        expect(resumed).toContain(earlier.id)
        expect(yield* statusOf(earlier.id)).toBe("active")
        for (const id of [docker.id, elsewhere.id, unowned.id]) expect(yield* statusOf(id)).toBe("deploying")

        const why = (id: string) =>
          Effect.map(Effect.flip(world.provide(resumeInterrupted(id))), (e) => e.message)
        expect(yield* why(docker.id)).toMatch(
          /^Topology is 'deploying' by decnet api on \S+ \(pid \d+, started \S+, docker runtime\): the in-process runtime here cannot take over a docker operation\.$/
        )
        expect(yield* why(elsewhere.id)).toBe(
          `Topology is 'deploying' ${ownerText(away)}: it runs on another host, whose process resumes it when it restarts.`
        )
        expect(yield* why(unowned.id)).toBe(
          "Topology is 'deploying' with no owner recorded (it started before owners were): tear it down to recover it."
        )
        expect((yield* world.calls).map((c) => c.op)).toEqual(["deploy", "inspect"])
        for (const id of [docker.id, elsewhere.id, unowned.id, earlier.id]) yield* cleanup(id)
      })
    )
  })
})
