/**
 * Where the collector stopped reading each container, so a collector killed at any moment (kill -9)
 * resumes without losing or repeating a line in the `.json` stream. A position is the engine's timestamp
 * of the last line handled (written, dropped or deduplicated) plus how many lines carried exactly that
 * timestamp, since `docker logs --since` is inclusive and works in whole seconds here.
 *
 * Positions live in memory, are written to `<stem>.cursor` at most once a second (and at shutdown), and
 * are rebuilt at start from that file plus the `.json` records appended after it was written: each record
 * carries `source {container, ts}`, and a record is in the file before its line's position moves, so the
 * file is the truth and the cursor file only saves reading all of it.
 */
import * as fs from "node:fs"
import { Effect, Either, Schedule, Schema, type Scope } from "effect"

// ---- engine timestamps -------------------------------------------------------------------------------

const ENGINE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|([+-])(\d{2}):(\d{2}))$/

/**
 * An engine log timestamp (RFC 3339, up to nanoseconds: `2026-05-01T12:00:00.1234Z`; newer engines drop
 * trailing zeros, 20.10 pads to nine digits) → nanoseconds since the epoch. Compare these, never the
 * strings: `…:00.5Z` sorts after `…:00.25Z` as text. `undefined` when it is not such a timestamp.
 */
export const engineNanos = (ts: string): bigint | undefined => {
  const m = ENGINE_TIME.exec(ts)
  if (m === null) return undefined
  const [, y, mo, d, h, mi, s, frac = "", zone, sign, oh = "0", om = "0"] = m
  const local = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s))
  if (!Number.isFinite(local)) return undefined
  const offsetMs = zone === "Z" ? 0 : (sign === "-" ? -1 : 1) * (Number(oh) * 60 + Number(om)) * 60_000
  return BigInt(local - offsetMs) * 1_000_000n + BigInt(frac.padEnd(9, "0"))
}

/** The whole seconds of `nanos`, rounded down: a `since` that never starts after the position. */
export const sinceSeconds = (nanos: bigint): number => Number(nanos / 1_000_000_000n)

/** One line of `docker logs --timestamps`: `<RFC 3339> <text>`. */
export interface TimestampedLine {
  readonly ts: string
  readonly nanos: bigint
  readonly text: string
}

/** Split the engine's timestamp prefix off a log line; `undefined` when the line has none. */
export const splitTimestamped = (line: string): TimestampedLine | undefined => {
  const space = line.indexOf(" ")
  const ts = space < 0 ? line : line.slice(0, space)
  const nanos = engineNanos(ts)
  return nanos === undefined ? undefined : { ts, nanos, text: space < 0 ? "" : line.slice(space + 1) }
}

// ---- positions ---------------------------------------------------------------------------------------

/** The last line handled for one container: its timestamp, and how many handled lines carry exactly it. */
export interface Position {
  readonly ts: string
  readonly nanos: bigint
  readonly n: number
}

/** `p` advanced past one more line at `ts`. Lines arrive in order, so an older `ts` changes nothing. */
export const advancePosition = (p: Position | undefined, ts: string, nanos: bigint): Position =>
  p === undefined || nanos > p.nanos ? { ts, nanos, n: 1 } : nanos === p.nanos ? { ...p, n: p.n + 1 } : p

/** The later of two positions (by time, then count). */
const later = (a: Position | undefined, b: Position): Position =>
  a === undefined || b.nanos > a.nanos || (b.nanos === a.nanos && b.n > a.n) ? b : a

/**
 * A filter for a log stream replayed from `since` (inclusive): true for a line not handled yet. Lines
 * before the position are old; of the lines at exactly its timestamp, the first `n` are old.
 */
export const resumeFilter = (from: Position | undefined): ((nanos: bigint) => boolean) => {
  if (from === undefined) return () => true
  let seenAtPosition = 0
  return (nanos) => {
    if (nanos < from.nanos) return false
    if (nanos > from.nanos) return true
    seenAtPosition++
    return seenAtPosition > from.n
  }
}

// ---- the cursor file ---------------------------------------------------------------------------------

const CursorFileSchema = Schema.Struct({
  v: Schema.Literal(1),
  /** The `.json` file (inode, size) when the positions were taken: records past `size` are newer. */
  json: Schema.Struct({ ino: Schema.Number, size: Schema.Number }),
  containers: Schema.Record({
    key: Schema.String,
    value: Schema.Struct({ ts: Schema.String, n: Schema.Int.pipe(Schema.nonNegative()) })
  })
})
const CursorFileJson = Schema.parseJson(CursorFileSchema)
const decodeCursorFile = Schema.decodeUnknownEither(CursorFileJson)
const encodeCursorFile = Schema.encodeSync(CursorFileJson)

/** `…/decnet.json` → `…/decnet.cursor`. */
export const cursorPath = (jsonPath: string): string =>
  jsonPath.endsWith(".json") ? `${jsonPath.slice(0, -".json".length)}.cursor` : `${jsonPath}.cursor`

