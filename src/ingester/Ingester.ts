/**
 * The ingester (spec workers §4.3): tails the collector's `.json` evidence file and stores each record
 * as a `logs` row plus what it yields (credentials, bounties), a batch per transaction together with the
 * file position, so a kill -9 at any moment loses and repeats nothing. Then, and only then, it tells
 * the bus: `system.log` `batch_committed`, and `credential.captured` per credential.
 *
 * Reading: complete lines only; an undecodable line is logged and skipped. Batches close at
 * `batchSize` rows or when older than `batchMaxWaitMs` as a line is added, and at the end of the
 * available bytes. A missing file is retried every 2 s, an idle one every 1 s, sooner when the
 * directory watch reports a write. A new inode at the path (rotation) is read only once the old file
 * is drained and has stayed quiet for ROTATE_GRACE_MS (a writer reopens within a second); a file
 * shorter than the stored position or size (truncation) restarts at 0. Either reset is persisted.
 */

import * as NodePath from "node:path"
import { FileSystem } from "@effect/platform"
import type { PlatformError } from "@effect/platform/Error"
import {
  Cause,
  Duration,
  Effect,
  Either,
  Exit,
  Layer,
  Option,
  ParseResult,
  Queue,
  Schedule,
  Scope,
  Stream
} from "effect"
import type { Bus } from "../bus/Bus.js"
import { untilStopRequested } from "../bus/Control.js"
import { runHealthHeartbeat } from "../bus/Heartbeat.js"
import { publishSafely } from "../bus/Helpers.js"
import { T } from "../bus/Topics.js"
import { type EvidenceRecord, evidencePaths } from "../collector/Record.js"
import { DecnetConfig } from "../config/DecnetConfig.js"
import type { BatchCommitted, CapturedCredential, CredentialCaptured, NewBounty } from "./Bounty.js"
import { type IngestCursor, reconcile, START } from "./Cursor.js"
import { makeExtractor } from "./Extract.js"
import { MAX_LINE_BYTES, splitLines } from "./Lines.js"
import { decodeRecordLine } from "./Rows.js"
import { type IngestCursorConflict, IngestStore } from "./Store.js"

/** The heartbeat and control name (`system.ingester.health`); the original ran this inside the API. */
export const INGESTER_WORKER = "ingester"

export const MISSING_FILE_RETRY = Duration.seconds(2)
export const IDLE_POLL = Duration.seconds(1)
export const ERROR_BACKOFF = Duration.seconds(5)
/**
 * The first read of each window: small enough that a window's lines and records stay in the CPU caches
 * next to SQLite's pages; grown (×4, up to MAX_LINE_BYTES) only when it holds no complete line.
 */
export const READ_WINDOW_BYTES = 256 * 1024

/** How long a rotated-away file must stay quiet before the ingester moves to the new one. */
export const ROTATE_GRACE_MS = 2_000

export interface IngesterOptions {
  /** The `.json` evidence file. */
  readonly path: string
  readonly batchSize: number
  readonly batchMaxWaitMs: number
  /** DECNET_TRUSTED_PROXIES. */
  readonly trustedProxies: ReadonlyArray<string>
}

/** The configured ingester for `logFile` (default DECNET_INGEST_LOG_FILE); `x.log` is read as `x.json`. */
export const ingesterOptions = (logFile?: string): Effect.Effect<IngesterOptions, never, DecnetConfig> =>
  Effect.map(DecnetConfig, (c) => ({
    path: evidencePaths(logFile ?? c.logs.ingestLogFile).json,
    batchSize: c.ingester.batchSize,
    batchMaxWaitMs: c.ingester.batchMaxWaitMs,
    trustedProxies: c.pipeline.trustedProxies
  }))

/** Counters since the ingester started. */
export interface IngestStats {
  /** `logs` rows committed. */
  readonly rows: number
  /** Lines that did not decode as an evidence record (skipped). */
  readonly badLines: number
  /** Lines longer than MAX_LINE_BYTES (dropped). */
  readonly oversized: number
  /** Transactions committed. */
  readonly batches: number
  /** Credential sightings upserted. */
  readonly credentials: number
  /** Bounty rows inserted (duplicates not counted). */
  readonly bounties: number
  /** Restarts at 0 for a rotated or truncated file. */
  readonly resets: number
  /** The committed byte position. */
  readonly position: number
}

interface Pending {
  readonly logs: Array<EvidenceRecord>
  readonly credentials: Array<CapturedCredential>
  readonly bounties: Array<NewBounty>
  readonly started: number
  /** The position after the last line taken (decoded or skipped). */
  end: number
}

const snippet = (text: string, max = 200) =>
  JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text)

interface OpenFile {
  readonly file: FileSystem.File
  readonly inode: number | null
  readonly scope: Scope.CloseableScope
}

