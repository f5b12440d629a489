/**
 * Quarantine for files an attacker uploads (scp, SFTP). An upload streams to a temporary file under
 * `<artifacts>/ssh/captured/.incoming/` as it arrives, hashed on the way, and is renamed to
 * `<ts>_<sha12>_<basename>` when it completes (`file_captured`). What an upload holds in memory is
 * only its write-behind (bytes handed to the disk and not yet written); one budget per instance
 * bounds the sum over every upload in flight. Over 50 MiB, or past the budget: `file_skipped`.
 */
import { createHash, type Hash, randomUUID } from "node:crypto"
import * as fs from "node:fs"
import * as fsp from "node:fs/promises"
import * as path from "node:path"
import { Clock, Data, Effect } from "effect"
import type { Emitter } from "../runtime/index.js"
import type { SshEvent } from "./Events.js"

/** Per-file cap (spec §1: the original skips files over 50 MiB). */
export const MAX_UPLOAD_BYTES = 50 * 1024 * 1024

/**
 * Default bytes of write-behind one ssh instance (one decky's ssh) may hold at once, over all sessions
 * and channels (config `upload_buffer_mb`). A client that keeps sending while the disk lags (an SFTP
 * client that pipelines WRITEs without waiting for replies) would otherwise grow it without bound; past
 * it that upload ends as `file_skipped` with `reason=buffer_full`.
 */
export const MAX_BUFFERED_UPLOAD_BYTES = 128 * 1024 * 1024

/**
 * Write-behind past which an upload's sender is made to wait: the scp channel stops reading (so the
 * SSH window closes on the client), SFTP write replies wait for the disk.
 */
export const UPLOAD_HIGH_WATER_BYTES = 512 * 1024

export type SkipReason = "too_large" | "buffer_full"

export class CaptureError extends Data.TaggedError("CaptureError")<{ readonly message: string }> {}

/** The shared in-memory allowance of one ssh instance's uploads in flight. */
export class UploadBudget {
  readonly limit: number
  /** Bytes held now: handed to the disk by some upload and not yet written. */
  held = 0
  /** The most ever held at once (for limits tests and benchmarks). */
  peak = 0
  constructor(limit: number) {
    this.limit = limit
  }
  take(n: number): boolean {
    if (this.held + n > this.limit) return false
    this.held += n
    if (this.held > this.peak) this.peak = this.held
    return true
  }
  give(n: number): void {
    this.held = Math.max(0, this.held - n)
  }
}

export interface Uploader {
  /** The account the session logged in as (`ssh_user`). */
  readonly user: string
}

interface Waiter {
  readonly ready: () => boolean
  readonly wake: () => void
}

/**
 * One upload being written to its temporary file. `write` is called from ssh2's callbacks and decides
 * at once (skip or accept); the disk writes complete in the background, each giving its bytes back to
 * the budget. Writes are positional (SFTP carries offsets); the hash is computed on the way while they
 * arrive in order, and from the file when they did not.
 */
export class Upload {
  readonly origPath: string
  readonly tmpPath: string
  /** Bytes that arrived, skipped ones included (the `size` of `file_skipped`). */
  received = 0
  /** File length: the highest end written. */
  length = 0
  skipReason: SkipReason | undefined = undefined
  private readonly fd: number
  private readonly budget: UploadBudget
  private readonly hash: Hash = createHash("sha256")
  private hashedTo = 0
  private sequential = true
  /** Bytes in disk writes not yet complete (on the budget). */
  private pending = 0
  private inflight = 0
  private failure: string | undefined
  /** No more writes: the file is being finished or discarded. */
  private sealed = false
  private closed = false
  private waiters: Array<Waiter> = []

  constructor(origPath: string, tmpPath: string, fd: number, budget: UploadBudget) {
    this.origPath = origPath
    this.tmpPath = tmpPath
    this.fd = fd
    this.budget = budget
  }

  /** Write-behind of this upload right now. */
  get held(): number {
    return this.pending
  }

  /**
   * Hand `chunk` (which may be reused by the caller) to the disk at `position`. Returns why the upload
   * is skipped, if it is (then nothing more is written); `onWritten` runs once the bytes are on disk,
   * or at once when they are not written at all.
   */
  write(chunk: Uint8Array, position: number, onWritten?: () => void): SkipReason | undefined {
    this.received += chunk.length
    if (this.skipReason !== undefined || this.sealed) {
      onWritten?.()
      return this.skipReason
    }
    const end = position + chunk.length
    if (this.received > MAX_UPLOAD_BYTES || end > MAX_UPLOAD_BYTES) return this.skip("too_large", onWritten)
    if (!this.budget.take(chunk.length)) return this.skip("buffer_full", onWritten)
    const copy = Buffer.from(chunk)
    if (this.sequential && position === this.hashedTo) {
      this.hash.update(copy)
      this.hashedTo = end
    } else this.sequential = false
    if (end > this.length) this.length = end
    this.pending += copy.length
    this.inflight++
    fs.write(this.fd, copy, 0, copy.length, position, (err) => {
      this.pending -= copy.length
      this.inflight--
      this.budget.give(copy.length)
      if (err !== null && this.failure === undefined) this.failure = err.message
      this.wake()
      onWritten?.()
    })
    return undefined
  }

  private skip(reason: SkipReason, onWritten: (() => void) | undefined): SkipReason {
    this.skipReason = reason
    onWritten?.()
    return reason
  }

  private wake(): void {
    if (this.waiters.length === 0) return
    const still: Array<Waiter> = []
    for (const w of this.waiters) {
      if (w.ready()) w.wake()
      else still.push(w)
    }
    this.waiters = still
  }

