/**
 * Quarantine for files an attacker uploads (scp, SFTP): stored as `<ts>_<sha12>_<basename>` under
 * `<artifacts>/ssh/captured/`, announced by `file_captured`; oversize uploads give `file_skipped`.
 */
import { createHash } from "node:crypto"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { Effect } from "effect"
import type { HoneypotContextService } from "../runtime/index.js"

export const MAX_UPLOAD_BYTES = 50 * 1024 * 1024

export interface Uploader {
  readonly srcIp: string
  readonly srcPort: number
  readonly user: string
}

/** Accumulates one upload; past the cap it keeps counting but stops buffering. */
export class Upload {
  readonly origPath: string
  private readonly chunks: Array<Buffer> = []
  size = 0
  constructor(origPath: string) {
    this.origPath = origPath
  }
  write(data: Buffer): void {
    this.size += data.length
    if (this.size <= MAX_UPLOAD_BYTES) this.chunks.push(Buffer.from(data))
  }
  get oversize(): boolean {
    return this.size > MAX_UPLOAD_BYTES
  }
  content(): Buffer {
    return Buffer.concat(this.chunks)
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
    if (upload.oversize) {
      yield* ctx.emit(service, "file_skipped", { ...base, size: upload.size, reason: "too_large" })
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
  })
