/** Shared helpers for the honeypot service tests: spawn real clients, parse event lines. */
import { execFile } from "node:child_process"
import * as net from "node:net"
import { Effect, Layer } from "effect"
import { EventSinkMemory, HoneypotContextLive, MemorySink } from "../../src/honeypots/runtime/index.js"

export const TestLayer = (options: { limits?: Record<string, number>; artifactsDir?: string } = {}) =>
  HoneypotContextLive({ decky: "decky-01", limits: options.limits, artifactsDir: options.artifactsDir }).pipe(
    Layer.provideMerge(EventSinkMemory)
  )

export interface RunResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Run a real client binary with a timeout; never rejects (the exit code is part of the result). */
export const run = (file: string, args: ReadonlyArray<string>, options: { input?: string; timeoutMs?: number } = {}) =>
  Effect.promise(
    () =>
      new Promise<RunResult>((resolve) => {
        const child = execFile(
          file,
          [...args],
          { timeout: options.timeoutMs ?? 20_000, maxBuffer: 16 * 1024 * 1024, encoding: "utf8" },
          (err, stdout, stderr) => {
            const code = err === null ? 0 : typeof err.code === "number" ? err.code : -1
            resolve({ code, stdout, stderr })
          }
        )
        if (options.input !== undefined) child.stdin?.end(options.input)
        else child.stdin?.end()
      })
  )

export interface EventLine {
  readonly app: string
  readonly type: string
  readonly fields: Record<string, string>
  readonly msg: string
  readonly raw: string
}

/** Parse `<PRI>1 ts host app - type [relay@55555 k="v" …] msg`. */
export const parseLine = (raw: string): EventLine => {
  const m = /^<\d+>1 \S+ \S+ (\S+) - (\S+) (-|\[relay@55555(.*?)(?<!\\)\])(?: (.*))?$/s.exec(raw)
  if (m === null) throw new Error(`unparsable line: ${raw}`)
  const fields: Record<string, string> = {}
  const re = / ([A-Za-z0-9_.-]+)="((?:[^"\\]|\\.)*)"/g
  for (let f = re.exec(m[4] ?? ""); f !== null; f = re.exec(m[4] ?? "")) fields[f[1]!] = f[2]!.replace(/\\(.)/g, "$1")
  return { app: m[1]!, type: m[2]!, fields, msg: m[5] ?? "", raw }
}

export const events = Effect.gen(function* () {
  const sink = yield* MemorySink
  return (yield* sink.lines).map(parseLine)
})

export const eventsOf = (type: string) => Effect.map(events, (es) => es.filter((e) => e.type === type))

/** Poll until `predicate` holds on the events (servers emit asynchronously). */
export const waitForEvents = (predicate: (es: ReadonlyArray<EventLine>) => boolean, tries = 100) =>
  Effect.gen(function* () {
    for (let i = 0; i < tries; i++) {
      const es = yield* events
      if (predicate(es)) return es
      yield* Effect.sleep("50 millis")
    }
    return yield* events
  })

/** Raw TCP exchange: send `data`, collect until the peer closes or `untilIncludes` shows up. */
export const rawExchange = (
  port: number,
  data: Buffer | string,
  options: { untilIncludes?: string; timeoutMs?: number; host?: string } = {}
) =>
  Effect.promise(
    () =>
      new Promise<{ text: string; closed: boolean }>((resolve) => {
        const s = net.connect(port, options.host ?? "127.0.0.1")
        let text = ""
        let done = false
        const finish = (closed: boolean) => {
          if (done) return
          done = true
          s.destroy()
          resolve({ text, closed })
        }
        s.on("data", (d) => {
          text += d.toString("latin1")
          if (options.untilIncludes !== undefined && text.includes(options.untilIncludes)) finish(false)
        })
        s.on("error", () => finish(true))
        s.on("close", () => finish(true))
        s.on("connect", () => s.write(data))
        setTimeout(() => finish(false), options.timeoutMs ?? 5000)
      })
  )

/** nmap -sV against one loopback port; returns the XML. */
export const nmapServiceXml = (port: number, extra: ReadonlyArray<string> = []) =>
  Effect.map(
    run("nmap", ["-sV", "-Pn", "-n", ...extra, "-p", String(port), "127.0.0.1", "-oX", "-"], { timeoutMs: 240_000 }),
    (r) => r.stdout
  )

export const nmapService = (xml: string) => {
  const m = /<service ([^>]*)>|<service ([^>]*)\/>/.exec(xml)
  const attrs = m?.[1] ?? m?.[2] ?? ""
  const get = (k: string) => new RegExp(`${k}="([^"]*)"`).exec(attrs)?.[1] ?? ""
  return { name: get("name"), product: get("product"), version: get("version"), extrainfo: get("extrainfo") }
}