  private until(ready: () => boolean): Effect.Effect<void> {
    return Effect.async<void>((resume) => {
      if (ready()) return resume(Effect.void)
      const waiter: Waiter = { ready, wake: () => resume(Effect.void) }
      this.waiters.push(waiter)
      return Effect.sync(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter)
      })
    })
  }

  /** Wait until this upload's write-behind is at most `bytes` (backpressure for its sender). */
  heldAtMost(bytes: number): Effect.Effect<void> {
    return this.until(() => this.pending <= bytes)
  }

  /** Stop writing, let the writes in flight land, close the file (the descriptor is never reused early). */
  private seal(): Effect.Effect<void> {
    return Effect.suspend(() => {
      this.sealed = true
      return this.until(() => this.inflight === 0)
    }).pipe(
      Effect.zipRight(
        Effect.async<void>((resume) => {
          if (this.closed) return resume(Effect.void)
          this.closed = true
          fs.close(this.fd, () => resume(Effect.void))
        })
      )
    )
  }

  /** Drop the upload: its temporary file goes, its bytes go back to the budget. Idempotent. */
  discard(): Effect.Effect<void> {
    return this.seal().pipe(
      Effect.zipRight(Effect.promise(() => fsp.rm(this.tmpPath, { force: true }).catch(() => undefined)))
    )
  }

  /** Close the file and name its content: its sha256 (read back when the writes came out of order). */
  complete(): Effect.Effect<{ readonly sha256: string; readonly size: number }, CaptureError> {
    return this.seal().pipe(
      Effect.zipRight(
        Effect.suspend(() => {
          if (this.failure !== undefined)
            return Effect.fail(new CaptureError({ message: `cannot write ${this.tmpPath}: ${this.failure}` }))
          if (this.sequential && this.hashedTo === this.length)
            return Effect.succeed({ sha256: this.hash.digest("hex"), size: this.length })
          return Effect.map(hashFile(this.tmpPath), (sha256) => ({ sha256, size: this.length }))
        })
      )
    )
  }
}

const hashFile = (file: string): Effect.Effect<string, CaptureError> =>
  Effect.async<string, CaptureError>((resume) => {
    const hash = createHash("sha256")
    const input = fs.createReadStream(file)
    input.on("data", (chunk) => hash.update(chunk))
    input.on("error", (e) =>
      resume(Effect.fail(new CaptureError({ message: `cannot read ${file}: ${e.message}` })))
    )
    input.on("end", () => resume(Effect.succeed(hash.digest("hex"))))
    return Effect.sync(() => input.destroy())
  })

/** Where one instance's uploads go. */
export interface Quarantine {
  readonly dir: string
  readonly budget: UploadBudget
}

/** Create the quarantine's temporary directory and open a new upload's file there. */
export const openUpload = (quarantine: Quarantine, origPath: string): Effect.Effect<Upload, CaptureError> =>
  Effect.async<Upload, CaptureError>((resume) => {
    const incoming = path.join(quarantine.dir, ".incoming")
    const tmpPath = path.join(incoming, randomUUID())
    let cancelled = false
    fs.mkdir(incoming, { recursive: true, mode: 0o700 }, (mkdirErr) => {
      if (mkdirErr !== null)
        return resume(
          Effect.fail(new CaptureError({ message: `cannot create ${incoming}: ${mkdirErr.message}` }))
        )
      fs.open(tmpPath, "wx", 0o600, (err, fd) => {
        if (err !== null)
          return resume(
            Effect.fail(new CaptureError({ message: `cannot create ${tmpPath}: ${err.message}` }))
          )
        // Interrupted while opening: nobody owns the file, so close and remove it here.
        if (cancelled) return fs.close(fd, () => fs.rm(tmpPath, { force: true }, () => undefined))
        resume(Effect.succeed(new Upload(origPath, tmpPath, fd, quarantine.budget)))
      })
    })
    return Effect.sync(() => {
      cancelled = true
    })
  })

const safeBase = (p: string): string =>
  path.posix
    .basename(p)
    .replace(/[^A-Za-z0-9._-]/g, "_")
    .slice(0, 100) || "unnamed"

/** `<YYYYMMDDTHHMMSSZ>_<sha256[:12]>_<basename>`. */
const storedName = (now: number, sha256: string, origPath: string): string =>
  `${new Date(now)
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z")}_${sha256.slice(0, 12)}_${safeBase(origPath)}`

/**
 * End an upload: a skipped one is discarded with `file_skipped`; a complete one is moved into the
 * quarantine with `file_captured`. Whatever happens (a disk error, interruption), the temporary
 * file and the budget are given back.
 */
export const storeUpload = (
  quarantine: Quarantine,
  upload: Upload,
  events: Emitter<SshEvent>,
  who: Uploader
): Effect.Effect<void> =>
  Effect.gen(function* () {
    if (upload.skipReason !== undefined) {
      yield* upload.discard()
      yield* events.emit({
        _tag: "file_skipped",
        orig_path: upload.origPath,
        ssh_user: who.user,
        size: upload.received,
        reason: upload.skipReason
      })
      return
    }
    const { sha256, size } = yield* upload.complete()
    const storedAs = storedName(yield* Clock.currentTimeMillis, sha256, upload.origPath)
    yield* Effect.tryPromise({
      try: () => fsp.rename(upload.tmpPath, path.join(quarantine.dir, storedAs)),
      catch: (e) => new CaptureError({ message: `cannot store ${storedAs}: ${String(e)}` })
    })
    yield* events.emit({
      _tag: "file_captured",
      stored_as: storedAs,
      sha256,
      size,
      orig_path: upload.origPath,
      ssh_user: who.user
    })
  }).pipe(
    Effect.catchTag("CaptureError", (e) =>
      Effect.logWarning(`ssh upload ${upload.origPath} not stored: ${e.message}`)
    ),
    Effect.ensuring(upload.discard())
  )