/** Positions kept for at most this many containers (the oldest are forgotten first). */
export const MAX_CURSOR_CONTAINERS = 10_000
/** How often positions are written to the cursor file (when some moved). */
export const CURSOR_FLUSH_INTERVAL = "1 second"

/** A position-less source (`inprocess`) is never resumed. */
export const IN_PROCESS = "inprocess"

// ---- recovery at start -------------------------------------------------------------------------------

const CHUNK = 1024 * 1024

/**
 * Cut an unterminated last line (a write interrupted by kill -9) so the next append starts on a line of
 * its own. Returns the bytes removed. The line is not lost: its position never moved, so it is read again.
 */
export const truncatePartialLine = (file: string): number => {
  let fd: number
  try {
    fd = fs.openSync(file, "r+")
  } catch {
    return 0
  }
  try {
    const size = fs.fstatSync(fd).size
    if (size === 0) return 0
    const last = Buffer.alloc(1)
    fs.readSync(fd, last, 0, 1, size - 1)
    if (last[0] === 0x0a) return 0
    let end = size
    let keep = 0
    const buf = Buffer.alloc(64 * 1024)
    while (end > 0) {
      const start = Math.max(0, end - buf.length)
      const n = fs.readSync(fd, buf, 0, end - start, start)
      const nl = buf.subarray(0, n).lastIndexOf(0x0a)
      if (nl >= 0) {
        keep = start + nl + 1
        break
      }
      end = start
    }
    fs.ftruncateSync(fd, keep)
    return size - keep
  } finally {
    fs.closeSync(fd)
  }
}

interface Scan {
  /** Per container: the latest record's position in the scanned region. */
  readonly found: Map<string, Position>
  readonly records: number
}

const sourceOf = (line: string): { container: string; ts: string } | undefined => {
  // Only `source` is needed; records are JSON objects written by EvidenceWriter.
  let value: unknown
  try {
    value = JSON.parse(line)
  } catch {
    return undefined
  }
  if (typeof value !== "object" || value === null || !("source" in value)) return undefined
  const source = value.source
  if (typeof source !== "object" || source === null) return undefined
  const container = "container" in source ? source.container : undefined
  const ts = "ts" in source ? source.ts : undefined
  return typeof container === "string" && typeof ts === "string" ? { container, ts } : undefined
}

/** Read the `.json` records from byte `from` on (a chunk at a time) and note each container's latest line. */
const scanRecords = (file: string, from: number): Scan => {
  const found = new Map<string, Position>()
  let records = 0
  let fd: number
  try {
    fd = fs.openSync(file, "r")
  } catch {
    return { found, records }
  }
  try {
    const buf = Buffer.alloc(CHUNK)
    let carry = Buffer.alloc(0)
    let pos = from
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, pos)
      if (n === 0) break
      pos += n
      let data = Buffer.concat([carry, buf.subarray(0, n)])
      let nl = data.indexOf(0x0a)
      while (nl >= 0) {
        const src = sourceOf(data.subarray(0, nl).toString("utf8"))
        data = data.subarray(nl + 1)
        nl = data.indexOf(0x0a)
        if (src === undefined || src.container === IN_PROCESS) continue
        const nanos = engineNanos(src.ts)
        if (nanos === undefined) continue
        records++
        found.set(src.container, advancePosition(found.get(src.container), src.ts, nanos))
      }
      carry = Buffer.from(data)
    }
  } finally {
    fs.closeSync(fd)
  }
  return { found, records }
}

export interface Recovered {
  readonly positions: Map<string, Position>
  /** Bytes of unterminated last lines cut from `.log` and `.json`. */
  readonly truncated: { readonly log: number; readonly json: number }
  /** Whether the cursor file was read, and how many `.json` records were scanned past it. */
  readonly cursorFile: "read" | "absent" | "unreadable"
  /** When the cursor file was last written (ms since the epoch; 0 without one). */
  readonly savedAtMs: number
  readonly scannedFrom: number
  readonly scannedRecords: number
}

/**
 * Rebuild the positions: cut partial last lines, read the cursor file, then scan the `.json` records
 * written after it (from its recorded size when the `.json` is still the same file, else from the start).
 */
export const recoverPositions = (paths: { readonly log: string; readonly json: string }): Recovered => {
  const truncated = { log: truncatePartialLine(paths.log), json: truncatePartialLine(paths.json) }
  const positions = new Map<string, Position>()
  let cursorFile: Recovered["cursorFile"] = "absent"
  let saved: { ino: number; size: number } | undefined
  let text: string | undefined
  let savedAtMs = 0
  try {
    text = fs.readFileSync(cursorPath(paths.json), "utf8")
    savedAtMs = fs.statSync(cursorPath(paths.json)).mtimeMs
  } catch {
    text = undefined
  }
  if (text !== undefined) {
    const decoded = decodeCursorFile(text)
    if (Either.isLeft(decoded)) cursorFile = "unreadable"
    else {
      cursorFile = "read"
      saved = decoded.right.json
      for (const [container, p] of Object.entries(decoded.right.containers)) {
        const nanos = engineNanos(p.ts)
        if (nanos !== undefined) positions.set(container, { ts: p.ts, nanos, n: p.n })
      }
    }
  }
  let current: fs.Stats | undefined
  try {
    current = fs.statSync(paths.json)
  } catch {
    current = undefined
  }
  // Same file, not shorter: everything before `saved.size` is already counted in the cursor file.
  const continues =
    saved !== undefined && current !== undefined && current.ino === saved.ino && current.size >= saved.size
  const from = continues && saved !== undefined ? saved.size : 0
  const scan = scanRecords(paths.json, from)
  // Every scanned record was written after the cursor file (a `.json` that is not the counted one was
  // created after it), so lines at the saved timestamp add to its count.
  for (const [container, p] of scan.found) {
    const before = positions.get(container)
    positions.set(
      container,
      before !== undefined && before.nanos === p.nanos ? { ...p, n: before.n + p.n } : later(before, p)
    )
  }
  return { positions, truncated, cursorFile, savedAtMs, scannedFrom: from, scannedRecords: scan.records }
}

