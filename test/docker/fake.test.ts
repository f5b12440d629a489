// DockerTest, the in-memory engine other modules' unit tests will lean on: it must keep the engine's
// rules (names unique, running containers not removable, networks with endpoints not removable), fail
// with the same DockerError reasons as the live layer, record calls, and script output.
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Deferred, Effect, Either, Fiber, Stream } from "effect"
import { Docker } from "../../src/docker/Docker.js"
import { DockerError } from "../../src/docker/DockerError.js"
import { DockerTest, DockerTestControl } from "../../src/docker/DockerTest.js"
import { containerName } from "../../src/docker/Model.js"

const withFake = (options: Parameters<typeof DockerTest>[0] = {}) =>
  Effect.provide(DockerTest({ images: ["busybox:latest"], ...options }))

const tar = Stream.make(new Uint8Array([1, 2, 3]), new Uint8Array([4, 5]))

describe("DockerTest", () => {
  it.effect("container lifecycle: create, start, list by label, stop, remove; calls are recorded", () =>
    Effect.gen(function* () {
      const docker = yield* Docker
      const control = yield* DockerTestControl
      const id = yield* docker.createContainer({
        image: "busybox",
        name: "decky-01",
        labels: { "decnet.fleet.decky": "decky-01", "decnet.fleet.service": "true" },
        networkMode: "none"
      })
      yield* docker.createContainer({
        image: "busybox",
        name: "other",
        labels: { app: "x" },
        networkMode: "none"
      })
      yield* docker.startContainer(id)
      yield* docker.startContainer(id) // already running: fine, as with the engine's 304

      const listed = yield* docker.listContainers({ labels: { "decnet.fleet.service": true } })
      expect(listed.map(containerName)).toEqual(["decky-01"])
      expect(listed[0]?.State).toBe("running")
      const byValue = yield* docker.listContainers({ labels: { "decnet.fleet.decky": "decky-02" } })
      expect(byValue).toEqual([])

      const removeRunning = yield* Effect.either(docker.removeContainer(id))
      expect(Either.isLeft(removeRunning) && removeRunning.left.reason).toBe("conflict")

      yield* docker.stopContainer(id, { timeoutSeconds: 1 })
      expect((yield* docker.inspectContainer("decky-01")).State).toMatchObject({
        Status: "exited",
        Running: false
      })
      yield* docker.removeContainer(id)
      const gone = yield* Effect.either(docker.inspectContainer(id))
      expect(Either.isLeft(gone) && gone.left).toMatchObject({ reason: "not-found", status: 404, target: id })

      const ops = (yield* control.calls).map((c) => c.op)
      expect(ops).toEqual([
        "createContainer",
        "createContainer",
        "startContainer",
        "startContainer",
        "listContainers",
        "listContainers",
        "removeContainer",
        "stopContainer",
        "inspectContainer",
        "removeContainer",
        "inspectContainer"
      ])
      expect((yield* control.calls)[0]?.args[0]).toMatchObject({ name: "decky-01", image: "busybox" })
    }).pipe(withFake())
  )

  it.effect("names are unique, images must exist, networks must exist", () =>
    Effect.gen(function* () {
      const docker = yield* Docker
      yield* docker.createContainer({ image: "busybox", name: "a" })
      const dup = yield* Effect.flip(docker.createContainer({ image: "busybox", name: "a" }))
      expect(dup).toMatchObject({ reason: "conflict", status: 409 })
      expect(dup.message).toContain('The container name "/a" is already in use')
      const noImage = yield* Effect.flip(docker.createContainer({ image: "nope:1" }))
      expect(noImage).toMatchObject({
        reason: "not-found",
        message: "docker createContainer nope:1: No such image: nope:1 (HTTP 404)"
      })
      const noNet = yield* Effect.flip(
        docker.createContainer({ image: "busybox", networks: [["lan-x", {}]] })
      )
      expect(noNet.reason).toBe("not-found")
      // a failed create leaves nothing behind
      expect((yield* docker.listContainers()).map(containerName)).toEqual(["a"])
    }).pipe(withFake())
  )

  it.effect("networks: create with labels, list by label, connect/disconnect, removal rules", () =>
    Effect.gen(function* () {
      const docker = yield* Docker
      const lan = yield* docker.createNetwork({
        name: "decnet_lan",
        driver: "macvlan",
        labels: { "decnet.topology": "t1" },
        options: { parent: "decnet_vp0" },
        ipam: [{ subnet: "10.77.0.0/24", gateway: "10.77.0.1" }]
      })
      yield* docker.createNetwork({ name: "other", labels: { "decnet.topology": "t2" } })
      expect(Either.isLeft(yield* Effect.either(docker.createNetwork({ name: "decnet_lan" })))).toBe(true)

      const t1 = yield* docker.listNetworks({ labels: { "decnet.topology": "t1" } })
      expect(t1.map((n) => [n.Id, n.Name, n.Driver, n.Options])).toEqual([
        [lan, "decnet_lan", "macvlan", { parent: "decnet_vp0" }]
      ])

      const c = yield* docker.createContainer({
        image: "busybox",
        name: "decky-01",
        networks: [["decnet_lan", { ipv4Address: "10.77.0.10", macAddress: "02:42:0a:4d:00:0a" }]]
      })
      const details = yield* docker.inspectContainer(c)
      expect(details.NetworkSettings.Networks.decnet_lan).toMatchObject({
        IPAddress: "10.77.0.10",
        MacAddress: "02:42:0a:4d:00:0a"
      })
      expect(details.NetworkSettings.MacAddress).toBe("02:42:0a:4d:00:0a")

      yield* docker.connectNetwork("other", c, { aliases: ["db"] })
      const again = yield* Effect.flip(docker.connectNetwork("other", c))
      expect(again.reason).toBe("conflict")
      expect(Object.keys((yield* docker.inspectContainer(c)).NetworkSettings.Networks).sort()).toEqual([
        "decnet_lan",
        "other"
      ])
      expect(Object.keys((yield* docker.inspectNetwork("other")).Containers)).toEqual([c])

      const busy = yield* Effect.flip(docker.removeNetwork("other"))
      expect(busy).toMatchObject({ reason: "conflict", status: 403 })
      yield* docker.disconnectNetwork("other", c)
      const notOn = yield* Effect.flip(docker.disconnectNetwork("other", c))
      expect(notOn.status).toBe(500)
      yield* docker.removeNetwork("other")
      expect((yield* Effect.flip(docker.removeNetwork("bridge"))).reason).toBe("conflict")
      expect((yield* docker.listNetworks()).map((n) => n.Name).sort()).toEqual([
        "bridge",
        "decnet_lan",
        "host",
        "none"
      ])
    }).pipe(withFake())
  )

  it.effect("API 1.41 refuses a MAC on a second network; API 1.44 takes it", () =>
    Effect.gen(function* () {
      const run = (apiVersion: string) =>
        Effect.gen(function* () {
          const docker = yield* Docker
          yield* docker.createNetwork({ name: "a" })
          yield* docker.createNetwork({ name: "b" })
          return yield* Effect.either(
            docker.createContainer({
              image: "busybox",
              networks: [
                ["a", { macAddress: "02:00:00:00:00:01" }],
                ["b", { macAddress: "02:00:00:00:00:02" }]
              ]
            })
          )
        }).pipe(withFake({ apiVersion }))
      const old = yield* run("1.41")
      expect(Either.isLeft(old) && old.left.reason).toBe("unsupported")
      expect(Either.isRight(yield* run("1.44"))).toBe(true)
    })
  )

  it.effect(
    "logs: scripted output by stream; follow sees appended lines and ends when the container exits",
    () =>
      Effect.gen(function* () {
        const docker = yield* Docker
        const control = yield* DockerTestControl
        const id = yield* docker.createContainer({
          image: "busybox",
          name: "svc",
          cmd: ["sh", "-c", "echo hello"]
        })
        yield* docker.startContainer(id)
        const all = yield* Stream.runCollect(docker.containerLogs(id))
        expect(Chunk.toArray(all)).toEqual([
          { stream: "stdout", line: "hello" },
          { stream: "stderr", line: "err" }
        ])
        const errOnly = yield* Stream.runCollect(docker.containerLogs(id, { stdout: false }))
        expect(Chunk.toArray(errOnly)).toEqual([{ stream: "stderr", line: "err" }])

        const seen = yield* Deferred.make<void>()
        const backlogRead = yield* Deferred.make<void>()
        const follower = yield* docker.containerLogs(id, { follow: true, tail: 1 }).pipe(
          Stream.tap((l) => Deferred.succeed(l.line === "later" ? seen : backlogRead, undefined)),
          Stream.runCollect,
          Effect.fork
        )
        // Append only once the follower is past its backlog, so "later" can only arrive live.
        yield* Deferred.await(backlogRead)
        yield* control.appendLogs("svc", [{ stream: "stdout", line: "later" }])
        yield* Deferred.await(seen)
        yield* control.exitContainer(id, 3)
        const followed = yield* Fiber.join(follower)
        expect(Chunk.toArray(followed).map((l) => l.line)).toEqual(["err", "later"])
        expect(yield* docker.waitContainer(id)).toBe(3)
      }).pipe(
        withFake({
          logsFor: (spec) =>
            spec.cmd?.includes("echo hello")
              ? [
                  { stream: "stdout", line: "hello" },
                  { stream: "stderr", line: "err" }
                ]
              : []
        })
      )
  )

  it.effect("images: import tags a digest, build reports progress, removal refuses images in use", () =>
    Effect.gen(function* () {
      const docker = yield* Docker
      const id = yield* docker.importImage(tar, {
        repo: "decnet-base",
        tag: "bookworm",
        changes: ['CMD ["/bin/bash"]']
      })
      expect(id).toMatch(/^sha256:[0-9a-f]{64}$/)
      const img = yield* docker.inspectImage("decnet-base:bookworm")
      expect(img).toMatchObject({ Id: id, RepoTags: ["decnet-base:bookworm"] })
      expect(img.Config.Cmd).toEqual(["/bin/bash"])

      const built = yield* docker.buildImage(tar, {
        tag: "decnet-decky:1",
        labels: { "decnet.image": "decky" }
      })
      expect(built.output).toContain("Successfully tagged decnet-decky:1")
      expect((yield* docker.listImages({ labels: { "decnet.image": "decky" } })).map((i) => i.Id)).toEqual([
        built.imageId
      ])
      expect((yield* docker.listImages({ reference: "decnet-base" })).map((i) => i.Id)).toEqual([id])

      yield* docker.createContainer({ image: "decnet-decky:1", name: "user" })
      expect((yield* Effect.flip(docker.removeImage("decnet-decky:1"))).reason).toBe("conflict")
      yield* docker.removeImage("decnet-decky:1", { force: true })
      expect((yield* Effect.flip(docker.inspectImage("decnet-decky:1"))).reason).toBe("not-found")
    }).pipe(withFake())
  )

  it.effect("an upload stream's own failure reaches the caller with its own type", () =>
    Effect.gen(function* () {
      const docker = yield* Docker
      class TarError extends Error {
        readonly _tag = "TarError"
      }
      const broken = Stream.concat(tar, Stream.fail(new TarError("disk gone")))
      const e = yield* Effect.flip(docker.importImage(broken, { repo: "x" }))
      expect(e).toBeInstanceOf(TarError)
    }).pipe(withFake())
  )

  it.effect("unreachable engine: every call fails with the not-reachable message, nothing dies", () =>
    Effect.gen(function* () {
      const docker = yield* Docker
      for (const eff of [
        docker.ping,
        docker.version,
        docker.listContainers(),
        docker.createNetwork({ name: "n" })
      ]) {
        const e = yield* Effect.flip(eff)
        expect(e).toBeInstanceOf(DockerError)
        expect(e.reason).toBe("unreachable")
        expect(e.message).toBe(
          "Docker engine not reachable at tcp://127.0.0.1:1 — is dockerd running? (start it, or set DOCKER_HOST)"
        )
      }
      const logs = yield* Effect.flip(Stream.runDrain(docker.containerLogs("x")))
      expect(logs.reason).toBe("unreachable")
    }).pipe(withFake({ reachable: false, address: "tcp://127.0.0.1:1" }))
  )

  it.effect("failNext injects one failure for one op", () =>
    Effect.gen(function* () {
      const docker = yield* Docker
      const control = yield* DockerTestControl
      yield* control.failNext(
        "startContainer",
        new DockerError({ op: "startContainer", reason: "engine", message: "injected" })
      )
      const id = yield* docker.createContainer({ image: "busybox" })
      expect((yield* Effect.flip(docker.startContainer(id))).message).toBe("injected")
      yield* docker.startContainer(id)
      expect((yield* control.snapshot).containers[0]?.State.Running).toBe(true)
    }).pipe(withFake())
  )

  it.scoped("events: container start events filtered by label, replayed from `since`", () =>
    Effect.gen(function* () {
      const docker = yield* Docker
      const events = yield* docker
        .events({
          type: "container",
          actions: ["start"],
          labels: { "decnet.fleet.service": "true" },
          since: 0
        })
        .pipe(Stream.take(1), Stream.runCollect, Effect.fork)
      // `since: 0` replays history, so the result does not depend on when the subscription opened.
      const quiet = yield* docker.createContainer({ image: "busybox", name: "base" })
      yield* docker.startContainer(quiet)
      const svc = yield* docker.createContainer({
        image: "busybox",
        name: "svc",
        labels: { "decnet.fleet.service": "true" }
      })
      yield* docker.startContainer(svc)
      const got = Chunk.toArray(yield* Fiber.join(events))
      expect(got.map((e) => [e.Action, e.Actor.ID, e.Actor.Attributes.name])).toEqual([["start", svc, "svc"]])
    }).pipe(withFake())
  )
})
