// The live layer (real dockerode) without a real engine: a missing socket must be a typed "not
// reachable" error naming the path, and a small Engine-API server on a real UNIX socket in a temp dir
// checks HTTP error mapping, decoding and that interrupting a followed log stream closes the connection.
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Deferred, Effect, Exit, Fiber, Layer, Stream, Tracer } from "effect"
import * as fs from "node:fs"
import * as http from "node:http"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll } from "vitest"
import { DecnetConfig } from "../../src/config/DecnetConfig.js"
import { tcpAddress, unixAddress } from "../../src/docker/Address.js"
import { encodeFrame } from "../../src/docker/Demux.js"
import { Docker } from "../../src/docker/Docker.js"
import { DockerError } from "../../src/docker/DockerError.js"
import { DockerLive, DockerLiveAt } from "../../src/docker/DockerLive.js"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "decnet-docker-"))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

describe("DockerLive with no engine", () => {
  const missing = path.join(dir, "no-engine", "docker.sock")

  it.effect("every call fails with DockerError 'not reachable' naming the socket path (no defect)", () =>
    Effect.gen(function* () {
      const docker = yield* Docker
      for (const eff of [docker.ping, docker.version, docker.listContainers(), docker.inspectImage("x")]) {
        const exit = yield* Effect.exit(eff)
        expect(Exit.isFailure(exit)).toBe(true)
        const e = yield* Effect.flip(eff)
        expect(e).toBeInstanceOf(DockerError)
        expect(e.reason).toBe("unreachable")
        expect(e.message).toBe(
          `Docker engine not reachable at unix://${missing} — is dockerd running? (start it, or set DOCKER_HOST)`
        )
      }
      const logs = yield* Effect.flip(Stream.runDrain(docker.containerLogs("abc", { follow: true })))
      expect(logs).toMatchObject({ reason: "unreachable", op: "containerLogs" })
    }).pipe(Effect.provide(DockerLiveAt(unixAddress(missing))))
  )

  it.effect("DockerLive takes DOCKER_HOST from DecnetConfig", () =>
    Effect.gen(function* () {
      const docker = yield* Docker
      const e = yield* Effect.flip(docker.ping)
      expect(e.message).toContain(`not reachable at unix://${missing}`)
    }).pipe(
      Effect.provide(
        DockerLive.pipe(Layer.provide(DecnetConfig.fromMap({ DOCKER_HOST: `unix://${missing}` })))
      )
    )
  )

  it.effect("a tcp:// address with nothing listening is 'not reachable' too", () =>
    Effect.gen(function* () {
      // A loopback port that was just free: bind, note it, close.
      const port = yield* Effect.async<number>((resume) => {
        const s = net.createServer()
        s.listen(0, "127.0.0.1", () => {
          const a = s.address()
          const p = typeof a === "object" && a !== null ? a.port : 0
          s.close(() => resume(Effect.succeed(p)))
        })
      })
      const e = yield* Effect.flip(
        Effect.flatMap(Docker, (d) => d.ping).pipe(
          Effect.provide(DockerLiveAt(tcpAddress("127.0.0.1", port)))
        )
      )
      expect(e.reason).toBe("unreachable")
      expect(e.message).toContain(`not reachable at tcp://127.0.0.1:${port}`)
    })
  )

  it.effect(
    "a socket this process may not open is 'permission-denied' (skipped as root, who may open anything)",
    () =>
      Effect.gen(function* () {
        if (process.getuid?.() === 0) return
        const locked = path.join(dir, "locked")
        fs.mkdirSync(locked, { mode: 0o000 })
        const e = yield* Effect.flip(
          Effect.flatMap(Docker, (d) => d.ping).pipe(
            Effect.provide(DockerLiveAt(unixAddress(path.join(locked, "s"))))
          )
        )
        expect(e.reason).toBe("permission-denied")
      })
  )
})

// ---- a tiny Engine API on a UNIX socket --------------------------------------------------------
interface FakeEngine {
  readonly socket: string
  /** Bodies of POST /containers/create, as parsed JSON. */
  readonly creates: Array<unknown>
  /** Resolved when the client closes a followed logs response. */
  logsClosed: Promise<void>
}

const engine: FakeEngine = {
  socket: path.join(dir, "engine.sock"),
  creates: [],
  logsClosed: Promise.resolve()
}
let server: http.Server | undefined

