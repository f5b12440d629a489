/**
 * The sink side of the legacy scp protocol (`scp -t <target>`, as OpenSSH's scp -O speaks it):
 * `C<mode> <size> <name>\n`, then <size> bytes, then the source's `\0`; `D`/`E`/`T` lines are
 * acknowledged with one `\0` (ok) byte. Pure: bytes in, the steps the channel must take out. The
 * channel acknowledges a `C` once the upload is open, and a file's end once it is stored.
 */
import * as path from "node:path"

const MAX_HEADER = 4096
const MAX_DEPTH = 32

export type ScpStep =
  /** Reply one `\0`. */
  | { readonly _tag: "Ack" }
  /** A file begins (`C` line): open an upload for `path`, then acknowledge. */
  | { readonly _tag: "File"; readonly path: string; readonly size: number }
  /** Bytes of the current file (a view into the fed buffer: copy it to keep it). */
  | { readonly _tag: "Data"; readonly chunk: Buffer }
  /** The current file's bytes are all in: store it, then acknowledge. */
  | { readonly _tag: "FileEnd" }
  /** Protocol error: send `reply` (a `\x02` fatal message) and close. */
  | { readonly _tag: "Fatal"; readonly reply: Buffer }

const ACK: ScpStep = { _tag: "Ack" }
const FILE_END: ScpStep = { _tag: "FileEnd" }
const fatal = (message: string): ScpStep => ({ _tag: "Fatal", reply: Buffer.from(`\x02scp: ${message}\n`) })

export class ScpSink {
  private readonly target: string
  private readonly targetIsDir: boolean
  private header = Buffer.alloc(0)
  private state: "header" | "data" | "trailer" | "failed" = "header"
  private remaining = 0
  private dirs: Array<string> = []

  constructor(target: string, targetIsDir: boolean) {
    this.target = target
    this.targetIsDir = targetIsDir
  }

  feed(data: Buffer): ReadonlyArray<ScpStep> {
    const steps: Array<ScpStep> = []
    let i = 0
    while (i < data.length && this.state !== "failed") {
      if (this.state === "data") {
        const n = Math.min(this.remaining, data.length - i)
        steps.push({ _tag: "Data", chunk: data.subarray(i, i + n) })
        this.remaining -= n
        i += n
        if (this.remaining === 0) this.state = "trailer"
      } else if (this.state === "trailer") {
        i++
        this.state = "header"
        steps.push(FILE_END)
      } else {
        const nl = data.indexOf(0x0a, i)
        const end = nl < 0 ? data.length : nl
        this.header = Buffer.concat([this.header, data.subarray(i, end)])
        i = nl < 0 ? data.length : nl + 1
        if (this.header.length > MAX_HEADER) return this.fail(steps, "protocol error: header too long")
        if (nl < 0) break
        const line = this.header.toString("latin1")
        this.header = Buffer.alloc(0)
        const kind = line[0]
        if (kind === "C") {
          const m = /^C[0-7]{4} (\d{1,12}) (.+)$/.exec(line)
          if (m === null) return this.fail(steps, "protocol error: bad mode")
          const name = path.posix.basename(m[2]!)
          const file =
            this.dirs.length > 0
              ? path.posix.join(this.target, ...this.dirs, name)
              : this.targetIsDir
                ? path.posix.join(this.target, name)
                : this.target
          this.remaining = Number(m[1])
          this.state = this.remaining === 0 ? "trailer" : "data"
          steps.push({ _tag: "File", path: file, size: this.remaining })
        } else if (kind === "D") {
          const name = /^D[0-7]{4} \d+ (.+)$/.exec(line)?.[1]
          if (name !== undefined && this.dirs.length < MAX_DEPTH) this.dirs.push(path.posix.basename(name))
          steps.push(ACK)
        } else if (kind === "E") {
          this.dirs.pop()
          steps.push(ACK)
        } else if (kind === "T") {
          steps.push(ACK)
        } else return this.fail(steps, "protocol error: unexpected <newline>")
      }
    }
    return steps
  }

  private fail(steps: Array<ScpStep>, message: string): ReadonlyArray<ScpStep> {
    this.state = "failed"
    steps.push(fatal(message))
    return steps
  }
}
