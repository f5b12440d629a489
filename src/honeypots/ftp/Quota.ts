/**
 * Upload budgets for the ftp quarantine: bytes and files per session and per service instance
 * (one decky's ftp), plus a floor of free space on the artifacts filesystem. Each upload holds a
 * reservation that grows chunk by chunk and is given back when the upload is discarded.
 */
import * as fsp from "node:fs/promises"
import * as path from "node:path"
import { Data, Effect } from "effect"

export interface QuotaLimits {
  readonly sessionBytes: number
  readonly sessionFiles: number
  readonly instanceBytes: number
  readonly instanceFiles: number
}

/** What a session or an instance has stored (kept files, and bytes of uploads in flight). */
export interface Usage {
  bytes: number
  files: number
}

export type QuotaName = "session_bytes" | "session_files" | "instance_bytes" | "instance_files"

export const quotaLimit = (limits: QuotaLimits, name: QuotaName): number =>
  name === "session_bytes"
    ? limits.sessionBytes
    : name === "session_files"
      ? limits.sessionFiles
      : name === "instance_bytes"
        ? limits.instanceBytes
        : limits.instanceFiles

/** One upload's claim on its session's and instance's budgets. */
export interface Reservation {
  /** Account `n` more bytes, or name the budget they would pass (nothing is accounted then). */
  readonly add: (n: number) => QuotaName | undefined
  /** Give back the file and every byte (the upload was discarded). Idempotent. */
  readonly release: () => void
}

/**
 * Reserve one file for an upload, or name the budget that refuses it: a file count reached, or
 * a byte budget with no byte left.
 */
export const reserve = (limits: QuotaLimits, session: Usage, instance: Usage): Reservation | QuotaName => {
  if (session.files >= limits.sessionFiles) return "session_files"
  if (instance.files >= limits.instanceFiles) return "instance_files"
  if (session.bytes >= limits.sessionBytes) return "session_bytes"
  if (instance.bytes >= limits.instanceBytes) return "instance_bytes"
  session.files++
  instance.files++
  let bytes = 0
  let held = true
  return {
    add: (n) => {
      if (session.bytes + n > limits.sessionBytes) return "session_bytes"
      if (instance.bytes + n > limits.instanceBytes) return "instance_bytes"
      session.bytes += n
      instance.bytes += n
      bytes += n
      return undefined
    },
    release: () => {
      if (!held) return
      held = false
      session.files--
      instance.files--
      session.bytes -= bytes
      instance.bytes -= bytes
    }
  }
}

export interface DiskFloor {
  readonly minFreeBytes: number
  readonly minFreePercent: number
}

export interface DiskRoom {
  /** Free bytes for unprivileged writers (`bavail`). */
  readonly free: number
  /** The most free space may drop to: the larger of the byte floor and the percentage. */
  readonly floor: number
  /** Bytes an upload may still write: `free - floor` (≤ 0: none). */
  readonly allowance: number
}

/** Pure part of the disk check, over `statfs` figures. */
export const diskRoom = (
  stats: { readonly bavail: number; readonly blocks: number; readonly bsize: number },
  floor: DiskFloor
): DiskRoom => {
  const free = stats.bavail * stats.bsize
  const limit = Math.max(
    floor.minFreeBytes,
    Math.ceil((stats.blocks * stats.bsize * floor.minFreePercent) / 100)
  )
  return { free, floor: limit, allowance: free - limit }
}

export class DiskCheckError extends Data.TaggedError("DiskCheckError")<{ readonly message: string }> {}

/** How much may still be written under `dir` (an existing directory) before the floor. */
export const diskAllowance = (dir: string, floor: DiskFloor): Effect.Effect<DiskRoom, DiskCheckError> =>
  Effect.tryPromise({
    try: () => fsp.statfs(dir),
    catch: (e) => new DiskCheckError({ message: `cannot check free space under ${dir}: ${String(e)}` })
  }).pipe(Effect.map((s) => diskRoom(s, floor)))

/**
 * What the quarantine already holds (files from earlier runs count against the instance budget,
 * so a restart does not reset it). Stops counting at `maxFiles`: past it the budget is spent anyway.
 * A missing directory is an empty quarantine.
 */
export const scanQuarantine = (dir: string, maxFiles: number): Effect.Effect<Usage, DiskCheckError> =>
  Effect.tryPromise({
    try: () =>
      fsp
        .readdir(dir, { withFileTypes: true })
        .catch((e: unknown) =>
          typeof e === "object" && e !== null && "code" in e && e.code === "ENOENT" ? [] : Promise.reject(e)
        ),
    catch: (e) => new DiskCheckError({ message: `cannot read the quarantine ${dir}: ${String(e)}` })
  }).pipe(
    Effect.flatMap((entries) =>
      Effect.forEach(
        entries.filter((e) => e.isFile()).slice(0, maxFiles),
        // A file that vanished meanwhile (collected, renamed) simply does not count.
        (e) =>
          Effect.promise(() =>
            fsp.stat(path.join(dir, e.name)).then(
              (st) => st.size,
              () => undefined
            )
          ),
        { concurrency: 8 }
      )
    ),
    Effect.map((sizes) => {
      const usage: Usage = { bytes: 0, files: 0 }
      for (const size of sizes) {
        if (size === undefined) continue
        usage.files++
        usage.bytes += size
      }
      return usage
    })
  )
