/**
 * The collector's core (spec fleet §7, workers §4.5): one raw line from a container, or one typed event
 * from an in-process decky, in. The raw line always goes to `.log` (the forensic record); a parsed event
 * that is not from a dropped APP-NAME and not a repeat inside the rate-limit window goes to `.json` as an
 * EvidenceRecord (what the ingester reads), then to the bus as `system.log`, then to the session
 * aggregator. Files before the bus: the bus only carries hints.
 */
import { Clock, Context, Effect, Layer, Schema } from "effect"
import { Bus } from "../bus/Bus.js"
import { publishSafelyOn } from "../bus/Helpers.js"
import { T } from "../bus/Topics.js"
import { DecnetConfig } from "../config/DecnetConfig.js"
import { encodeEventLine, type HoneypotEvent, type SystemLogPayload } from "../logging/HoneypotEvent.js"
import { parseEventLine } from "../logging/Parser.js"
import { type EvidenceRecord, type EvidenceSource, isHoneypotEvent } from "./Record.js"
import { makeSessionAggregator, SessionEndedPayload } from "./Sessions.js"
import { type EvidenceWriteError, EvidenceWriter } from "./Writer.js"

/** What became of one input. */
export type AcceptOutcome =
  /** Empty after trimming: nothing written. */
  | "blank"
  /** Not an RFC 5424 event line: `.log` only. */
  | "unparsed"
  /** APP-NAME in DECNET_COLLECTOR_DROP_APPS: `.log` only. */
  | "dropped"
  /** A repeat of the same (ip, decky, service, type) inside the window: `.log` only. */
  | "deduped"
  /** Written to `.log` and `.json`, published. */
  | "kept"

export interface CollectorStats {
  readonly lines: number
  readonly kept: number
  readonly unparsed: number
  readonly dropped: number
  readonly deduped: number
  readonly sessions: number
}

export interface CollectorService {
  /**
   * One raw line of a container's stdout (trailing whitespace ignored). `source` goes into the record:
   * the container and the engine's timestamp of the line. Fails only when the files cannot be written,
   * so a source can keep its position and retry.
   */
  readonly accept: (line: string, source: EvidenceSource) => Effect.Effect<AcceptOutcome, EvidenceWriteError>
  /**
   * `accept` for a chunk of lines, in order, with the same outcomes (a repeat inside the chunk is
   * deduplicated like one in a later call), written with one append per file. Fails as a whole when the
   * files cannot be written: nothing of the chunk counts as handled, and a source retries it.
   */
  readonly acceptMany: (
    lines: ReadonlyArray<{ readonly line: string; readonly source: EvidenceSource }>
  ) => Effect.Effect<ReadonlyArray<AcceptOutcome>, EvidenceWriteError>
  /**
   * One typed event from an in-process decky: not re-parsed; its raw line is `encodeEventLine(event)`.
   * `source` defaults to `{ container: "inprocess" }`.
   */
  readonly acceptEvent: (
    event: HoneypotEvent,
    source?: EvidenceSource
  ) => Effect.Effect<AcceptOutcome, EvidenceWriteError>
  readonly stats: Effect.Effect<CollectorStats>
}

export class Collector extends Context.Tag("decnet/Collector")<Collector, CollectorService>() {}

/** The dedupe table holds at most this many keys; the least recently kept are forgotten first. */
export const MAX_DEDUPE_KEYS = 10_000

export const IN_PROCESS_SOURCE: EvidenceSource = { container: "inprocess" }

/**
 * The rate limiter of connection-lifecycle events: a port scan makes one `connect` per port, and each
 * would be a row. Keyed by (attacker_ip, decky, service, event_type); `check` says whether an event may
 * pass, `mark` records one that was written (only then, so a failed write is not deduplicated on retry).
 */
export const makeDeduper = (windowSec: number, eventTypes: ReadonlyArray<string>) => {
  const windowMs = windowSec * 1000
  const types = new Set(eventTypes)
  // Map order = least recently kept first.
  const last = new Map<string, number>()
  const keyOf = (e: HoneypotEvent) =>
    windowMs > 0 && types.has(e.event_type)
      ? JSON.stringify([e.attacker_ip, e.decky, e.service, e.event_type])
      : undefined
  return {
    /** The event's rate-limit key, or undefined when it is not rate-limited. */
    key: keyOf,
    check: (e: HoneypotEvent, now: number): boolean => {
      const key = keyOf(e)
      if (key === undefined) return true
      const at = last.get(key)
      return at === undefined || now - at >= windowMs
    },
    mark: (e: HoneypotEvent, now: number): void => {
      const key = keyOf(e)
      if (key === undefined) return
      last.delete(key)
      last.set(key, now)
      while (last.size > MAX_DEDUPE_KEYS) {
        const oldest = last.keys().next()
        if (oldest.done === true) break
        last.delete(oldest.value)
      }
    },
    size: () => last.size
  }
}

