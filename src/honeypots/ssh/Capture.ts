/**
 * Quarantine for files an attacker uploads (scp, SFTP): stored as `<ts>_<sha12>_<basename>` under
 * `<artifacts>/ssh/captured/`, announced by `file_captured`; an upload over 50 MiB, or past the
 * instance's in-memory budget, gives `file_skipped`.
 */
import { createHash } from "node:crypto"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { Effect } from "effect"
import type { HoneypotContextService } from "../runtime/index.js"

export const MAX_UPLOAD_BYTES = 50 * 1024 * 1024

/**
 * Bytes of uploads one ssh instance (one decky's ssh) may hold in memory at once, over all sessions and
 * channels. Without it one SFTP session with 64 open handles could buffer 64 × 50 MiB and take the whole
 * decky process down; past it, further bytes are not buffered and those uploads end as `file_skipped`
 * with `reason=buffer_full`. Two maximum-size uploads fit at once.
 */
export const MAX_BUFFERED_UPLOAD_BYTES = 128 * 1024 * 1024

export type SkipReason = "too_large" | "buffer_full"

/** The shared in-memory allowance of one ssh instance's uploads in flight. */
export class UploadBudget {
  readonly limit: number
  held = 0
  constructor(limit: number) {
    this.limit = limit
  }
  take(n: number): boolean {
    if (this.held + n > this.limit) return false
    this.held += n
    return true
  }
  give(n: number): void {
    this.held = Math.max(0, this.held - n)
  }
}

export interface Uploader {
  readonly srcIp: string
  readonly srcPort: number
  readonly user: string
}

/**
 * Accumulates one upload against a budget. Past the per-upload cap or the budget it keeps counting but
 * drops what it buffered at once (so the memory is free before the upload ends) and is skipped.
 * `release` gives the budget back; `storeUpload` calls it, and a channel that closes mid-upload must.
 */
export class Upload {
  readonly origPath: string
  private readonly budget: UploadBudget
  private chunks: Array<Buffer> = []
  private held = 0
  size = 0
  skipReason: SkipReason | undefined = undefined
  constructor(origPath: string, budget: UploadBudget = new UploadBudget(MAX_UPLOAD_BYTES)) {
    this.origPath = origPath
    this.budget = budget
  }
  write(data: Buffer): void {
    this.size += data.length
    if (this.skipReason !== undefined) return
    if (this.size > MAX_UPLOAD_BYTES) this.skip("too_large")
    else if (!this.budget.take(data.length)) this.skip("buffer_full")
    else {
      this.chunks.push(Buffer.from(data))
      this.held += data.length
    }
  }
  private skip(reason: SkipReason): void {
    this.skipReason = reason
    this.chunks = []
    this.release()
  }
  get oversize(): boolean {
    return this.skipReason === "too_large"
  }
  content(): Buffer {
    return Buffer.concat(this.chunks)
  }
  /** Give every buffered byte back to the budget (idempotent); the content stays readable. */
  release(): void {
    this.budget.give(this.held)
    this.held = 0
  }
}

const safeBase = (p: string): string =>
  path.posix
    .basename(p)
    .replace(/[^A-Za-z0-9._-]/g, "_")
    .slice(0, 100) || "unnamed"

export const storeUpload = (
  ctx: HoneypotContextService,
  service: string,
  upload: Upload,
  who: Uploader
): Effect.Effect<void> =>
  Effect.gen(function* () {
    const base = { orig_path: upload.origPath, src_ip: who.srcIp, src_port: who.srcPort, ssh_user: who.user }
    if (upload.skipReason !== undefined) {
      yield* ctx.emit(service, "file_skipped", { ...base, size: upload.size, reason: upload.skipReason })
      return
    }
    const body = upload.content()
    const sha256 = createHash("sha256").update(body).digest("hex")
    const ts = new Date()
      .toISOString()
      .replace(/[-:]/g, "")
      .replace(/\.\d+Z$/, "Z")
    const storedAs = `${ts}_${sha256.slice(0, 12)}_${safeBase(upload.origPath)}`
    const dir = path.join(ctx.artifactsDir, service, "captured")
    const ok = yield* Effect.tryPromise(() =>
      fs.mkdir(dir, { recursive: true }).then(() => fs.writeFile(path.join(dir, storedAs), body))
    ).pipe(
      Effect.as(true),
      Effect.catchAll((e) =>
        Effect.logWarning(`cannot store upload ${storedAs}: ${String(e)}`).pipe(Effect.as(false))
      )
    )
    if (!ok) return
    yield* ctx.emit(service, "file_captured", { stored_as: storedAs, sha256, size: body.length, ...base })
  }).pipe(Effect.ensuring(Effect.sync(() => upload.release())))