const json = (res: http.ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { "Content-Type": "application/json" })
  res.end(JSON.stringify(body))
}

beforeAll(async () => {
  let markClosed: () => void = () => {}
  engine.logsClosed = new Promise((r) => (markClosed = r))
  server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://engine")
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      const p = url.pathname
      if (p === "/_ping") return res.end("OK")
      if (p === "/version")
        return json(res, 200, { Version: "25.0.0", ApiVersion: "1.44", MinAPIVersion: "1.24" })
      if (p === "/containers/json") return json(res, 200, [{ Names: ["/no-id"] }])
      if (p === "/containers/missing/json") return json(res, 404, { message: "No such container: missing" })
      if (p === "/containers/c1/json") {
        return json(res, 200, {
          Id: "c1",
          Name: "/c1",
          State: { Status: "running", Running: true },
          Config: { Tty: false, Labels: null, Env: null },
          HostConfig: { NetworkMode: "none" },
          NetworkSettings: { Networks: null }
        })
      }
      if (p === "/containers/create") {
        engine.creates.push(JSON.parse(Buffer.concat(chunks).toString() || "{}"))
        if (url.searchParams.get("name") === "taken") {
          return json(res, 409, { message: 'Conflict. The container name "/taken" is already in use' })
        }
        return json(res, 201, { Id: "new1", Warnings: [] })
      }
      if (p === "/containers/c1/logs") {
        res.writeHead(200, { "Content-Type": "application/vnd.docker.raw-stream" })
        res.write(encodeFrame("stdout", new TextEncoder().encode("hello\n")))
        res.write(encodeFrame("stderr", new TextEncoder().encode("err\n")))
        if (url.searchParams.get("follow") !== "true") return res.end()
        // Keep streaming until the client goes away, as a live container's logs do.
        const timer = setInterval(
          () => res.write(encodeFrame("stdout", new TextEncoder().encode("tick\n"))),
          20
        )
        res.on("close", () => {
          clearInterval(timer)
          markClosed()
        })
        return
      }
      if (p === "/build") {
        res.writeHead(200, { "Content-Type": "application/json" })
        res.write(`${JSON.stringify({ stream: "Step 1/2 : FROM scratch\n" })}\r\n`)
        res.write(`${JSON.stringify({ stream: "Step 2/2 : RUN false\n" })}\r\n`)
        res.end(
          `${JSON.stringify({ errorDetail: { message: "The command '/bin/sh -c false' returned a non-zero code: 1" }, error: "x" })}\r\n`
        )
        return
      }
      json(res, 500, { message: `fake engine: no route ${req.method} ${p}` })
    })
  })
  await new Promise<void>((r) => server?.listen(engine.socket, r))
})
afterAll(async () => {
  server?.closeAllConnections()
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()))
})

