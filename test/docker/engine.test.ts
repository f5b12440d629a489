// Integration tests against a REAL Docker engine (gated): they run when DECNET_TEST_DOCKER=1 and then
// fail, not skip, if the engine is unreachable. Everything here is made by the test and labelled with
// this run's id: a busybox-static rootfs imported as an image, containers on `none` or on internal
// networks the test created (no published ports, no route out), all removed in finalizers.
import { describe, expect, it } from "@effect/vitest"
import { NodeStream } from "@effect/platform-node"
import { Chunk, Deferred, Effect, Either, Fiber, Layer, Stream } from "effect"
import { execFileSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll } from "vitest"
import { DecnetConfig } from "../../src/config/DecnetConfig.js"
import { Docker } from "../../src/docker/Docker.js"
import { DockerError } from "../../src/docker/DockerError.js"
import { DockerLive } from "../../src/docker/DockerLive.js"
import { endpointMacSupported } from "../../src/docker/Filters.js"

const enabled = process.env.DECNET_TEST_DOCKER === "1"
const BUSYBOX = "/bin/busybox"
const IMAGE = "decnet-test-busybox:latest"
const run = randomBytes(4).toString("hex")
const RUN_LABEL = "decnet.test.run"
const labels = { [RUN_LABEL]: run }
// An internal test network's subnet; 10.231.0.0/16 is not routed on the CI machines.
const octet = Number.parseInt(run.slice(0, 2), 16)
const SUBNET = `10.231.${octet}.0/24`
const FIXED_IP = `10.231.${octet}.10`

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "decnet-docker-it-"))

/** Tar a directory (with its symlinks) into a file and stream it. */
const tarOf = (dir: string) => {
  const file = path.join(tmp, `${path.basename(dir)}-${randomBytes(3).toString("hex")}.tar`)
  execFileSync("tar", ["-C", dir, "-cf", file, "."])
  return NodeStream.fromReadable(
    () => fs.createReadStream(file),
    (cause) => new Error(`reading ${file}: ${String(cause)}`)
  )
}

/** A 2 MB rootfs: static busybox plus the applets the tests call. */
const busyboxRootfs = () => {
  if (!fs.existsSync(BUSYBOX)) {
    throw new Error(`${BUSYBOX} is missing: install Debian's busybox-static to run the [docker] tests`)
  }
  const root = path.join(tmp, "rootfs")
  fs.mkdirSync(path.join(root, "bin"), { recursive: true })
  fs.mkdirSync(path.join(root, "tmp"), { recursive: true })
  fs.copyFileSync(BUSYBOX, path.join(root, "bin", "busybox"))
  fs.chmodSync(path.join(root, "bin", "busybox"), 0o755)
  for (const applet of ["sh", "echo", "sleep", "cat", "ls", "true", "false", "ip", "hostname"]) {
    const link = path.join(root, "bin", applet)
    if (!fs.existsSync(link)) fs.symlinkSync("busybox", link)
  }
  return root
}

const ensureImage = Effect.gen(function* () {
  const docker = yield* Docker
  const present = yield* Effect.either(docker.inspectImage(IMAGE))
  if (Either.isRight(present)) return present.right.Id
  return yield* docker.importImage(tarOf(busyboxRootfs()), {
    repo: "decnet-test-busybox",
    tag: "latest",
    changes: ['CMD ["/bin/sh"]']
  })
})

/** Create a container and remove it (forced) when the test's scope closes, whatever happened. */
const scopedContainer = (spec: Parameters<Effect.Effect.Success<typeof Docker>["createContainer"]>[0]) =>
  Effect.flatMap(Docker, (docker) =>
    Effect.acquireRelease(docker.createContainer({ ...spec, labels: { ...spec.labels, ...labels } }), (id) =>
      docker.removeContainer(id, { force: true }).pipe(Effect.ignore)
    )
  )

const scopedNetwork = (spec: Parameters<Effect.Effect.Success<typeof Docker>["createNetwork"]>[0]) =>
  Effect.flatMap(Docker, (docker) =>
    Effect.acquireRelease(docker.createNetwork({ ...spec, labels: { ...spec.labels, ...labels } }), (id) =>
      docker.removeNetwork(id).pipe(Effect.ignore)
    )
  )

// The real environment's DOCKER_HOST, resolved the way the CLI resolves it.
const live = Effect.provide(DockerLive.pipe(Layer.provide(DecnetConfig.layer)))

