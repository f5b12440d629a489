/**
 * Quarantine for files uploaded over FTP (STOR/STOU/APPE). The data connection is streamed to a
 * temporary file under `<artifacts>/ftp/.incoming/` while it is hashed, then renamed to
 * `<artifacts>/ftp/<YYYYMMDDTHHMMSSZ>_<sha256[:12]>_<basename>`: the ssh quarantine's naming, so
 * the API serves both the same way. Nothing is held in memory beyond one socket chunk.
 */
import { createHash, randomUUID } from "node:crypto"
import * as fs from "node:fs"
import * as fsp from "node:fs/promises"
import type * as net from "node:net"
import * as path from "node:path"
import { Data, Effect } from "effect"

/** Per-file cap, the same as the ssh module's (spec §1: the original skips files over 50 MiB). */
export const DEFAULT_MAX_UPLOAD_BYTES = 50 * 1024 * 1024
/** A data connection that sends nothing for this long is dropped. */
const DATA_IDLE_MS = 60_000

export class CaptureError extends Data.TaggedError("CaptureError")<{ readonly message: string }> {}

export type ReceiveOutcome =
  /** The client closed the data connection normally: the file is complete. */
  | "complete"
  /** The connection broke (reset, idle timeout): what arrived is kept, marked incomplete. */
  | "aborted"
  /** Past the cap: the transfer was cut and the partial file discarded. */
  | "too_large"
  /** Past a session or instance budget (`admit` said so): cut and discarded. */
  | "quota"
  /** The disk would drop below its free-space floor (`admit` said so): cut and discarded. */
  | "disk_full"
  /** Our disk refused the bytes. */
  | "write_failed"

export interface Received {
  readonly outcome: ReceiveOutcome
  /** Bytes received (when cut: up to the chunk that crossed the limit). */
  readonly size: number
  readonly sha256: string
}

export interface Incoming {
  readonly dir: string
  readonly tmpPath: string
}

/** A file name safe in any filesystem and in a URL path segment; never empty, `.` or `..`. */
export const safeBasename = (p: string): string => {
  const base = path.posix
    .basename(p.replace(/\\/g, "/"))
    .replace(/[^A-Za-z0-9._-]/g, "_")
    .slice(0, 100)
  return base === "" || /^\.+$/.test(base) ? "unnamed" : base
}

/** `<YYYYMMDDTHHMMSSZ>_<sha256[:12]>_<basename>` (the ssh module's spelling). */
export const storedName = (now: Date, sha256: string, origPath: string): string =>
  `${now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z")}_${sha256.slice(0, 12)}_${safeBasename(origPath)}`

/** Create the quarantine dirs and reserve a temporary file name for one upload. */
export const openIncoming = (dir: string): Effect.Effect<Incoming, CaptureError> =>
  Effect.tryPromise({
    try: () => {
      const tmpDir = path.join(dir, ".incoming")
      return fsp
        .mkdir(tmpDir, { recursive: true, mode: 0o700 })
        .then(() => ({ dir, tmpPath: path.join(tmpDir, randomUUID()) }))
    },
    catch: (e) => new CaptureError({ message: `cannot create ${dir}: ${String(e)}` })
  })

export interface ReceiveOptions {
  /** Per-file cap: past it the transfer is cut (`too_large`). */
  readonly maxBytes: number
  /** Asked before each chunk is written: a reason cuts the transfer, `undefined` lets it through. */
  readonly admit: (bytes: number) => "quota" | "disk_full" | undefined
  /** Runs at most once per second of transfer (the session keeps the control connection alive). */
  readonly onProgress: () => void
  /**
   * Completes when the transfer must end now (control connection gone, time limit): the data
   * connection is closed and what arrived is kept (`aborted`).
   */
  readonly stop: Effect.Effect<void>
}

/**
 * Stream the data connection into the temporary file, hashing as it goes, until the client closes
 * it or `stop` fires. Backpressure: the socket is paused while the file stream drains.
 */
export const receive = (
  socket: net.Socket,
  incoming: Incoming,
  options: ReceiveOptions
): Effect.Effect<Received> =>
  Effect.suspend(() => {
    // `stop` may fire before the transfer below has registered; whichever comes second acts.
    let cut: ((outcome: ReceiveOutcome) => void) | undefined
    let stopped = false
    const transfer = Effect.async<Received>((resume) => {
      const hash = createHash("sha256")
      const out = fs.createWriteStream(incoming.tmpPath, { flags: "wx", mode: 0o600 })
      let size = 0
      let done = false
      let lastProgress = 0
      const settle = (outcome: ReceiveOutcome) => {
        if (done) return
        done = true
        socket.pause()
        if (!socket.destroyed && outcome !== "complete") socket.destroy()
        const result = { outcome, size, sha256: hash.digest("hex") }
        if (out.destroyed || outcome === "write_failed") return resume(Effect.succeed(result))
        out.once("close", () => resume(Effect.succeed(result)))
        out.once("error", () => resume(Effect.succeed({ ...result, outcome: "write_failed" })))
        out.end()
      }
      cut = settle
      out.on("error", () => settle("write_failed"))
      socket.on("data", (chunk: Buffer) => {
        if (done) return
        size += chunk.length
        if (size > options.maxBytes) return settle("too_large")
        const refused = options.admit(chunk.length)
        if (refused !== undefined) return settle(refused)
        hash.update(chunk)
        if (!out.write(chunk)) {
          socket.pause()
          out.once("drain", () => {
            if (!done) socket.resume()
          })
        }
        const now = Date.now()
        if (now - lastProgress >= 1000) {
          lastProgress = now
          options.onProgress()
        }
      })
      socket.on("end", () => settle("complete"))
      socket.on("close", (hadError) => settle(hadError ? "aborted" : "complete"))
      // Events that fired before we listened are not replayed: a socket the client already closed
      // (FIN with nothing sent: `end` is out; RST: destroyed) settles now, or it would wait forever
      // (`setTimeout` on a destroyed socket never fires).
      if (stopped) settle("aborted")
      else if (socket.readableEnded) settle("complete")
      else if (socket.destroyed) settle("aborted")
      else {
        socket.setTimeout(DATA_IDLE_MS, () => settle("aborted"))
        socket.resume()
      }
      return Effect.sync(() => {
        done = true
        socket.destroy()
        out.destroy()
      })
    })
    const stopper = options.stop.pipe(
      Effect.zipRight(
        Effect.sync(() => {
          stopped = true
          cut?.("aborted")
        })
      ),
      Effect.zipRight(Effect.never)
    )
    // `stopper` never succeeds: it only makes the transfer settle, which then wins the race.
    return Effect.race(transfer, stopper)
  })

/** Move a received file into the quarantine under its final name. */
export const keep = (incoming: Incoming, storedAs: string): Effect.Effect<void, CaptureError> =>
  Effect.tryPromise({
    try: () => fsp.rename(incoming.tmpPath, path.join(incoming.dir, storedAs)),
    catch: (e) => new CaptureError({ message: `cannot store ${storedAs}: ${String(e)}` })
  })

/** Remove a temporary file (discarded upload); a missing file is fine. */
export const discard = (incoming: Incoming): Effect.Effect<void> =>
  Effect.promise(() => fsp.rm(incoming.tmpPath, { force: true }).catch(() => undefined))