const openFile = (fs: FileSystem.FileSystem, path: string) =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    const file = yield* fs.open(path, { flag: "r" }).pipe(
      Scope.extend(scope),
      Effect.tapError(() => Scope.close(scope, Exit.void))
    )
    const info = yield* file.stat.pipe(Effect.tapError(() => Scope.close(scope, Exit.void)))
    return { file, inode: Option.getOrNull(info.ino), scope } satisfies OpenFile
  })

const closeFile = (open: OpenFile) => Scope.close(open.scope, Exit.void)

/**
 * One ingester's state over one file: the cursor (as committed, and as this ingester last knew the
 * database's copy), the reader's over-long-line state and the counters.
 */
const makeSession = (options: IngesterOptions) =>
  Effect.gen(function* () {
    const store = yield* IngestStore
    const clock = yield* Effect.clock
    const extractor = makeExtractor({ trustedProxies: options.trustedProxies })
    if (extractor.invalidProxies.length > 0)
      yield* Effect.logWarning(
        `DECNET_TRUSTED_PROXIES: ignoring ${extractor.invalidProxies.map((e) => JSON.stringify(e)).join(", ")} (not an address or CIDR)`
      )
    const batchSize = Math.max(1, options.batchSize)

    const loadCursor = store.load().pipe(
      Effect.sandbox,
      Effect.tapError((cause) => Effect.logError("cannot read the ingest cursor; retrying in 5 s", cause)),
      Effect.retry(Schedule.spaced(ERROR_BACKOFF)),
      Effect.orDie,
      Effect.map(Option.getOrUndefined)
    )

    /** The database's cursor as this ingester last read or wrote it. */
    let stored: IngestCursor | undefined = yield* loadCursor
    let cursor: IngestCursor = stored ?? START
    let skipping = false
    const stats = { rows: 0, badLines: 0, oversized: 0, batches: 0, credentials: 0, bounties: 0, resets: 0 }
    // A field problem is logged once per text, not once per record (a flood of them would drown the log).
    const reported = new Set<string>()
    yield* Effect.logInfo(`ingesting ${options.path} from byte ${cursor.position}`)

    const pending = (): Pending => ({
      logs: [],
      credentials: [],
      bounties: [],
      started: clock.unsafeCurrentTimeMillis(),
      end: cursor.position
    })

    const commit = (batch: Pending) =>
      Effect.gen(function* () {
        const next: IngestCursor = { position: batch.end, inode: cursor.inode }
        const done = yield* store.commit({
          logs: batch.logs,
          credentials: batch.credentials,
          bounties: batch.bounties,
          expected: stored,
          next
        })
        stored = next
        cursor = next
        stats.batches++
        stats.rows += batch.logs.length
        stats.credentials += batch.credentials.length
        stats.bounties += done.bounties
        // The database first, then the hints.
        if (batch.logs.length > 0) {
          const payload: BatchCommitted = {
            component: "ingester",
            flushed: batch.logs.length,
            position: next.position
          }
          yield* publishSafely(T.systemLog, payload, "batch_committed")
        }
        for (const c of done.credentials) {
          const payload: CredentialCaptured = {
            secret_sha256: c.secret_sha256,
            secret_kind: c.secret_kind,
            attacker_ip: c.attacker_ip,
            decky: c.decky_name,
            service: c.service
          }
          yield* publishSafely(T.credentialCaptured, payload, "captured")
        }
      }).pipe(Effect.withSpan("Ingester.commit", { attributes: { rows: batch.logs.length } }))

    /** Persist a restart at 0 (rotation or truncation) at once, so a crash cannot resume mid-file. */
    const reset = (next: IngestCursor, why: string) =>
      Effect.gen(function* () {
        yield* Effect.logWarning(`${options.path} ${why}; reading it again from byte 0`)
        yield* store.commit({ logs: [], credentials: [], bounties: [], expected: stored, next })
        stored = next
        cursor = next
        skipping = false
        stats.resets++
      })

    /** The file now open at the path: keep the cursor, or restart at 0 for a new inode or a shorter file. */
    const attach = (inode: number | null, size: number) =>
      Effect.gen(function* () {
        const r = reconcile(cursor, { inode, size })
        if (r.reset !== undefined)
          yield* reset(r.cursor, r.reset === "rotated" ? "is a new file" : "was truncated")
        else cursor = r.cursor
      })

    const take = (line: string, end: number, batch: Pending) => {
      batch.end = end
      if (line.trim() === "") return undefined
      const decoded = decodeRecordLine(line)
      if (Either.isLeft(decoded)) {
        stats.badLines++
        const why = ParseResult.TreeFormatter.formatErrorSync(decoded.left).split("\n").slice(0, 3).join(" ")
        return Effect.logError(
          `skipping an undecodable line ending at byte ${end}: ${snippet(line)} (${why})`
        )
      }
      const record = decoded.right
      batch.logs.push(record)
      const x = extractor.extract(record)
      if (x.credential !== undefined) batch.credentials.push(x.credential)
      for (const b of x.bounties) batch.bounties.push(b)
      if (x.problems.length === 0) return undefined
      const fresh = x.problems.filter((p) => !reported.has(p))
      if (fresh.length === 0) return undefined
      if (reported.size > 1000) reported.clear()
      for (const p of fresh) reported.add(p)
      return Effect.logWarning(`bounty extraction: ${fresh.join("; ")}`)
    }

    /** Ingest the complete lines between the cursor and `size`; returns the bytes consumed. */
    const ingest = (file: FileSystem.File, size: number) =>
      Effect.gen(function* () {
        const from = cursor.position
        let readPos = from
        let batch = pending()
        let window = READ_WINDOW_BYTES
        while (readPos < size) {
          yield* file.seek(readPos, "start")
          const chunk = yield* file.readAlloc(Math.min(size - readPos, window))
          if (Option.isNone(chunk)) break
          const split = splitLines(chunk.value, readPos, skipping)
          skipping = split.skipping
          if (split.oversized > 0) {
            stats.oversized += split.oversized
            yield* Effect.logError(`dropping a line longer than ${MAX_LINE_BYTES} bytes at byte ${readPos}`)
          }
          for (const line of split.lines) {
            const log = take(line.text, line.end, batch)
            if (log !== undefined) yield* log
            if (
              batch.logs.length >= batchSize ||
              clock.unsafeCurrentTimeMillis() - batch.started >= options.batchMaxWaitMs
            ) {
              if (batch.end > cursor.position) yield* commit(batch)
              batch = pending()
            }
          }
          // Inside an over-long line the offset is mid-line: never commit it (the collector cuts an
          // unterminated tail at start-up, which would then look like a truncation). A restart re-skips it.
          if (!split.skipping) batch.end = Math.max(batch.end, split.next)
          if (split.next === readPos) {
            // No newline in a window cut short by `window`: read a larger one from the same place, up to
            // MAX_LINE_BYTES, where an over-long line is recognised as before.
            if (window < MAX_LINE_BYTES && size - readPos > window) {
              window = Math.min(window * 4, MAX_LINE_BYTES)
              continue
            }
            break // a partial line: the rest is not written yet
          }
          window = READ_WINDOW_BYTES
          readPos = split.next
        }
        if (batch.end > cursor.position) yield* commit(batch)
        return cursor.position - from
      })

    /** After a failed batch: forget the uncommitted reading and take the database's cursor again. */
    const reload = Effect.gen(function* () {
      stored = yield* loadCursor
      cursor = stored ?? START
      skipping = false
    })

    return {
      attach,
      ingest,
      reload,
      position: () => cursor.position,
      inode: () => cursor.inode,
      stats: (): IngestStats => ({ ...stats, position: cursor.position })
    } as const
  })

