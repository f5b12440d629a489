/**
 * The collector's Docker source (spec fleet §7): every running container labelled
 * `decnet.fleet.service=true` or `decnet.topology.service=true` (one per decky, all its services) has its
 * stdout followed, line by line, into the collector core. Containers are found at start, on the engine's
 * `start` events (the event stream reconnects with back-off 1 s → 30 s) and by a re-scan every
 * `pipeline.reconcileSec` seconds.
 *
 * Logs are read with the engine's timestamps and resumed from the cursor store's position with `since`,
 * skipping what was already handled, so a restarted collector neither loses nor repeats a `.json` record
 * (docs/pipeline.md "Collector" says what that guarantee covers).
 */
import { type Chunk, Clock, Duration, Effect, FiberMap, Schedule, type Scope, Stream } from "effect"
import type { LogLine } from "../docker/Demux.js"
import { Docker } from "../docker/Docker.js"
import { DockerError, isNotFound } from "../docker/DockerError.js"
import { type ContainerSummary, containerName } from "../docker/Model.js"
import { Collector } from "./Collector.js"
import { type CursorStoreService, resumeFilter, sinceSeconds, splitTimestamped } from "./Cursor.js"
import type { EvidenceSource } from "./Record.js"
import type { EvidenceWriteError } from "./Writer.js"

/** Either label marks a container whose stdout is evidence (fleet deckies, MazeNET topology deckies). */
export const SERVICE_LABELS = ["decnet.fleet.service", "decnet.topology.service"] as const

export const isServiceContainer = (labels: Readonly<Record<string, string>>): boolean =>
  SERVICE_LABELS.some((label) => labels[label] === "true")

/** Container states whose log is complete: read to the end, nothing more will come. */
const STOPPED: ReadonlySet<string> = new Set(["exited", "dead"])

/** Containers followed at once; more are refused (and logged) until some stop. */
export const MAX_FOLLOWED = 1024

/** Reconnecting the engine's event stream: after 1 s, doubling, at most 30 s apart. */
const EVENTS_FIRST_DELAY = Duration.seconds(1)
export const EVENTS_BACKOFF = Schedule.exponential(EVENTS_FIRST_DELAY).pipe(
  Schedule.union(Schedule.spaced("30 seconds"))
)
/** A connection up this long resets the back-off. */
const EVENTS_HEALTHY = Duration.minutes(1)

export interface DockerSourceOptions {
  /** Seconds between re-scans of the running containers; 0 = only at start and on event-stream reconnects. */
  readonly reconcileSec: number
}

export interface DockerSourceHandle {
  /** Ids of the containers being followed now. */
  readonly followed: Effect.Effect<ReadonlyArray<string>>
  /** Re-scan the running containers now. */
  readonly scan: Effect.Effect<void>
}

const short = (id: string) => id.slice(0, 12)

/**
 * Start following (in the current scope): the initial scan is done when this returns; the event watcher
 * and the re-scan loop run until the scope closes.
 */
