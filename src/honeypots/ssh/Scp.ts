/**
 * The sink side of the legacy scp protocol (`scp -t <target>`, as OpenSSH's scp -O speaks it):
 * `C<mode> <size> <name>\n` then <size> bytes then `\0`; `D`/`E`/`T` lines are acknowledged.
 * Every reply is one `\0` (ok) byte. Pure: bytes in, acknowledgements and uploads out.
 */
import * as path from "node:path"
import { MAX_UPLOAD_BYTES, Upload, UploadBudget } from "./Capture.js"

const MAX_HEADER = 4096

export interface ScpStep {
  readonly reply: Buffer
  readonly completed: ReadonlyArray<Upload>
  /** Protocol error: reply has been set to a `\x02` fatal message; close. */
  readonly fatal: boolean
}

export class ScpSink {
  private readonly target: string
  private readonly targetIsDir: boolean
  private header = Buffer.alloc(0)
  private state: "header" | "data" | "trailer" = "header"
  private current: Upload | undefined
  private remaining = 0
  private dirs: Array<string> = []
  private readonly budget: UploadBudget

  constructor(
    target: string,
    targetIsDir: boolean,
    budget: UploadBudget = new UploadBudget(MAX_UPLOAD_BYTES)
  ) {
    this.target = target
    this.targetIsDir = targetIsDir
    this.budget = budget
  }

  /** The channel closed: give back what an unfinished upload holds (it is never stored). */
  discard(): void {
    this.current?.release()
    this.current = undefined
  }

  feed(data: Buffer): ScpStep {
    const replies: Array<Buffer> = []
    const completed: Array<Upload> = []
    let i = 0
    while (i < data.length) {
      if (this.state === "data") {
        const n = Math.min(this.remaining, data.length - i)
        this.current?.write(data.subarray(i, i + n))
        this.remaining -= n
        i += n
        if (this.remaining === 0) this.state = "trailer"
      } else if (this.state === "trailer") {
        i++
        if (this.current !== undefined) completed.push(this.current)
        this.current = undefined
        this.state = "header"
        replies.push(Buffer.from([0]))
      } else {
        const nl = data.indexOf(0x0a, i)
        const end = nl < 0 ? data.length : nl
        this.header = Buffer.concat([this.header, data.subarray(i, end)])
        i = nl < 0 ? data.length : nl + 1
        if (this.header.length > MAX_HEADER)
          return { reply: Buffer.from("\x02scp: protocol error: header too long\n"), completed, fatal: true }
        if (nl < 0) break
        const line = this.header.toString("latin1")
        this.header = Buffer.alloc(0)
        const kind = line[0]
        if (kind === "C") {
          const m = /^C[0-7]{4} (\d{1,12}) (.+)$/.exec(line)
          if (m === null)
            return { reply: Buffer.from("\x02scp: protocol error: bad mode\n"), completed, fatal: true }
          const name = path.posix.basename(m[2]!)
          const base =
            this.dirs.length > 0
              ? path.posix.join(this.target, ...this.dirs, name)
              : this.targetIsDir
                ? path.posix.join(this.target, name)
                : this.target
          this.current = new Upload(base, this.budget)
          this.remaining = Number(m[1])
          this.state = this.remaining === 0 ? "trailer" : "data"
          replies.push(Buffer.from([0]))
        } else if (kind === "D") {
          const name = /^D[0-7]{4} \d+ (.+)$/.exec(line)?.[1]
          if (name !== undefined && this.dirs.length < 32) this.dirs.push(path.posix.basename(name))
          replies.push(Buffer.from([0]))
        } else if (kind === "E") {
          this.dirs.pop()
          replies.push(Buffer.from([0]))
        } else if (kind === "T") {
          replies.push(Buffer.from([0]))
        } else {
          return {
            reply: Buffer.from("\x02scp: protocol error: unexpected <newline>\n"),
            completed,
            fatal: true
          }
        }
      }
    }
    return { reply: Buffer.concat(replies), completed, fatal: false }
  }
}