// ---- the store ---------------------------------------------------------------------------------------

export class CursorError extends Schema.TaggedError<CursorError>()("CursorError", {
  path: Schema.String,
  message: Schema.String
}) {}

/** The position of a container followed before it wrote anything: every line of it is new. */
export const NOTHING_READ: Position = { ts: "1970-01-01T00:00:00Z", nanos: 0n, n: 0 }

export interface CursorStoreService {
  readonly position: (container: string) => Position | undefined
  /**
   * Remember a followed container that has no position yet (NOTHING_READ), so that if it writes and
   * stops while no collector runs, the next start knows to read it.
   */
  readonly know: (container: string) => void
  /** Note one more line of `container` handled (written, dropped or deduplicated) at `ts`. */
  readonly advance: (container: string, ts: string, nanos: bigint) => void
  /**
   * Run `handle` (write a line, then `advance`) so that no flush sees the line written but its position
   * not yet moved: such a flush would record a `.json` size past a record its positions do not count.
   */
  readonly withLock: <A, E, R>(handle: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** Write the cursor file now (if a position moved). */
  readonly flush: Effect.Effect<void, CursorError>
  readonly recovered: Recovered
}

const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e))

/**
 * The positions for the evidence files `paths`: recovered now, flushed every second while the scope is
 * open and once more when it closes. Recover before anything appends to the files.
 */
export const makeCursorStore = (paths: {
  readonly log: string
  readonly json: string
}): Effect.Effect<CursorStoreService, CursorError, Scope.Scope> =>
  Effect.gen(function* () {
    const file = cursorPath(paths.json)
    const recovered = yield* Effect.try({
      try: () => recoverPositions(paths),
      catch: (e) =>
        new CursorError({ path: paths.json, message: `cannot recover positions: ${errorText(e)}` })
    })
    const positions = recovered.positions
    let dirty = false
    const lock = yield* Effect.makeSemaphore(1)

    const write = () => {
      if (positions.size > MAX_CURSOR_CONTAINERS) {
        const oldest = [...positions.entries()].sort((a, b) => (a[1].nanos < b[1].nanos ? -1 : 1))
        for (const [container] of oldest.slice(0, positions.size - MAX_CURSOR_CONTAINERS))
          positions.delete(container)
      }
      let json = { ino: 0, size: 0 }
      try {
        const st = fs.statSync(paths.json)
        json = { ino: st.ino, size: st.size }
      } catch {
        // No `.json` yet: nothing to skip at the next start.
      }
      const containers: Record<string, { ts: string; n: number }> = {}
      for (const [container, p] of positions) containers[container] = { ts: p.ts, n: p.n }
      const tmp = `${file}.tmp`
      const fd = fs.openSync(tmp, "w", 0o640)
      try {
        fs.writeSync(fd, encodeCursorFile({ v: 1, json, containers }))
        fs.fsyncSync(fd)
      } finally {
        fs.closeSync(fd)
      }
      fs.renameSync(tmp, file)
      dirty = false
    }

    const flush = lock.withPermits(1)(
      Effect.suspend(() =>
        dirty
          ? Effect.try({
              try: write,
              catch: (e) => new CursorError({ path: file, message: `cannot write ${file}: ${errorText(e)}` })
            })
          : Effect.void
      )
    )

    yield* flush.pipe(
      Effect.catchAll((e) => Effect.logWarning(e.message)),
      Effect.repeat(Schedule.spaced(CURSOR_FLUSH_INTERVAL)),
      Effect.forkScoped
    )
    yield* Effect.addFinalizer(() => flush.pipe(Effect.catchAll((e) => Effect.logWarning(e.message))))

    return {
      position: (container) => positions.get(container),
      know: (container) => {
        if (positions.has(container)) return
        positions.set(container, NOTHING_READ)
        dirty = true
      },
      advance: (container, ts, nanos) => {
        const before = positions.get(container)
        const after = advancePosition(before, ts, nanos)
        if (after !== before) {
          positions.set(container, after)
          dirty = true
        }
      },
      withLock: (handle) => lock.withPermits(1)(handle),
      flush,
      recovered
    }
  })