export const startDockerSource = (
  cursors: CursorStoreService,
  options: DockerSourceOptions
): Effect.Effect<DockerSourceHandle, never, Docker | Collector | Scope.Scope> =>
  Effect.gen(function* () {
    const docker = yield* Docker
    const collector = yield* Collector
    const fibers = yield* FiberMap.make<string>()

    /** One pass over the container's log, from its position to the end of the stream. */
    const followOnce = (id: string): Effect.Effect<void, DockerError | EvidenceWriteError> =>
      Effect.suspend(() => {
        const from = cursors.position(id)
        const isNew = resumeFilter(from)
        // A line cut into 64 KiB pieces carries the timestamp on its first piece only; the rest inherit
        // it and count as further lines at that time, the same way on every replay.
        let last = from === undefined ? undefined : { ts: from.ts, nanos: from.nanos }
        // A chunk of the engine's stream (many lines when it is busy) is handled as one: its lines are
        // written with one append per file, then their positions move, under the cursor lock.
        const onChunk = (chunk: Chunk.Chunk<LogLine>) => {
          const lines: Array<{ readonly line: string; readonly source: EvidenceSource }> = []
          const moves: Array<{ readonly ts: string; readonly nanos: bigint }> = []
          for (const l of chunk) {
            const split = splitTimestamped(l.line)
            const stamped = split ?? (last === undefined ? undefined : { ...last, text: l.line })
            if (stamped === undefined) {
              lines.push({ line: l.line, source: { container: id } })
              continue
            }
            last = { ts: stamped.ts, nanos: stamped.nanos }
            if (!isNew(stamped.nanos)) continue
            lines.push({ line: stamped.text, source: { container: id, ts: stamped.ts } })
            moves.push({ ts: stamped.ts, nanos: stamped.nanos })
          }
          if (lines.length === 0) return Effect.void
          return cursors.withLock(
            collector.acceptMany(lines).pipe(
              Effect.zipRight(
                Effect.sync(() => {
                  for (const m of moves) cursors.advance(id, m.ts, m.nanos)
                })
              )
            )
          )
        }
        return docker
          .containerLogs(id, {
            follow: true,
            stdout: true,
            stderr: false,
            timestamps: true,
            ...(from === undefined || from.nanos === 0n ? {} : { since: sinceSeconds(from.nanos) })
          })
          .pipe(Stream.runForEachChunk(onChunk))
      })

    const running = (id: string) =>
      docker.inspectContainer(id).pipe(
        Effect.map((d) => d.State.Running),
        Effect.orElseSucceed(() => false)
      )

    // The log stream ends when the container stops; if it is running again by then (a quick restart whose
    // `start` event found this fiber still here), follow on from the position.
    const follow = (id: string, name: string) =>
      followOnce(id).pipe(
        Effect.zipRight(running(id)),
        Effect.repeat({ schedule: Schedule.spaced("1 second"), while: (again) => again }),
        Effect.zipRight(
          Effect.logInfo(`collector: ${name} (${short(id)}) is not running; its log is read to the end`)
        ),
        Effect.catchAll((e) =>
          e._tag === "DockerError" && isNotFound(e)
            ? Effect.logInfo(`collector: ${name} (${short(id)}) is gone`)
            : Effect.logWarning(
                `collector: following ${name} (${short(id)}) failed: ${e.message}; the next scan resumes it`
              )
        )
      )

    const attach = (id: string, name: string) =>
      Effect.gen(function* () {
        if (yield* FiberMap.has(fibers, id)) return
        if ((yield* FiberMap.size(fibers)) >= MAX_FOLLOWED) {
          yield* Effect.logWarning(`collector: already following ${MAX_FOLLOWED} containers; ${name} waits`)
          return
        }
        yield* Effect.logInfo(`collector: following ${name} (${short(id)})`)
        cursors.know(id)
        yield* FiberMap.run(fibers, id, follow(id, name), { onlyIfMissing: true })
      })

    // At start, containers that stopped while no collector ran may hold unread lines: drain those this
    // collector knew (it followed them: a position), or that were created after it last wrote its cursor
    // file, or all of them when it has no cursor file (it knows nothing yet). Later scans look at running
    // ones only.
    const recovered = cursors.recovered
    const drainable = (c: ContainerSummary) =>
      STOPPED.has(c.State) &&
      (cursors.position(c.Id) !== undefined ||
        recovered.cursorFile !== "read" ||
        c.Created * 1000 >= recovered.savedAtMs - 1000)

    const scanWith = (atStart: boolean) =>
      Effect.forEach(SERVICE_LABELS, (label) =>
        docker.listContainers({ labels: { [label]: "true" }, all: atStart }).pipe(
          Effect.flatMap((list) =>
            Effect.forEach(
              list.filter((c) => c.State === "running" || (atStart && drainable(c))),
              (c) => attach(c.Id, containerName(c) || c.Id),
              { discard: true }
            )
          )
        )
      ).pipe(
        Effect.asVoid,
        Effect.catchAll((e) => Effect.logWarning(`collector: container scan failed: ${e.message}`))
      )
    const scan = scanWith(false)

    yield* scanWith(true)

    // One connection to the engine's event stream, until it breaks (it always ends in a failure). Each
    // connection also re-scans: containers may have started while the stream was down.
    const connection = docker.events({ type: "container", actions: ["start"] }).pipe(
      Stream.merge(Stream.drain(Stream.fromEffect(scan))),
      Stream.runForEach((ev) =>
        isServiceContainer(ev.Actor.Attributes)
          ? attach(ev.Actor.ID, ev.Actor.Attributes.name ?? ev.Actor.ID)
          : Effect.void
      ),
      Effect.zipRight(
        Effect.fail(
          new DockerError({ op: "events", reason: "stream", message: "the engine closed the event stream" })
        )
      )
    )
    // A connection that lasted a while ends the back-off: the next one starts again at 1 s.
    const attempt = Effect.gen(function* () {
      const start = yield* Clock.currentTimeMillis
      const e = yield* Effect.flip(connection)
      const lasted = (yield* Clock.currentTimeMillis) - start
      yield* Effect.logWarning(`collector: docker events: ${e.message}; reconnecting`)
      if (lasted < Duration.toMillis(EVENTS_HEALTHY)) return yield* Effect.fail(e)
    })
    yield* attempt.pipe(
      Effect.retry(EVENTS_BACKOFF),
      Effect.zipRight(Effect.sleep(EVENTS_FIRST_DELAY)),
      Effect.forever,
      Effect.forkScoped
    )

    if (options.reconcileSec > 0) {
      yield* Effect.sleep(Duration.seconds(options.reconcileSec)).pipe(
        Effect.zipRight(scan),
        Effect.forever,
        Effect.forkScoped
      )
    }

    return {
      followed: Effect.sync(() => Array.from(fibers, ([id]) => id)),
      scan
    }
  })
