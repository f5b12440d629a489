// The collector on a REAL Docker engine (gated like test/docker: DECNET_TEST_DOCKER=1, then failing, not
// skipping, without an engine). Busybox containers labelled as deckies print RFC 5424 lines; the Docker
// source follows them into `.log`/`.json` and the bus; a restarted collector (in-process, then a
// `decnet collect` child killed with SIGKILL mid-stream) holds every line exactly once in `.json`.
// Everything the tests make carries this run's label and is removed in finalizers and in afterAll.
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { NodeStream } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Either, Exit, Layer, Schedule, Scope, Stream } from "effect"
import { afterAll } from "vitest"
import { Bus, type BusEvent, type BusService } from "../../src/bus/Bus.js"
import { requestStop } from "../../src/bus/Control.js"
import { makeNatsBus } from "../../src/bus/NatsBus.js"
import { Collector, makeCollector } from "../../src/collector/Collector.js"
import { engineNanos, makeCursorStore } from "../../src/collector/Cursor.js"
import { startDockerSource } from "../../src/collector/DockerSource.js"
import { type EvidenceRecord, evidencePaths } from "../../src/collector/Record.js"
import { EvidenceWriter, makeEvidenceWriter } from "../../src/collector/Writer.js"
import { DecnetConfig } from "../../src/config/DecnetConfig.js"
import { type ContainerSpec, Docker } from "../../src/docker/Docker.js"
import { DockerLive } from "../../src/docker/DockerLive.js"
import { DECNET } from "../support/cli.js"
import { linesOf, recordingBus, recordsOf, tempDir } from "./support.js"

const enabled = process.env.DECNET_TEST_DOCKER === "1"
const natsUrl = process.env.DECNET_TEST_NATS_URL ?? "nats://127.0.0.1:4222"
const BUSYBOX = "/bin/busybox"
const IMAGE = "decnet-test-collector-busybox:latest"
const run = randomBytes(4).toString("hex")
const RUN_LABEL = "decnet.test.run"

const live = Effect.provide(DockerLive.pipe(Layer.provide(DecnetConfig.layer)))

/** Static busybox in a 2 MB rootfs, imported as an image (no registry). */
const ensureImage = Effect.gen(function* () {
  const docker = yield* Docker
  if (Either.isRight(yield* Effect.either(docker.inspectImage(IMAGE)))) return
  if (!fs.existsSync(BUSYBOX))
    return yield* Effect.die(
      new Error(`${BUSYBOX} is missing: install Debian's busybox-static to run the [docker] tests`)
    )
  const tmp = yield* tempDir("decnet-collector-image-")
  const root = path.join(tmp, "rootfs")
  fs.mkdirSync(path.join(root, "bin"), { recursive: true })
  fs.mkdirSync(path.join(root, "tmp"), { recursive: true })
  fs.copyFileSync(BUSYBOX, path.join(root, "bin", "busybox"))
  fs.chmodSync(path.join(root, "bin", "busybox"), 0o755)
  for (const applet of ["sh", "echo", "printf", "sleep", "usleep"])
    fs.symlinkSync("busybox", path.join(root, "bin", applet))
  const tar = path.join(tmp, "rootfs.tar")
  execFileSync("tar", ["-C", root, "-cf", tar, "."])
  yield* docker.importImage(
    NodeStream.fromReadable(
      () => fs.createReadStream(tar),
      (cause) => new Error(`reading ${tar}: ${String(cause)}`)
    ),
    { repo: "decnet-test-collector-busybox", tag: "latest", changes: ['CMD ["/bin/sh"]'] }
  )
}).pipe(Effect.scoped)

/** A decky-like container (labelled like the docker runtime labels one), removed when the scope closes. */
const container = (decky: string, script: string, options: { readonly labelled?: boolean } = {}) =>
  Effect.gen(function* () {
    const docker = yield* Docker
    yield* ensureImage
    const spec: ContainerSpec = {
      image: IMAGE,
      name: `decnet-test-collector-${decky}`,
      cmd: ["sh", "-c", script],
      networkMode: "none",
      stopTimeoutSeconds: 1,
      labels: {
        [RUN_LABEL]: run,
        ...(options.labelled === false ? {} : { "decnet.fleet.service": "true", "decnet.fleet.decky": decky })
      }
    }
    return yield* Effect.acquireRelease(docker.createContainer(spec), (id) =>
      docker.removeContainer(id, { force: true }).pipe(Effect.ignore)
    )
  })

/** Our RFC 5424 line (printf format) carrying `n`. */
const ours = (decky: string) =>
  `printf '<134>1 2026-05-01T12:00:00.000Z ${decky} seq - seq [relay@55555 src_ip="192.0.2.1" n="%s"]\\n'`

