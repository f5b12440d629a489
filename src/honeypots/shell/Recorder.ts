/**
 * Session recording in asciicast v2 (header line, then `[t, "o"|"i", data]` events), bounded by a
 * byte cap: past it one truncation marker is written and further events are dropped.
 */
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { Effect } from "effect"

export const DEFAULT_MAX_RECORDING_BYTES = 10 * 1024 * 1024

export interface RecordingSummary {
  readonly path: string
  readonly bytes: number
  readonly truncated: boolean
  readonly durationS: number
}

export class Recorder {
  private readonly parts: Array<string> = []
  private size = 0
  private truncatedFlag = false
  /** Bytes of terminal data the session carried (input + output), counted even past the cap. */
  private dataBytes = 0
  private readonly started = performance.now()
  private readonly maxBytes: number

  constructor(options: { width: number; height: number; term: string; title: string; maxBytes?: number }) {
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_RECORDING_BYTES
    this.push(
      JSON.stringify({
        version: 2,
        width: options.width,
        height: options.height,
        timestamp: Math.floor(Date.now() / 1000),
        env: { SHELL: "/bin/bash", TERM: options.term },
        title: options.title
      })
    )
  }

  private push(line: string): void {
    this.parts.push(`${line}\n`)
    this.size += Buffer.byteLength(line) + 1
  }

  private elapsed(): number {
    return Math.round(performance.now() - this.started) / 1000
  }

  record(kind: "o" | "i", data: string): void {
    if (data === "") return
    this.dataBytes += Buffer.byteLength(data)
    if (this.truncatedFlag) return
    const line = JSON.stringify([this.elapsed(), kind, data])
    if (this.size + Buffer.byteLength(line) + 1 > this.maxBytes - 128) {
      this.truncatedFlag = true
      this.push(JSON.stringify([this.elapsed(), "o", "\r\n[decnet: recording truncated]\r\n"]))
      return
    }
    this.push(line)
  }

  get bytes(): number {
    return this.dataBytes
  }

  /** The cast file as it would be written now. */
  text(): string {
    return this.parts.join("")
  }

  get truncated(): boolean {
    return this.truncatedFlag
  }

  /** Write the cast file (creating directories); yields the summary for `session_recorded`. */
  save(file: string): Effect.Effect<RecordingSummary> {
    const body = this.text()
    const summary: RecordingSummary = {
      path: file,
      bytes: this.dataBytes,
      truncated: this.truncatedFlag,
      durationS: this.elapsed()
    }
    return Effect.tryPromise(() =>
      fs.mkdir(path.dirname(file), { recursive: true }).then(() => fs.writeFile(file, body))
    ).pipe(
      Effect.as(summary),
      Effect.catchAll((e) =>
        Effect.logWarning(`cannot write session recording ${file}: ${String(e)}`).pipe(
          Effect.as({ ...summary, path: "" })
        )
      )
    )
  }
}
