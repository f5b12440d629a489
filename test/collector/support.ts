// A collector core over real files in a temporary directory and an in-process bus that records every
// event: what the unit and end-to-end tests of the collector share.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Either, Schema, type Scope, Stream } from "effect"
import { Bus, type BusEvent, type BusService } from "../../src/bus/Bus.js"
import { makeFakeBus } from "../../src/bus/FakeBus.js"
import { type CollectorService, makeCollector } from "../../src/collector/Collector.js"
import { type EvidenceRecord, EvidenceRecordJson } from "../../src/collector/Record.js"
import { EvidenceWriter, type EvidenceWriterService, makeEvidenceWriter } from "../../src/collector/Writer.js"
import { DecnetConfig } from "../../src/config/DecnetConfig.js"
import type { HoneypotEvent } from "../../src/logging/HoneypotEvent.js"

/** A fresh directory, removed when the scope closes (whatever happened). */
export const tempDir = (prefix: string): Effect.Effect<string, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), prefix))),
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  )

/** The lines of a file (none when it does not exist). */
export const linesOf = (file: string): Array<string> => {
  if (!fs.existsSync(file)) return []
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l !== "")
}

const decodeRecord = Schema.decodeUnknownEither(EvidenceRecordJson)

/** Every `.json` line decoded as an EvidenceRecord; a line that does not decode fails the test. */
export const recordsOf = (file: string): Array<EvidenceRecord> =>
  linesOf(file).map((line) => {
    const r = decodeRecord(line)
    if (Either.isLeft(r)) throw new Error(`not an EvidenceRecord: ${line}\n${r.left.message}`)
    return r.right
  })

/** A bus that keeps everything published on it (`>`), in order. */
export const recordingBus = Effect.gen(function* () {
  const bus = yield* makeFakeBus()
  const events: Array<BusEvent> = []
  const stream = yield* bus.subscribe(">")
  yield* stream.pipe(
    Stream.runForEach((e) => Effect.sync(() => events.push(e))),
    Effect.forkScoped
  )
  // The recorder runs on its own fiber: let it take what was offered before a test looks.
  const settled = Effect.repeatN(Effect.yieldNow(), 5)
  return { bus, events, settled } as const
})

export interface Harness {
  readonly dir: string
  readonly log: string
  readonly json: string
  readonly bus: BusService
  readonly events: Array<BusEvent>
  readonly settled: Effect.Effect<void>
  readonly writer: EvidenceWriterService
  readonly collector: CollectorService
  readonly records: () => Array<EvidenceRecord>
  readonly published: (topic: string) => Effect.Effect<Array<BusEvent>>
}

/** The core over `<tmp>/decnet.log`, a recording bus and the settings in `env` (defaults otherwise). */
export const harness = (env: Record<string, string> = {}): Effect.Effect<Harness, never, Scope.Scope> =>
  Effect.gen(function* () {
    const dir = yield* tempDir("decnet-collector-")
    const base = path.join(dir, "decnet.log")
    const writer = yield* Effect.orDie(makeEvidenceWriter(base))
    const { bus, events, settled } = yield* Effect.orDie(recordingBus)
    const collector = yield* makeCollector.pipe(
      Effect.provideService(Bus, bus),
      Effect.provideService(EvidenceWriter, writer),
      Effect.provide(DecnetConfig.fromMap(env)),
      Effect.orDie
    )
    return {
      dir,
      log: writer.paths.log,
      json: writer.paths.json,
      bus,
      events,
      settled,
      writer,
      collector,
      records: () => recordsOf(writer.paths.json),
      published: (topic) => Effect.map(settled, () => events.filter((e) => e.topic === topic))
    }
  })

/** A HoneypotEvent with defaults for what a test does not care about. */
export const event = (over: Partial<HoneypotEvent> = {}): HoneypotEvent => ({
  timestamp: new Date("2026-04-21T12:00:00.123Z"),
  decky: "decky-01",
  service: "redis",
  event_type: "auth",
  attacker_ip: "198.51.100.7",
  attacker_port: 51000,
  fields: {},
  msg: "",
  severity: 6,
  ...over
})