/**
 * `Schema.encodeSync(SystemLogPayload)` of a valid event, built directly (key for key, in the Schema's
 * order; test/collector/record.test.ts holds them equal): it runs for every kept event.
 */
export const systemLogPayload = (e: HoneypotEvent): { [K in keyof SystemLogPayload]: string } => ({
  timestamp: e.timestamp.toISOString(),
  decky: e.decky,
  service: e.service,
  event_type: e.event_type,
  attacker_ip: e.attacker_ip
})
const encodeSessionEnded = Schema.encodeSync(SessionEndedPayload)

/** The core over the `Bus`, the `EvidenceWriter` and the pipeline settings. */
export const makeCollector: Effect.Effect<CollectorService, never, Bus | EvidenceWriter | DecnetConfig> =
  Effect.gen(function* () {
    const bus = yield* Bus
    const writer = yield* EvidenceWriter
    const { pipeline } = yield* DecnetConfig
    const dropApps = new Set(pipeline.dropApps)
    const dedupe = makeDeduper(pipeline.rlWindowSec, pipeline.rlEventTypes)
    const sessions = makeSessionAggregator(pipeline.sessionAggTtlSec)
    const counts = { lines: 0, kept: 0, unparsed: 0, dropped: 0, deduped: 0, sessions: 0 }

    /** One input's fate, decided before anything is written. */
    interface Decided {
      readonly outcome: AcceptOutcome
      readonly raw: string
      readonly event?: HoneypotEvent | undefined
      readonly record?: EvidenceRecord | undefined
    }

    /**
     * Decide one input. `pending` holds the rate-limit keys kept earlier in the same chunk (marked in the
     * deduper only once their records are written, so a failed write is never taken for a duplicate).
     */
    const decide = (
      raw: string,
      event: HoneypotEvent | undefined,
      source: EvidenceSource,
      now: number,
      pending: Set<string>
    ): Decided => {
      counts.lines++
      if (event === undefined) {
        counts.unparsed++
        return { outcome: "unparsed", raw }
      }
      if (dropApps.has(event.service)) {
        counts.dropped++
        return { outcome: "dropped", raw }
      }
      const key = dedupe.key(event)
      if (!dedupe.check(event, now) || (key !== undefined && pending.has(key))) {
        counts.deduped++
        return { outcome: "deduped", raw }
      }
      if (key !== undefined) pending.add(key)
      return { outcome: "kept", raw, event, record: { ...event, raw_line: raw, source } }
    }

    /** After its record was written: the rate limiter, the bus, the session aggregator. */
    const kept = (event: HoneypotEvent, now: number) =>
      Effect.gen(function* () {
        dedupe.mark(event, now)
        counts.kept++
        yield* publishSafelyOn(bus, T.systemLog, systemLogPayload(event), event.event_type)
        const ended = sessions.add(event, now)
        if (ended !== undefined) {
          counts.sessions++
          yield* publishSafelyOn(
            bus,
            T.attackerSessionEnded,
            { ...encodeSessionEnded(ended) },
            "session.ended"
          )
        }
      })

    /** Write what was decided (one append per file), then follow up the kept events in order. */
    const commit = (decided: ReadonlyArray<Decided>, now: number) =>
      Effect.gen(function* () {
        const written = decided.filter((d) => d.outcome !== "blank")
        if (written.length > 0) yield* writer.writeMany(written)
        for (const d of written)
          if (d.event !== undefined && d.record !== undefined) yield* kept(d.event, now)
        return decided.map((d) => d.outcome)
      })

    /** A raw line: trimmed, parsed (a foreign line whose timestamp is not ISO-8601 takes `now`). */
    const decideLine = (line: string, source: EvidenceSource, now: number, pending: Set<string>): Decided => {
      // trimEnd, not a `\s+$` regex: that backtracks quadratically on a long run of inner spaces.
      const raw = line.trimEnd()
      if (raw === "") return { outcome: "blank", raw }
      const parsed = parseEventLine(raw, new Date(now))
      return decide(raw, isHoneypotEvent(parsed) ? parsed : undefined, source, now, pending)
    }

    const acceptMany = (lines: ReadonlyArray<{ readonly line: string; readonly source: EvidenceSource }>) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const pending = new Set<string>()
        return commit(
          lines.map((l) => decideLine(l.line, l.source, now, pending)),
          now
        )
      })

    return {
      accept: (line, source) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Effect.map(commit([decideLine(line, source, now, new Set())], now), (o) => o[0] ?? "blank")
        ),
      acceptMany,
      acceptEvent: (event, source = IN_PROCESS_SOURCE) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Effect.map(
            commit([decide(encodeEventLine(event), event, source, now, new Set())], now),
            (o) => o[0] ?? "blank"
          )
        ),
      stats: Effect.sync(() => ({ ...counts }))
    }
  })

export const CollectorLive: Layer.Layer<Collector, never, Bus | EvidenceWriter | DecnetConfig> = Layer.effect(
  Collector,
  makeCollector
)
