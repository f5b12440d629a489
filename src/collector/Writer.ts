/**
 * The evidence files (spec/logging-and-config.md §1.3): every raw line appended to `<base>.log`, every
 * kept event as one JSON record appended to `<base>.json`, which the ingester tails. Each call is one
 * O_APPEND write per file (of one line, or of a chunk's lines), so several writers (the collector, the
 * mutator's `decky_mutated` lines) can share the files without cutting each other's lines, and a line
 * written is in the file even if the process is killed a moment later. A file that
 * is rotated or deleted under us is reopened (checked at most once a second, by inode).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Clock, Context, Data, Effect, Layer, type Scope } from "effect"
import { type EvidenceRecord, evidencePaths, recordJson } from "./Record.js"

export class EvidenceWriteError extends Data.TaggedError("EvidenceWriteError")<{
  readonly path: string
  readonly message: string
}> {}

export interface EvidenceWriterService {
  /** The two files. */
  readonly paths: { readonly log: string; readonly json: string }
  /** Append `raw` to the `.log` file and, when given, `record` to the `.json` file. */
  readonly write: (raw: string, record?: EvidenceRecord) => Effect.Effect<void, EvidenceWriteError>
  /**
   * `write` for several lines at once, in order: one append to each file (a source that reads a chunk of
   * lines pays two system calls for the chunk, not two per line). Either file's lines land whole or, on
   * a failure, the call fails and the caller retries the chunk.
   */
  readonly writeMany: (entries: ReadonlyArray<WriteEntry>) => Effect.Effect<void, EvidenceWriteError>
}

/** One line for `writeMany`: the raw line, and its record when the event is kept. */
export interface WriteEntry {
  readonly raw: string
  readonly record?: EvidenceRecord | undefined
}

export class EvidenceWriter extends Context.Tag("decnet/EvidenceWriter")<
  EvidenceWriter,
  EvidenceWriterService
>() {}

/** How often (ms) a writer checks that its file is still the one at its path. */
const REOPEN_CHECK_MS = 1_000

interface Appender {
  readonly append: (line: string, now: number) => void
  readonly close: () => void
}

/** One append-only file behind a descriptor, reopened when the path's inode changes (rotation). */
const appender = (file: string): Appender => {
  let fd = -1
  let ino = -1
  let checkedAt = 0
  const open = () => {
    fs.mkdirSync(path.dirname(file), { recursive: true })
    fd = fs.openSync(file, "a", 0o640)
    ino = fs.fstatSync(fd).ino
  }
  const current = (now: number) => {
    if (fd < 0) return open()
    if (now - checkedAt < REOPEN_CHECK_MS) return
    checkedAt = now
    let onDisk = -1
    try {
      onDisk = fs.statSync(file).ino
    } catch {
      // Deleted under us: a fresh file takes its place.
    }
    if (onDisk !== ino) {
      fs.closeSync(fd)
      open()
    }
  }
  return {
    append: (line, now) => {
      current(now)
      fs.writeSync(fd, line)
    },
    close: () => {
      if (fd >= 0) fs.closeSync(fd)
      fd = -1
    }
  }
}

const attempt = (file: string, f: () => void): Effect.Effect<void, EvidenceWriteError> =>
  Effect.try({
    try: f,
    catch: (e) =>
      new EvidenceWriteError({
        path: file,
        message: `cannot write ${file}: ${e instanceof Error ? e.message : String(e)}`
      })
  })

/** A writer for `base` (`/var/log/decnet/decnet.log` → that file and `decnet.json`); closed with the scope. */
export const makeEvidenceWriter = (
  base: string
): Effect.Effect<EvidenceWriterService, EvidenceWriteError, Scope.Scope> =>
  Effect.gen(function* () {
    const paths = evidencePaths(base)
    const log = appender(paths.log)
    const json = appender(paths.json)
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        log.close()
        json.close()
      })
    )
    const writeMany = (entries: ReadonlyArray<WriteEntry>) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        let raws = ""
        let records = ""
        for (const e of entries) {
          raws += `${e.raw}\n`
          if (e.record !== undefined) records += `${recordJson(e.record)}\n`
        }
        return Effect.zipRight(
          raws === "" ? Effect.void : attempt(paths.log, () => log.append(raws, now)),
          records === "" ? Effect.void : attempt(paths.json, () => json.append(records, now))
        )
      })
    return {
      paths,
      write: (raw, record) => writeMany([{ raw, record }]),
      writeMany
    }
  })

export const EvidenceWriterLive = (base: string): Layer.Layer<EvidenceWriter, EvidenceWriteError> =>
  Layer.scoped(EvidenceWriter, makeEvidenceWriter(base))