/** A shell loop printing our numbered lines `from..to`, `pauseUs` apart. */
const numbered = (decky: string, from: number, to: number, pauseUs: number) =>
  `i=${from - 1}; while [ $i -lt ${to} ]; do i=$((i+1)); ${ours(decky)} "$i"; usleep ${pauseUs}; done`

/** Poll (real time) until `get` (a function, or an effect) passes `check`; die after `seconds`. */
const eventually = <A>(
  what: string,
  get: (() => A) | Effect.Effect<A>,
  check: (a: A) => boolean,
  seconds = 60
) =>
  (Effect.isEffect(get) ? get : Effect.sync(get)).pipe(
    Effect.flatMap((a) => (check(a) ? Effect.succeed(a) : Effect.fail(what))),
    Effect.retry({ schedule: Schedule.spaced("50 millis"), times: seconds * 20 }),
    Effect.orDieWith((w) => new Error(`timed out waiting for ${w}`))
  )

const numbersOf = (records: ReadonlyArray<EvidenceRecord>, containerId: string) =>
  records.filter((r) => r.source?.container === containerId).map((r) => Number(r.fields.n))

const oneToN = (n: number) => Array.from({ length: n }, (_, i) => i + 1)

/** The Docker source, core, writer, cursors and a recording bus over `<dir>/decnet.log`, in the current scope. */
const collectorIn = (dir: string) =>
  Effect.gen(function* () {
    const paths = evidencePaths(path.join(dir, "decnet.log"))
    const cursors = yield* Effect.orDie(makeCursorStore(paths))
    const writer = yield* Effect.orDie(makeEvidenceWriter(paths.log))
    const { bus, events, settled } = yield* Effect.orDie(recordingBus)
    const collector = yield* makeCollector.pipe(
      Effect.provideService(Bus, bus),
      Effect.provideService(EvidenceWriter, writer),
      Effect.provide(DecnetConfig.fromMap({})),
      Effect.orDie
    )
    const source = yield* startDockerSource(cursors, { reconcileSec: 1 }).pipe(
      Effect.provideService(Collector, collector)
    )
    return { paths, events, settled, source }
  })

// ---- `decnet collect` children -------------------------------------------------------------------------

interface Child {
  readonly proc: ChildProcess
  readonly stderr: () => string
  readonly exited: Effect.Effect<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
}

/** `decnet collect --log-file <log>` as a child process; SIGKILLed when the scope closes if still running. */
const collectChild = (log: string, env: Record<string, string>) =>
  Effect.acquireRelease(
    Effect.sync((): Child => {
      const proc = spawn(process.execPath, [...DECNET, "collect", "--log-file", log], {
        env: { ...process.env, DECNET_COLLECTOR_RECONCILE_S: "1", ...env },
        stdio: ["ignore", "ignore", "pipe"]
      })
      let stderr = ""
      proc.stderr?.setEncoding("utf8").on("data", (d: string) => {
        stderr += d
      })
      const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        proc.once("exit", (code, signal) => resolve({ code, signal }))
      )
      return { proc, stderr: () => stderr, exited: Effect.promise(() => done) }
    }),
    (c) =>
      Effect.suspend(() =>
        c.proc.exitCode === null && c.proc.signalCode === null
          ? Effect.sync(() => c.proc.kill("SIGKILL")).pipe(Effect.zipRight(c.exited))
          : Effect.void
      )
  )