type Session = Effect.Effect.Success<ReturnType<typeof makeSession>>

/** The file's size, as a number. */
const sizeOf = (file: FileSystem.File) => Effect.map(file.stat, (info) => Number(info.size))

/**
 * Ingest `options.path` up to its end (its last complete line) and return the counters: for tests,
 * benchmarks and one-shot imports. The cursor is read and written as by the worker, so a later run
 * (or the worker) continues where this one stopped. The file must exist.
 */
export const ingestFileToEnd = (
  options: IngesterOptions
): Effect.Effect<
  IngestStats,
  PlatformError | IngestCursorConflict,
  IngestStore | Bus | FileSystem.FileSystem
> =>
  Effect.scoped(
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const session = yield* makeSession(options)
      const open = yield* Effect.acquireRelease(openFile(fs, options.path), closeFile)
      for (;;) {
        const size = yield* sizeOf(open.file)
        yield* session.attach(open.inode, size)
        if ((yield* session.ingest(open.file, size)) === 0) break
      }
      return session.stats()
    })
  ).pipe(Effect.withSpan("Ingester.ingestFileToEnd", { attributes: { path: options.path } }))

/** A queue that fills when the directory watch reports a change to the file (a sliding one-slot wake-up). */
const makeWake = (fs: FileSystem.FileSystem, path: string) =>
  Effect.gen(function* () {
    const wake = yield* Queue.sliding<void>(1)
    const dir = NodePath.dirname(path)
    const base = NodePath.basename(path)
    // The watch is only a shortcut: polling covers a directory that does not exist yet or a failed watch.
    yield* fs.watch(dir).pipe(
      Stream.filter((e) => NodePath.basename(e.path) === base),
      Stream.runForEach(() => Queue.offer(wake, undefined)),
      Effect.catchAllCause((cause) => Effect.logDebug(`no watch on ${dir}; polling`, cause)),
      Effect.zipRight(Effect.sleep(MISSING_FILE_RETRY)),
      Effect.forever,
      Effect.forkScoped
    )
    return (timeout: Duration.Duration) =>
      Effect.raceFirst(Queue.take(wake), Effect.sleep(timeout)).pipe(
        Effect.zipRight(Queue.takeAll(wake)),
        Effect.asVoid
      )
  })