describe("DockerLive against an Engine API on a UNIX socket", () => {
  const live = Effect.provide(Layer.suspend(() => DockerLiveAt(unixAddress(engine.socket))))

  it.effect("ping and version; the API version is what the engine reports", () =>
    Effect.gen(function* () {
      const docker = yield* Docker
      yield* docker.ping
      expect((yield* docker.version).ApiVersion).toBe("1.44")
    }).pipe(live)
  )

  it.effect("every call is traced as a Docker.<op> span", () =>
    Effect.gen(function* () {
      const docker = yield* Docker
      const base = yield* Effect.tracer
      const names: Array<string> = []
      const recording = Tracer.make({
        span: (name, parent, context, links, startTime, kind, options) => {
          names.push(name)
          return base.span(name, parent, context, links, startTime, kind, options)
        },
        context: (f, fiber) => base.context(f, fiber)
      })
      yield* Effect.gen(function* () {
        yield* docker.ping
        yield* Effect.either(docker.inspectContainer("missing"))
        yield* Stream.runDrain(docker.containerLogs("c1"))
      }).pipe(Effect.withTracer(recording))
      expect(names).toEqual(
        expect.arrayContaining(["Docker.ping", "Docker.inspectContainer", "Docker.containerLogs"])
      )
    }).pipe(live)
  )

  it.effect("HTTP 404 and 409 become not-found and conflict with the engine's text", () =>
    Effect.gen(function* () {
      const docker = yield* Docker
      const nf = yield* Effect.flip(docker.inspectContainer("missing"))
      expect(nf).toMatchObject({
        reason: "not-found",
        status: 404,
        op: "inspectContainer",
        target: "missing"
      })
      expect(nf.message).toBe("docker inspectContainer missing: No such container: missing (HTTP 404)")
      const taken = yield* Effect.flip(docker.createContainer({ image: "x", name: "taken" }))
      expect(taken).toMatchObject({ reason: "conflict", status: 409 })
    }).pipe(live)
  )

  it.effect("an answer that does not fit the schema is a decode error, not a crash", () =>
    Effect.gen(function* () {
      const docker = yield* Docker
      const e = yield* Effect.flip(docker.listContainers())
      expect(e.reason).toBe("decode")
      expect(e.message).toContain("unexpected answer from the engine")
    }).pipe(live)
  )

  it.effect("null collections decode to empty ones", () =>
    Effect.gen(function* () {
      const docker = yield* Docker
      const c = yield* docker.inspectContainer("c1")
      expect(c.Config.Labels).toEqual({})
      expect(c.Config.Env).toEqual([])
      expect(c.NetworkSettings.Networks).toEqual({})
    }).pipe(live)
  )

  it.effect("on API 1.44 a create puts every network and MAC into EndpointsConfig", () =>
    Effect.gen(function* () {
      const docker = yield* Docker
      const id = yield* docker.createContainer({
        image: "decnet-base:bookworm",
        name: "decky-01",
        networks: [
          ["lan-a", { ipv4Address: "10.1.0.2", macAddress: "02:00:00:00:00:0a" }],
          ["lan-b", { macAddress: "02:00:00:00:00:0b" }]
        ]
      })
      expect(id).toBe("new1")
      expect(engine.creates.at(-1)).toMatchObject({
        Image: "decnet-base:bookworm",
        HostConfig: { NetworkMode: "lan-a" },
        NetworkingConfig: {
          EndpointsConfig: {
            "lan-a": { IPAMConfig: { IPv4Address: "10.1.0.2" }, MacAddress: "02:00:00:00:00:0a" },
            "lan-b": { MacAddress: "02:00:00:00:00:0b" }
          }
        }
      })
    }).pipe(live)
  )

  it.effect("logs are demultiplexed into stdout and stderr lines", () =>
    Effect.gen(function* () {
      const docker = yield* Docker
      const lines = yield* Stream.runCollect(docker.containerLogs("c1"))
      expect(Chunk.toArray(lines)).toEqual([
        { stream: "stdout", line: "hello" },
        { stream: "stderr", line: "err" }
      ])
    }).pipe(live)
  )

  it.live("interrupting a followed logs stream closes the HTTP connection", () =>
    Effect.gen(function* () {
      const docker = yield* Docker
      const ticking = yield* Deferred.make<void>()
      const fiber = yield* docker.containerLogs("c1", { follow: true }).pipe(
        Stream.tap((l) => (l.line === "tick" ? Deferred.succeed(ticking, undefined) : Effect.void)),
        Stream.runDrain,
        Effect.fork
      )
      yield* Deferred.await(ticking)
      yield* Fiber.interrupt(fiber)
      // The fake engine sees its response closed: the interval stops and the promise resolves.
      yield* Effect.promise(() => engine.logsClosed).pipe(
        // A liveness bound, not a timing assertion: without it a leak would hang the suite.
        Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error("logs response still open") })
      )
    }).pipe(live)
  )

  it.effect("taking a few lines of a followed stream also closes it", () =>
    Effect.gen(function* () {
      const docker = yield* Docker
      const lines = yield* Stream.runCollect(
        docker.containerLogs("c1", { follow: true }).pipe(Stream.take(3))
      )
      expect(Chunk.toArray(lines).map((l) => l.line)).toEqual(["hello", "err", "tick"])
    }).pipe(live)
  )

  it.effect("a build whose progress reports an error fails with build-failed and the output tail", () =>
    Effect.gen(function* () {
      const docker = yield* Docker
      const context = Stream.make(new Uint8Array(1024))
      const e = yield* Effect.flip(docker.buildImage(context, { tag: "t:1" }))
      expect(e).toBeInstanceOf(DockerError)
      if (e instanceof DockerError) {
        expect(e.reason).toBe("build-failed")
        expect(e.message).toContain(
          "docker buildImage t:1 failed: The command '/bin/sh -c false' returned a non-zero code: 1"
        )
        expect(e.message).toContain("Step 2/2 : RUN false")
      }
    }).pipe(live)
  )
})
