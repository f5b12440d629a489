/**
 * Shared helpers for the honeypot service tests: spawn real clients, read event lines. Every line a
 * test reads is first held to the event contract (`checkEventLine`), so each protocol test also checks
 * that its emulator emits only typed events.
 */
import { execFile } from "node:child_process"
import * as net from "node:net"
import * as tls from "node:tls"
import { Effect, Either, Layer, Option, Schema } from "effect"
import fc from "fast-check"
import { findService } from "../../src/catalog/index.js"
import { isHoneypotSlug, loadHoneypot } from "../../src/honeypots/Registry.js"
import {
  EventSinkMemory,
  type Honeypot,
  HoneypotContextLive,
  MemorySink
} from "../../src/honeypots/runtime/index.js"
import { type HoneypotEvent, HoneypotEventLine } from "../../src/logging/HoneypotEvent.js"
import { hasUnsafeCharacter, UNKNOWN_IP } from "../../src/logging/Rfc5424.js"

export const TestLayer = (options: { limits?: Record<string, number>; artifactsDir?: string } = {}) =>
  HoneypotContextLive({ decky: "decky-01", limits: options.limits, artifactsDir: options.artifactsDir }).pipe(
    Layer.provideMerge(EventSinkMemory)
  )

const modules = new Map<string, Honeypot>()
const moduleOf = (slug: string): Effect.Effect<Honeypot> => {
  const hit = modules.get(slug)
  if (hit !== undefined) return Effect.succeed(hit)
  return Effect.tap(Effect.orDie(loadHoneypot(slug)), (m) => Effect.sync(() => modules.set(slug, m)))
}

/** Events that are about a source, not one connection: they name the address but no port. */
const PORTLESS = new Set(["connection_refused"])

/**
 * The event contract, for one line: it decodes as a HoneypotEvent, carries no raw control character,
 * its type is one its service's catalog entry lists and its fields decode as that service's event,
 * and every event after `startup` has a peer. Services outside the registry (test modules) skip the
 * catalog and Schema checks.
 */
export const checkEventLine = (raw: string): Effect.Effect<HoneypotEvent> =>
  Effect.gen(function* () {
    if (hasUnsafeCharacter(raw))
      return yield* Effect.dieMessage(`raw control character in ${JSON.stringify(raw)}`)
    const event = yield* Schema.decodeUnknown(HoneypotEventLine)(raw).pipe(
      Effect.mapError((e) => new Error(`not a HoneypotEvent line: ${raw}\n${e.message}`)),
      Effect.orDie
    )
    if (event.event_type !== "startup") {
      if (event.attacker_ip === UNKNOWN_IP) return yield* Effect.dieMessage(`no peer: ${raw}`)
      if (!PORTLESS.has(event.event_type) && event.attacker_port === null)
        return yield* Effect.dieMessage(`no peer port: ${raw}`)
    }
    if (isHoneypotSlug(event.service)) {
      const spec = Option.getOrThrow(findService(event.service))
      if (!spec.events.includes(event.event_type))
        return yield* Effect.dieMessage(
          `${event.service}'s catalog entry does not list ${event.event_type}: ${raw}`
        )
      const module = yield* moduleOf(event.service)
      const typed = module.events.decode(event.event_type, event.fields)
      if (Either.isLeft(typed))
        return yield* Effect.dieMessage(
          `${event.service} ${event.event_type} fields do not decode: ${typed.left.message}\n${raw}`
        )
    }
    return event
  })

export interface RunResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Run a real client binary with a timeout; never rejects (the exit code is part of the result). */
export const run = (
  file: string,
  args: ReadonlyArray<string>,
  options: { input?: string; timeoutMs?: number } = {}
) =>
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

/**
 * A checked line as tests read it. `fields` holds the peer too (`src_ip`, `src_port`), as the SD
 * element does, so assertions can name it like any other field.
 */
export const toEventLine = (raw: string, event: HoneypotEvent): EventLine => ({
  app: event.service,
  type: event.event_type,
  fields: {
    ...(event.attacker_ip === UNKNOWN_IP ? {} : { src_ip: event.attacker_ip }),
    ...(event.attacker_port === null ? {} : { src_port: String(event.attacker_port) }),
    ...event.fields
  },
  msg: event.msg,
  raw
})

// Tests poll `events` while fuzzers write tens of thousands of lines: check each line once.
const checked = new Map<string, EventLine>()
const checkedLine = (raw: string): Effect.Effect<EventLine> => {
  const hit = checked.get(raw)
  if (hit !== undefined) return Effect.succeed(hit)
  return Effect.map(checkEventLine(raw), (e) => {
    const line = toEventLine(raw, e)
    if (checked.size > 200_000) checked.clear()
    checked.set(raw, line)
    return line
  })
}