type Step = "busy" | "idle" | "missing"

const loop = (session: Session, path: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const clock = yield* Effect.clock
    const wait = yield* makeWake(fs, path)
    let open: OpenFile | undefined
    let rotatedSince: number | undefined
    yield* Effect.addFinalizer(() => (open === undefined ? Effect.void : closeFile(open)))

    const close = Effect.suspend(() => {
      const o = open
      open = undefined
      rotatedSince = undefined
      return o === undefined ? Effect.void : closeFile(o)
    })

    const step: Effect.Effect<Step, PlatformError | IngestCursorConflict, IngestStore | Bus> = Effect.gen(
      function* () {
        if (open === undefined) {
          if (!(yield* fs.exists(path))) return "missing"
          open = yield* openFile(fs, path)
        }
        const current = open
        const size = yield* sizeOf(current.file)
        yield* session.attach(current.inode, size)
        if (size > session.position() && (yield* session.ingest(current.file, size)) > 0) {
          rotatedSince = undefined
          return "busy"
        }
        // Drained. If the path now names another file, switch once the old one has stayed quiet.
        const atPath = yield* fs.stat(path).pipe(
          Effect.map((info) => Option.getOrNull(info.ino)),
          Effect.orElseSucceed(() => -1)
        )
        if (atPath === current.inode) {
          rotatedSince = undefined
          return "idle"
        }
        const now = clock.unsafeCurrentTimeMillis()
        if (rotatedSince === undefined) rotatedSince = now
        else if (now - rotatedSince >= ROTATE_GRACE_MS) {
          if (size > session.position())
            yield* Effect.logWarning(
              `${path} was rotated with ${size - session.position()} bytes of an unterminated last line; dropped`
            )
          yield* Effect.logInfo(`${path} was rotated; reading the new file`)
          yield* close
          return "busy"
        }
        return "idle"
      }
    )

    for (;;) {
      const outcome = yield* step.pipe(
        Effect.catchTag("IngestCursorConflict", (e) =>
          Effect.logWarning(e.message).pipe(Effect.zipRight(session.reload), Effect.as<Step>("busy"))
        ),
        Effect.catchAllCause((cause) =>
          Cause.isInterruptedOnly(cause)
            ? Effect.interrupt
            : Effect.logError(
                `ingest pass failed; retrying in ${Duration.format(ERROR_BACKOFF)}`,
                cause
              ).pipe(
                Effect.zipRight(close),
                Effect.zipRight(session.reload),
                Effect.zipRight(Effect.sleep(ERROR_BACKOFF)),
                Effect.as<Step>("busy")
              )
        )
      )
      if (outcome === "busy") continue
      yield* wait(outcome === "missing" ? MISSING_FILE_RETRY : IDLE_POLL)
    }
  })

/**
 * The ingester worker: heartbeat `system.ingester.health` every 30 s, the control listener (a stop
 * intent on `system.ingester.control` ends it like SIGTERM), and the tailing loop, until interrupted or
 * stopped. Returns when stopped; interruption (shutdown) closes the file and the watch.
 */
export const runIngester = (
  options: IngesterOptions
): Effect.Effect<void, never, IngestStore | Bus | FileSystem.FileSystem> =>
  untilStopRequested(
    INGESTER_WORKER,
    Effect.gen(function* () {
      const session = yield* makeSession(options)
      yield* runHealthHeartbeat(INGESTER_WORKER, () => {
        const s = session.stats()
        return { position: s.position, rows: s.rows, bad_lines: s.badLines }
      })
      return yield* loop(session, options.path)
    })
  ).pipe(
    Effect.asVoid,
    Effect.ensuring(Effect.logInfo("ingester stopped")),
    Effect.withSpan("Ingester.run", { attributes: { path: options.path } })
  )

/**
 * The ingester as a layer: runs in the background for the layer's lifetime (`decnet up` builds it next to
 * the other workers). `logFile` defaults to DECNET_INGEST_LOG_FILE; its `.json` twin is read.
 */
export const IngesterLive = (
  logFile?: string
): Layer.Layer<never, never, IngestStore | Bus | FileSystem.FileSystem | DecnetConfig> =>
  Layer.scopedDiscard(Effect.flatMap(ingesterOptions(logFile), (o) => Effect.forkScoped(runIngester(o))))
