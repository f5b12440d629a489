// `decky_mutated`: the exact RFC 5424 line of spec/topology.md §9 in the evidence files (so the ingester
// stores it), then `decky.<name>.mutation` on the bus, which goes out even when the file cannot be written.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect, Queue, Schema, Stream, TestClock } from "effect"
import { Bus, type BusEvent } from "../../src/bus/Bus.js"
import { makeFakeBus } from "../../src/bus/FakeBus.js"
import { nullBus } from "../../src/bus/NullBus.js"
import { EvidenceRecordJson } from "../../src/collector/Record.js"
import { EvidenceWriter, makeEvidenceWriter } from "../../src/collector/Writer.js"
import { HoneypotEventLine } from "../../src/logging/HoneypotEvent.js"
import { type DeckyMutation, emitDeckyMutated } from "../../src/mutator/Events.js"

const dir = mkdtempSync(join(tmpdir(), "decnet-mutator-events-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

// 2026-04-21T12:00:00.123Z
const AT = Date.UTC(2026, 3, 21, 12, 0, 0, 123)

const emitTo = (base: string, mutation: DeckyMutation) =>
  Effect.gen(function* () {
    const bus = yield* makeFakeBus()
    const events = yield* Queue.unbounded<BusEvent>()
    yield* (yield* bus.subscribe("decky.>")).pipe(
      Stream.runForEach((e) => Queue.offer(events, e)),
      Effect.forkScoped
    )
    const writer = yield* makeEvidenceWriter(base)
    yield* TestClock.setTime(AT)
    yield* emitDeckyMutated(mutation).pipe(
      Effect.provideService(EvidenceWriter, writer),
      Effect.provideService(Bus, bus)
    )
    return yield* Queue.take(events)
  })

describe("decky_mutated", () => {
  it.scoped("writes the spec's exact line and JSON record, then publishes decky.<name>.mutation", () =>
    Effect.gen(function* () {
      const base = join(dir, "a", "decnet.log")
      const event = yield* emitTo(base, {
        decky: "web01",
        old_services: ["ssh", "http"],
        new_services: ["rdp"],
        trigger: "operator",
        actor: "alice"
      })
      const line =
        '<134>1 2026-04-21T12:00:00.123000+00:00 web01 mutator - decky_mutated [relay@55555 decky="web01" ' +
        'old_services="ssh,http" new_services="rdp" trigger="operator" actor="alice"]'
      expect(readFileSync(base, "utf8")).toBe(`${line}\n`)

      const decoded = Schema.decodeUnknownSync(HoneypotEventLine)(line)
      expect(decoded).toEqual({
        timestamp: new Date(AT),
        decky: "web01",
        service: "mutator",
        event_type: "decky_mutated",
        attacker_ip: "Unknown",
        attacker_port: null,
        fields: {
          decky: "web01",
          old_services: "ssh,http",
          new_services: "rdp",
          trigger: "operator",
          actor: "alice"
        },
        msg: "",
        severity: 6
      })
      const json = readFileSync(join(dir, "a", "decnet.json"), "utf8").trim()
      const record = Schema.decodeUnknownSync(EvidenceRecordJson)(json)
      expect(record).toEqual({ ...decoded, raw_line: line })

      expect(event.topic).toBe("decky.web01.mutation")
      expect(event.type).toBe("mutation")
      expect(event.payload).toEqual({
        decky: "web01",
        old_services: ["ssh", "http"],
        new_services: ["rdp"],
        trigger: "operator",
        actor: "alice"
      })
    })
  )

  it.scoped('creation has old_services="", retirement new_services=""; no actor param when none is set', () =>
    Effect.gen(function* () {
      const base = join(dir, "b", "decnet.log")
      const created = yield* emitTo(base, {
        decky: "db01",
        old_services: [],
        new_services: ["mysql"],
        trigger: "creation"
      })
      const retired = yield* emitTo(base, {
        decky: "db01",
        old_services: ["mysql"],
        new_services: [],
        trigger: "retirement",
        actor: ""
      })
      const lines = readFileSync(base, "utf8").trimEnd().split("\n")
      expect(lines).toEqual([
        '<134>1 2026-04-21T12:00:00.123000+00:00 db01 mutator - decky_mutated [relay@55555 decky="db01" old_services="" new_services="mysql" trigger="creation"]',
        '<134>1 2026-04-21T12:00:00.123000+00:00 db01 mutator - decky_mutated [relay@55555 decky="db01" old_services="mysql" new_services="" trigger="retirement"]'
      ])
      for (const line of lines)
        expect(Schema.decodeUnknownSync(HoneypotEventLine)(line).fields.actor).toBeUndefined()
      expect(created.payload).toEqual({
        decky: "db01",
        old_services: [],
        new_services: ["mysql"],
        trigger: "creation"
      })
      expect(retired.payload).toEqual({
        decky: "db01",
        old_services: ["mysql"],
        new_services: [],
        trigger: "retirement"
      })
    })
  )

  it.scoped('SD values are escaped (\\, " and ])', () =>
    Effect.gen(function* () {
      const base = join(dir, "c", "decnet.log")
      yield* emitTo(base, {
        decky: "web01",
        old_services: ["ssh"],
        new_services: ["http"],
        trigger: "operator",
        actor: 'a"b]c\\d'
      })
      const line = readFileSync(base, "utf8").trimEnd()
      expect(line.endsWith('actor="a\\"b\\]c\\\\d"]')).toBe(true)
      expect(Schema.decodeUnknownSync(HoneypotEventLine)(line).fields.actor).toBe('a"b]c\\d')
    })
  )

  it.scoped("an unwritable log still publishes on the bus", () =>
    Effect.gen(function* () {
      // The log's parent is a regular file: the directory cannot be created.
      const blocker = join(dir, "not-a-dir")
      writeFileSync(blocker, "")
      const event = yield* emitTo(join(blocker, "decnet.log"), {
        decky: "web01",
        old_services: ["ssh"],
        new_services: ["ftp"],
        trigger: "scheduled"
      })
      expect(event.topic).toBe("decky.web01.mutation")
      expect(event.payload.trigger).toBe("scheduled")
    })
  )

  it.scoped("with the null bus the line is still written", () =>
    Effect.gen(function* () {
      const base = join(dir, "d", "decnet.log")
      const writer = yield* makeEvidenceWriter(base)
      yield* emitDeckyMutated({
        decky: "web01",
        old_services: [],
        new_services: ["ssh"],
        trigger: "creation"
      }).pipe(Effect.provideService(EvidenceWriter, writer), Effect.provideService(Bus, nullBus))
      expect(readFileSync(base, "utf8")).toContain('decky_mutated [relay@55555 decky="web01" old_services=""')
    })
  )
})