export const events = Effect.gen(function* () {
  const sink = yield* MemorySink
  return yield* Effect.forEach(yield* sink.lines, checkedLine)
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

/** Send each string in turn, pausing `n` ms at each number; then report what came back and whether the server closed. */
export const scripted = (port: number, script: ReadonlyArray<string | number>) =>
  Effect.promise(
    () =>
      new Promise<{ text: string; closed: boolean }>((resolve) => {
        const s = net.connect(port, "127.0.0.1")
        let text = ""
        let closed = false
        s.on("data", (d) => {
          text += d.toString("latin1")
        })
        s.on("close", () => {
          closed = true
        })
        s.on("error", () => {})
        s.on("connect", async () => {
          for (const step of script) {
            if (typeof step === "number") await new Promise((r) => setTimeout(r, step))
            else if (!closed) s.write(step)
          }
          await new Promise((r) => setTimeout(r, 300))
          s.destroy()
          resolve({ text, closed })
        })
      })
  )

/** nmap -sV against one loopback port; returns the XML. */
export const nmapServiceXml = (port: number, extra: ReadonlyArray<string> = []) =>
  Effect.map(
    run("nmap", ["-sV", "-Pn", "-n", ...extra, "-p", String(port), "127.0.0.1", "-oX", "-"], {
      timeoutMs: 240_000
    }),
    (r) => r.stdout
  )

export const nmapService = (xml: string) => {
  const m = /<service ([^>]*)>|<service ([^>]*)\/>/.exec(xml)
  const attrs = m?.[1] ?? m?.[2] ?? ""
  const get = (k: string) => new RegExp(`${k}="([^"]*)"`).exec(attrs)?.[1] ?? ""
  return { name: get("name"), product: get("product"), version: get("version"), extrainfo: get("extrainfo") }
}

export interface FuzzConnectionResult {
  readonly srcPort: number
  readonly replyBytes: number
  /** The server closed (FIN or RST) after our FIN, within the timeout. */
  readonly closed: boolean
  /** LF bytes sent: an upper bound on the lines (commands) the server can have read. */
  readonly sentLines: number
}

/** Send one payload, half-close, and wait for the server to close (bounded by `timeoutMs`). */
export const fuzzConnection = (port: number, payload: Buffer, timeoutMs = 20_000, useTls = false) =>
  new Promise<FuzzConnectionResult>((resolve) => {
    const s = useTls
      ? tls.connect({ port, host: "127.0.0.1", rejectUnauthorized: false, ALPNProtocols: ["http/1.1"] })
      : net.connect(port, "127.0.0.1")
    let bytes = 0
    let srcPort = 0
    let done = false
    const finish = (closed: boolean) => {
      if (done) return
      done = true
      clearTimeout(timer)
      s.destroy()
      let sentLines = 0
      for (const b of payload) if (b === 0x0a) sentLines++
      resolve({ srcPort, replyBytes: bytes, closed, sentLines })
    }
    const timer = setTimeout(() => finish(false), timeoutMs)
    s.on(useTls ? "secureConnect" : "connect", () => {
      srcPort = s.localPort ?? 0
      s.end(payload)
    })
    s.on("data", (d) => {
      bytes += d.length
    })
    s.on("error", () => finish(true))
    s.on("close", () => finish(true))
  })

/**
 * Mutations of valid protocol lines (worth more than noise) plus raw noise. Each case is one
 * CRLF-terminated line, or a random byte run that may lack a terminator.
 */
export const lineCases = (valid: ReadonlyArray<string>): fc.Arbitrary<Buffer> => {
  const base = fc.constantFrom(...valid)
  const noise = fc.string({ unit: "binary", maxLength: 64 })
  const mutated = fc.oneof(
    base,
    fc
      .tuple(base, fc.nat(), noise)
      .map(([v, i, n]) => v.slice(0, i % (v.length + 1)) + n + v.slice(i % (v.length + 1))),
    fc
      .tuple(base, fc.nat(), fc.nat(8))
      .map(([v, i, n]) => v.slice(0, i % (v.length + 1)) + v.slice((i % (v.length + 1)) + n)),
    fc.tuple(base, fc.boolean()).map(([v, up]) => (up ? v.toUpperCase() : v.toLowerCase())),
    fc
      .tuple(base, fc.constantFrom("{5}", "{99999999}", "{0+}", '"', "\\", "\0", "*", "=", " ", "\t", "%n%s"))
      .map(([v, s]) => v + s),
    fc.tuple(base, fc.nat(3)).map(([v, r]) => v + " A".repeat(r * 100))
  )
  return fc.oneof(
    { weight: 8, arbitrary: mutated.map((s) => Buffer.from(`${s}\r\n`, "latin1")) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 96 }).map((b) => Buffer.from(b)) },
    { weight: 1, arbitrary: noise.map((s) => Buffer.from(`${s}\n`, "latin1")) }
  )
}

export interface FuzzReport {
  readonly cases: number
  readonly connections: number
  readonly results: ReadonlyArray<FuzzConnectionResult>
}

/** Drive `cases` generated cases over real connections, `perConnection` pipelined per socket. */
export const runFuzz = (options: {
  readonly port: number
  readonly arbitrary: fc.Arbitrary<Buffer>
  readonly cases: number
  readonly perConnection: number
  readonly concurrency?: number
  readonly seed?: number
  readonly prefix?: Buffer
  readonly tls?: boolean
}) =>
  Effect.promise(async (): Promise<FuzzReport> => {
    const samples = fc.sample(options.arbitrary, { numRuns: options.cases, seed: options.seed ?? 20_241_123 })
    const batches: Array<Buffer> = []
    for (let i = 0; i < samples.length; i += options.perConnection)
      batches.push(
        Buffer.concat([options.prefix ?? Buffer.alloc(0), ...samples.slice(i, i + options.perConnection)])
      )
    const results: Array<FuzzConnectionResult> = []
    let next = 0
    const worker = async () => {
      while (next < batches.length) {
        const batch = batches[next++]!
        results.push(await fuzzConnection(options.port, batch, 20_000, options.tls ?? false))
      }
    }
    await Promise.all(Array.from({ length: options.concurrency ?? 6 }, worker))
    return { cases: samples.length, connections: batches.length, results }
  })

/** Events per connection, keyed by the client's source port. */
export const eventsBySrcPort = (es: ReadonlyArray<EventLine>) => {
  const by = new Map<string, Array<EventLine>>()
  for (const e of es) {
    const p = e.fields.src_port
    if (p === undefined) continue
    const list = by.get(p) ?? []
    list.push(e)
    by.set(p, list)
  }
  return by
}