if (!enabled) {
  describe("[docker] Docker engine integration", () => {
    it.skip("runs only with DECNET_TEST_DOCKER=1 and a running dockerd (see docs/docker.md)", () => {})
  })
} else {
  afterAll(async () => {
    // Sweep anything this run labelled, in case a test died before its finalizers ran.
    await Effect.runPromise(
      Effect.gen(function* () {
        const docker = yield* Docker
        for (const c of yield* docker.listContainers({ labels })) {
          yield* docker.removeContainer(c.Id, { force: true }).pipe(Effect.ignore)
        }
        for (const n of yield* docker.listNetworks({ labels }))
          yield* docker.removeNetwork(n.Id).pipe(Effect.ignore)
        for (const i of yield* docker.listImages({ labels })) {
          yield* docker.removeImage(i.Id, { force: true }).pipe(Effect.ignore)
        }
        yield* docker.removeImage(IMAGE, { force: true }).pipe(Effect.ignore)
      }).pipe(live, Effect.ignore)
    )
    fs.rmSync(tmp, { recursive: true, force: true })
  })

  describe("[docker] Docker engine integration", () => {
    it.effect("[docker] the engine answers ping, version (API version) and info", () =>
      Effect.gen(function* () {
        const docker = yield* Docker
        yield* docker.ping
        const v = yield* docker.version
        expect(v.ApiVersion).toMatch(/^\d+\.\d+$/)
        const info = yield* docker.info
        expect(info.ServerVersion).toBe(v.Version)
      }).pipe(live)
    )

    it.effect("[docker] imports a busybox-static rootfs tar as an image", () =>
      Effect.gen(function* () {
        const docker = yield* Docker
        yield* docker.removeImage(IMAGE, { force: true }).pipe(Effect.ignore)
        const id = yield* ensureImage
        expect(id).toMatch(/^sha256:[0-9a-f]{64}$/)
        const img = yield* docker.inspectImage(IMAGE)
        expect(img.Id).toBe(id)
        expect(img.Config.Cmd).toEqual(["/bin/sh"])
        expect((yield* docker.listImages({ reference: "decnet-test-busybox" })).map((i) => i.Id)).toContain(
          id
        )
      }).pipe(live)
    )

    it.scoped("[docker] runs sh -c 'echo hello; echo err >&2' and reads both lines with their stream", () =>
      Effect.gen(function* () {
        const docker = yield* Docker
        yield* ensureImage
        const id = yield* scopedContainer({
          image: IMAGE,
          name: `decnet-test-echo-${run}`,
          cmd: ["sh", "-c", "echo hello; echo err >&2"],
          networkMode: "none"
        })
        yield* docker.startContainer(id)
        expect(yield* docker.waitContainer(id)).toBe(0)
        const lines = Chunk.toArray(yield* Stream.runCollect(docker.containerLogs(id)))
        // stdout and stderr are separate pipes in the container: their relative order is not fixed.
        expect(lines).toHaveLength(2)
        expect(lines).toContainEqual({ stream: "stdout", line: "hello" })
        expect(lines).toContainEqual({ stream: "stderr", line: "err" })
        const onlyErr = Chunk.toArray(yield* Stream.runCollect(docker.containerLogs(id, { stdout: false })))
        expect(onlyErr).toEqual([{ stream: "stderr", line: "err" }])
        const details = yield* docker.inspectContainer(id)
        expect(details.State).toMatchObject({ Status: "exited", ExitCode: 0, Running: false })
        expect(details.Config.Labels[RUN_LABEL]).toBe(run)
        expect(details.HostConfig.NetworkMode).toBe("none")
        const listed = yield* docker.listContainers({
          labels: { [RUN_LABEL]: run },
          name: `decnet-test-echo-${run}`
        })
        expect(listed.map((c) => c.Id)).toEqual([id])
      }).pipe(live)
    )

    it.scoped("[docker] follows a running container's logs; taking or interrupting closes the stream", () =>
      Effect.gen(function* () {
        const docker = yield* Docker
        yield* ensureImage
        const id = yield* scopedContainer({
          image: IMAGE,
          cmd: ["sh", "-c", "echo ready; while true; do echo tick; sleep 0.1; done"],
          networkMode: "none",
          stopTimeoutSeconds: 1
        })
        yield* docker.startContainer(id)
        yield* docker.startContainer(id) // already running: the engine's 304 is success
        const first = Chunk.toArray(
          yield* Stream.runCollect(docker.containerLogs(id, { follow: true }).pipe(Stream.take(3)))
        )
        expect(first).toEqual([
          { stream: "stdout", line: "ready" },
          { stream: "stdout", line: "tick" },
          { stream: "stdout", line: "tick" }
        ])
        const ticked = yield* Deferred.make<void>()
        const follower = yield* docker.containerLogs(id, { follow: true, tail: 1 }).pipe(
          Stream.tap(() => Deferred.succeed(ticked, undefined)),
          Stream.runDrain,
          Effect.fork
        )
        yield* Deferred.await(ticked)
        yield* Fiber.interrupt(follower)
        yield* docker.stopContainer(id, { timeoutSeconds: 1 })
        yield* docker.stopContainer(id) // already stopped: success too
        expect((yield* docker.inspectContainer(id)).State.Running).toBe(false)
        yield* docker.removeContainer(id)
        expect((yield* Effect.flip(docker.inspectContainer(id))).reason).toBe("not-found")
      }).pipe(live)
    )

    it.scoped(
      "[docker] networks: labels, list by label, MAC, fixed address, connect/disconnect, removal rules",
      () =>
        Effect.gen(function* () {
          const docker = yield* Docker
          yield* ensureImage
          const api = (yield* docker.version).ApiVersion
          const netA = `decnet-test-a-${run}`
          const netB = `decnet-test-b-${run}`
          const idA = yield* scopedNetwork({ name: netA, internal: true })
          yield* scopedNetwork({ name: netB, internal: true, ipam: [{ subnet: SUBNET }] })
          const mine = yield* docker.listNetworks({ labels: { [RUN_LABEL]: run } })
          expect(mine.map((n) => n.Name).sort()).toEqual([netA, netB])
          expect(mine.every((n) => n.Internal && n.Driver === "bridge")).toBe(true)
          expect((yield* docker.inspectNetwork(netB)).IPAM.Config[0]?.Subnet).toBe(SUBNET)
          const dup = yield* Effect.flip(docker.createNetwork({ name: netA }))
          expect(dup.reason).toBe("conflict")

          const mac = "02:42:0a:e7:00:99"
          const c = yield* scopedContainer({
            image: IMAGE,
            cmd: ["sleep", "30"],
            networks: [[netA, { macAddress: mac }]],
            stopTimeoutSeconds: 1
          })
          yield* docker.startContainer(c)
          const before = yield* docker.inspectContainer(c)
          expect(before.NetworkSettings.Networks[netA]?.MacAddress).toBe(mac)
          expect(before.NetworkSettings.Networks[netA]?.NetworkID).toBe(idA)

          yield* docker.connectNetwork(netB, c, { ipv4Address: FIXED_IP, aliases: ["db"] })
          const both = yield* docker.inspectContainer(c)
          expect(Object.keys(both.NetworkSettings.Networks).sort()).toEqual([netA, netB])
          expect(both.NetworkSettings.Networks[netB]?.IPAddress).toBe(FIXED_IP)
          expect(Object.keys((yield* docker.inspectNetwork(netB)).Containers)).toEqual([c])

          const busy = yield* Effect.flip(docker.removeNetwork(netB))
          expect(busy.reason).toBe("conflict")
          const again = yield* Effect.flip(docker.connectNetwork(netB, c))
          expect(again.reason).toBe("conflict")

          yield* docker.disconnectNetwork(netB, c)
          expect(Object.keys((yield* docker.inspectContainer(c)).NetworkSettings.Networks)).toEqual([netA])

          // A MAC on a later network: refused up front before API 1.44, honoured from 1.44.
          const macB = yield* Effect.either(
            docker.connectNetwork(netB, c, { macAddress: "02:42:0a:e7:00:98" })
          )
          if (endpointMacSupported(api)) expect(Either.isRight(macB)).toBe(true)
          else expect(Either.isLeft(macB) && macB.left.reason).toBe("unsupported")

          // Two networks at create: old engines get the second one connected right after.
          const two = yield* scopedContainer({
            image: IMAGE,
            cmd: ["sleep", "30"],
            networks: [
              [netA, {}],
              [netB, { ipv4Address: `10.231.${octet}.11` }]
            ]
          })
          yield* docker.startContainer(two) // addresses are assigned at start
          const twoNets = (yield* docker.inspectContainer(two)).NetworkSettings.Networks
          expect(Object.keys(twoNets).sort()).toEqual([netA, netB])
          expect(twoNets[netB]?.IPAddress).toBe(`10.231.${octet}.11`)
        }).pipe(live)
    )

    it.scoped("[docker] errors: missing container, duplicate name, removing a running container", () =>
      Effect.gen(function* () {
        const docker = yield* Docker
        yield* ensureImage
        const missing = yield* Effect.flip(docker.inspectContainer(`decnet-test-missing-${run}`))
        expect(missing).toBeInstanceOf(DockerError)
        expect(missing).toMatchObject({ reason: "not-found", status: 404 })
        const name = `decnet-test-dup-${run}`
        const id = yield* scopedContainer({ image: IMAGE, name, cmd: ["sleep", "30"], networkMode: "none" })
        const dup = yield* Effect.flip(docker.createContainer({ image: IMAGE, name, networkMode: "none" }))
        expect(dup).toMatchObject({ reason: "conflict", status: 409 })
        expect(dup.message).toContain("is already in use")
        yield* docker.startContainer(id)
        const running = yield* Effect.flip(docker.removeContainer(id))
        expect(running.reason).toBe("conflict")
        const noImage = yield* Effect.flip(docker.createContainer({ image: `decnet-test-nope-${run}:1` }))
        expect(noImage.reason).toBe("not-found")
      }).pipe(live)
    )

    it.scoped("[docker] builds an image from a tar context; a failing RUN is build-failed", () =>
      Effect.gen(function* () {
        const docker = yield* Docker
        yield* ensureImage
        const ctx = path.join(tmp, "ctx-ok")
        fs.mkdirSync(ctx, { recursive: true })
        fs.writeFileSync(path.join(ctx, "greeting.txt"), "built from context\n")
        fs.writeFileSync(
          path.join(ctx, "Dockerfile"),
          `FROM ${IMAGE}\nCOPY greeting.txt /greeting.txt\nRUN echo built >> /greeting.txt\nLABEL ${RUN_LABEL}=${run}\nCMD ["cat", "/greeting.txt"]\n`
        )
        const tag = `decnet-test-built:${run}`
        const built = yield* docker.buildImage(tarOf(ctx), { tag, networkMode: "none", labels })
        yield* Effect.addFinalizer(() => docker.removeImage(tag, { force: true }).pipe(Effect.ignore))
        expect(built.output.join("\n")).toContain("COPY greeting.txt /greeting.txt")
        const img = yield* docker.inspectImage(tag)
        expect(img.Id).toContain(built.imageId.replace(/^sha256:/, ""))
        expect(img.Config.Labels[RUN_LABEL]).toBe(run)
        expect((yield* docker.listImages({ labels })).map((i) => i.Id)).toContain(img.Id)

        const id = yield* scopedContainer({ image: tag, networkMode: "none" })
        yield* docker.startContainer(id)
        expect(yield* docker.waitContainer(id)).toBe(0)
        const out = Chunk.toArray(yield* Stream.runCollect(docker.containerLogs(id))).map((l) => l.line)
        expect(out).toEqual(["built from context", "built"])

        const bad = path.join(tmp, "ctx-bad")
        fs.mkdirSync(bad, { recursive: true })
        fs.writeFileSync(path.join(bad, "Dockerfile"), `FROM ${IMAGE}\nRUN echo about to fail && exit 3\n`)
        const failed = yield* Effect.flip(
          docker.buildImage(tarOf(bad), { tag: `decnet-test-bad:${run}`, networkMode: "none", labels })
        )
        expect(failed).toBeInstanceOf(DockerError)
        if (failed instanceof DockerError) {
          expect(failed.reason).toBe("build-failed")
          expect(failed.message).toContain("returned a non-zero code: 3")
          expect(failed.message).toContain("about to fail")
        }
      }).pipe(live)
    )

    it.scoped("[docker] events: a labelled container's start arrives on the event stream", () =>
      Effect.gen(function* () {
        const docker = yield* Docker
        yield* ensureImage
        // `since` replays from just before now, so the order of subscribe and start does not matter.
        const since = Math.floor(Date.now() / 1000) - 1
        const events = yield* docker
          .events({
            type: "container",
            actions: ["start"],
            labels: { [RUN_LABEL]: run, "decnet.test.events": "1" },
            since
          })
          .pipe(Stream.take(1), Stream.runCollect, Effect.fork)
        const id = yield* scopedContainer({
          image: IMAGE,
          cmd: ["true"],
          networkMode: "none",
          labels: { "decnet.test.events": "1" }
        })
        yield* docker.startContainer(id)
        const got = Chunk.toArray(yield* Fiber.join(events))
        expect(got.map((e) => [e.Type, e.Action, e.Actor.ID])).toEqual([["container", "start", id]])
      }).pipe(live)
    )
  })
}