if (!enabled) {
  describe("[docker] collector on the Docker engine", () => {
    it.skip("runs only with DECNET_TEST_DOCKER=1 and a running dockerd (see docs/docker.md)", () => {})
  })
} else {
  afterAll(async () => {
    await Effect.runPromise(
      Effect.gen(function* () {
        const docker = yield* Docker
        for (const c of yield* docker.listContainers({ labels: { [RUN_LABEL]: run } }))
          yield* docker.removeContainer(c.Id, { force: true }).pipe(Effect.ignore)
        yield* docker.removeImage(IMAGE, { force: true }).pipe(Effect.ignore)
      }).pipe(live, Effect.ignore)
    )
  })

  describe("[docker] collector on the Docker engine", () => {
    it.scopedLive(
      "[docker] follows labelled containers (found at start and by `start` events) into .log, .json and system.log",
      () =>
        Effect.gen(function* () {
          const docker = yield* Docker
          const dir = yield* tempDir("decnet-collector-it-")
          const a = `a-${run}`
          const b = `b-${run}`
          const sshd = `<38>1 2026-05-01T12:00:00.100000+00:00 ${a} sshd 812 - - Failed password for root from 198.51.100.7 port 4000 ssh2`
          const bash = `<13>1 2026-05-01T12:00:00.200000+00:00 ${a} bash 4242 - - CMD uid=0 user=root src=203.0.113.9 pwd=/root cmd=id`
          const idA = yield* container(
            a,
            `${ours(a)} 1; echo '${sshd}'; echo 'not a syslog line'; echo '${bash}'; sleep 3600`
          )
          const idC = yield* container(`c-${run}`, `${ours(`c-${run}`)} 1; sleep 3600`, { labelled: false })
          yield* docker.startContainer(idA)
          yield* docker.startContainer(idC)

          const h = yield* collectorIn(dir)
          // Started after the source: found through the engine's `start` event (or the re-scan).
          const idB = yield* container(b, `${ours(b)} 1; sleep 3600`)
          yield* docker.startContainer(idB)

          const records = yield* eventually(
            "A's and B's records",
            () => recordsOf(h.paths.json),
            (rs) =>
              numbersOf(rs, idB).length === 1 && rs.filter((r) => r.source?.container === idA).length === 2
          )
          const ofA = records.filter((r) => r.source?.container === idA)
          expect(ofA.map((r) => [r.decky, r.service, r.event_type, r.attacker_ip])).toEqual([
            [a, "seq", "seq", "192.0.2.1"],
            [a, "bash", "command", "203.0.113.9"]
          ])
          // Each record names the engine's timestamp of its line.
          for (const r of ofA) expect(engineNanos(r.source?.ts ?? "")).toBeDefined()
          expect(records.some((r) => r.decky === `c-${run}`)).toBe(false)

          const log = linesOf(h.paths.log)
          // The raw file has every line of A, the dropped sshd line and the unparsable one included.
          for (const l of [sshd, "not a syslog line", bash]) expect(log).toContain(l)
          expect(log.filter((l) => l.includes(` ${b} seq `))).toHaveLength(1)
          expect(log.some((l) => l.includes(`c-${run}`))).toBe(false)

          yield* h.settled
          const published = h.events.filter(
            (e) => e.topic === "system.log" && (e.payload.decky === a || e.payload.decky === b)
          )
          expect(published.map((e) => [e.payload.decky, e.type]).sort()).toEqual(
            [
              [a, "command"],
              [a, "seq"],
              [b, "seq"]
            ].sort()
          )
          const followed = yield* h.source.followed
          expect(followed).toContain(idA)
          expect(followed).toContain(idB)
          expect(followed).not.toContain(idC)
        }).pipe(live)
    )

    it.scopedLive(
      "[docker] a restarted collector resumes each container after its last line, containers that exited meanwhile included",
      () =>
        Effect.gen(function* () {
          const docker = yield* Docker
          const dir = yield* tempDir("decnet-collector-it-")
          const d = `d-${run}`
          // Five lines, a pause in which the first collector goes away, five more, then the container exits.
          const id = yield* container(d, `${numbered(d, 1, 5, 1000)}; sleep 5; ${numbered(d, 6, 10, 1000)}`)
          // Silent while the first collector follows it: it has no line (no record) to be known by.
          const g = `g-${run}`
          const silent = yield* container(g, `sleep 5; ${numbered(g, 1, 3, 1000)}`)
          yield* docker.startContainer(id)
          yield* docker.startContainer(silent)

          const first = yield* Scope.make()
          const h1 = yield* collectorIn(dir).pipe(Scope.extend(first))
          yield* eventually(
            "the first five lines",
            () => numbersOf(recordsOf(h1.paths.json), id),
            (ns) => ns.length >= 5
          )
          expect(yield* h1.source.followed).toContain(silent)
          // Well past the containers' creation (the cursor file is written at close): only having followed
          // it tells the next collector to read the silent one.
          yield* Effect.sleep(Duration.millis(2500))
          yield* Scope.close(first, Exit.void)

          expect(yield* docker.waitContainer(id)).toBe(0)
          expect(yield* docker.waitContainer(silent)).toBe(0)
          const h2 = yield* collectorIn(dir)
          yield* eventually(
            "all ten lines",
            () => numbersOf(recordsOf(h2.paths.json), id),
            (ns) => ns.length >= 10
          )
          // The exited containers were drained to their end: their followers are gone, nothing more will come.
          yield* eventually(
            "the followers to end",
            h2.source.followed,
            (ids) => !ids.includes(id) && !ids.includes(silent)
          )
          expect(numbersOf(recordsOf(h2.paths.json), id)).toEqual(oneToN(10))
          expect(numbersOf(recordsOf(h2.paths.json), silent)).toEqual(oneToN(3))
          // `.log` is at least once: every line is there.
          const log = linesOf(h2.paths.log)
          for (const n of oneToN(10))
            expect(log.some((l) => l.includes(`n="${n}"]`) && l.includes(d))).toBe(true)
        }).pipe(live)
    )

    it.scopedLive(
      "[docker] `decnet collect` killed with SIGKILL mid-stream and restarted keeps every line exactly once",
      () =>
        Effect.gen(function* () {
          const docker = yield* Docker
          const dir = yield* tempDir("decnet-collector-it-")
          const e = `e-${run}`
          const N = 1500
          const id = yield* container(e, `${numbered(e, 1, N, 3000)}; sleep 3600`)
          const log = path.join(dir, "decnet.log")
          const json = evidencePaths(log).json
          const count = () => numbersOf(recordsOf(json), id).length
          const env = { DECNET_BUS_ENABLED: "false" }
          yield* docker.startContainer(id)

          // Three kills at different points of the stream, each followed by a fresh collector.
          const atKill: Array<number> = []
          for (const atLeast of [200, 600, 1000]) {
            const scope = yield* Scope.make()
            const child = yield* collectChild(log, env).pipe(Scope.extend(scope))
            yield* eventually(`${atLeast} records`, count, (n) => n >= atLeast)
            child.proc.kill("SIGKILL")
            atKill.push(count())
            expect((yield* child.exited).signal).toBe("SIGKILL")
            yield* Scope.close(scope, Exit.void)
            // Let the container print on while no collector runs.
            yield* Effect.sleep(Duration.millis(300))
          }
          const last = yield* collectChild(log, env)
          yield* eventually(`all ${N} records`, count, (n) => n >= N, 90)
          // Up and following (its signal handlers are installed), so SIGTERM is the clean stop under test.
          yield* eventually("the last collector to follow the container", last.stderr, (text) =>
            text.includes(`collector: following decnet-test-collector-${e}`)
          )
          last.proc.kill("SIGTERM")
          expect(yield* last.exited).toEqual({ code: 0, signal: null })

          // The kills landed in the middle of the stream, not after it.
          expect(atKill[0]).toBeLessThan(N)
          const ns = numbersOf(recordsOf(json), id)
          expect(ns).toEqual(oneToN(N))
          // The raw file holds each line at least once (a line can be written again after a kill).
          const raw = new Set(
            linesOf(log).flatMap((l) => (l.includes(` ${e} seq `) ? [/n="(\d+)"/.exec(l)?.[1]] : []))
          )
          expect(raw.size).toBe(N)
        }).pipe(live)
    )

    it.scopedLive(
      "[docker] `decnet collect` on NATS: system.log per line, the collector heartbeat, and a stop intent ends it",
      () =>
        Effect.gen(function* () {
          const docker = yield* Docker
          const dir = yield* tempDir("decnet-collector-it-")
          const f = `f-${run}`
          const bus = yield* makeNatsBus({ url: natsUrl, name: "collector-test" })
          const logs = yield* recordingOf(bus, "system.log")
          const health = yield* recordingOf(bus, "system.collector.health")
          const id = yield* container(f, `${numbered(f, 1, 3, 1000)}; sleep 3600`)
          yield* docker.startContainer(id)
          const child = yield* collectChild(path.join(dir, "decnet.log"), {
            DECNET_BUS_TYPE: "nats",
            DECNET_BUS_URL: natsUrl
          })
          yield* eventually(
            "a collector heartbeat",
            () => health,
            (hs) => hs.some((e) => e.payload.worker === "collector")
          )
          const mine = yield* eventually(
            "three system.log events",
            () => logs.filter((e) => e.payload.decky === f),
            (es) => es.length === 3
          )
          expect(mine.map((e) => [e.type, e.payload.service, e.payload.attacker_ip])).toEqual([
            ["seq", "seq", "192.0.2.1"],
            ["seq", "seq", "192.0.2.1"],
            ["seq", "seq", "192.0.2.1"]
          ])
          // Repeat the intent until the child is gone (its control subscription may come up after the beat).
          const stopped = yield* requestStop("collector", "collector-test").pipe(
            Effect.provideService(Bus, bus),
            Effect.zipRight(Effect.sleep(Duration.millis(500))),
            Effect.repeat({
              until: () => child.proc.exitCode !== null || child.proc.signalCode !== null,
              times: 40
            }),
            Effect.zipRight(child.exited)
          )
          expect(stopped).toEqual({ code: 0, signal: null })
          expect(child.stderr()).toContain("stop requested for collector by collector-test")
        }).pipe(live)
    )
  })
}

/** Every event on `pattern`, in arrival order, until the scope closes. */
const recordingOf = (bus: BusService, pattern: string) =>
  Effect.gen(function* () {
    const got: Array<BusEvent> = []
    const stream = yield* bus.subscribe(pattern)
    yield* stream.pipe(
      Stream.runForEach((e) => Effect.sync(() => got.push(e))),
      Effect.forkScoped
    )
    return got
  })
