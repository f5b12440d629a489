import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Layer } from "effect"
import { DecnetConfig } from "../../src/config/DecnetConfig.js"
import { DecnetLogger, parseEventLine } from "../../src/logging/index.js"

const capture = (env: Record<string, string>) => {
  const lines: Array<string> = []
  const layer = DecnetLogger.layer("api", (l) => lines.push(l)).pipe(Layer.provide(DecnetConfig.fromMap(env)))
  return { lines, layer }
}

const HEADER = /^<(\d+)>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00) (\S+) api (\d+) decnet\.api - (.*)$/s

describe("DecnetLogger", () => {
  it.effect("writes §1.2 lines with severity mapping; DEBUG dropped outside developer mode", () => {
    const { lines, layer } = capture({})
    return Effect.gen(function* () {
      yield* Effect.logDebug("hidden")
      yield* Effect.logInfo("started")
      yield* Effect.logWarning("careful")
      yield* Effect.logError("broken")
      yield* Effect.logFatal("dead")
    }).pipe(
      Effect.provide(layer),
      Effect.tap(() => {
        expect(lines).toHaveLength(4)
        const parsed = lines.map((l) => HEADER.exec(l))
        expect(parsed.map((m) => m?.[1])).toEqual(["134", "132", "131", "130"])
        expect(parsed.map((m) => m?.[5])).toEqual(["started", "careful", "broken", "dead"])
        expect(parsed[0]?.[4]).toBe(String(process.pid))
        // The collector's parser accepts these lines too.
        expect(parseEventLine(lines[0] ?? "")?.service).toBe("api")
      })
    )
  })

  it.effect("developer mode lets DEBUG through as <135>", () => {
    const { lines, layer } = capture({ DECNET_DEVELOPER: "True" })
    return Effect.logDebug("visible").pipe(
      Effect.provide(layer),
      Effect.tap(() => {
        expect(lines).toHaveLength(1)
        expect(lines[0]).toMatch(/^<135>1 .* decnet\.api - visible$/)
      })
    )
  })

  it.effect("annotations follow the message; a cause follows after a newline", () => {
    const { lines, layer } = capture({})
    return Effect.logError("request failed", Cause.fail(new Error("boom"))).pipe(
      Effect.annotateLogs({ requestId: "r-1" }),
      Effect.provide(layer),
      Effect.tap(() => {
        expect(lines).toHaveLength(1)
        const line = lines[0] ?? ""
        const m = HEADER.exec(line)
        expect(m?.[5]).toContain("request failed")
        expect(m?.[5]).toContain("requestId=r-1")
        expect(line).toContain("\nError: boom")
      })
    )
  })

  it.effect("DECNET_DEVELOPER follows the one boolean convention", () =>
    Effect.gen(function* () {
      for (const [value, debug] of [
        ["yes", true],
        ["1", true],
        [" ON ", true],
        ["no", false],
        ["", false]
      ] as const) {
        const { lines, layer } = capture({ DECNET_DEVELOPER: value })
        yield* Effect.logDebug("probe").pipe(Effect.provide(layer))
        expect(lines.length, `DECNET_DEVELOPER=${JSON.stringify(value)}`).toBe(debug ? 1 : 0)
      }
      const bad = yield* Effect.flip(
        Layer.build(capture({ DECNET_DEVELOPER: "verbose" }).layer).pipe(Effect.scoped)
      )
      expect(String(bad)).toContain("DECNET_DEVELOPER: expected a boolean")
    })
  )

  it.effect("named renames the component under an installed logger, without reading any settings", () => {
    const { lines, layer } = capture({})
    return Effect.logInfo("from the broker").pipe(
      Effect.provide(DecnetLogger.named("bus")),
      Effect.zipRight(Effect.logInfo("from the root")),
      Effect.provide(layer),
      Effect.tap(() => {
        expect(lines).toHaveLength(2)
        expect(lines[0]).toMatch(/^<134>1 \S+ \S+ bus \d+ decnet\.bus - from the broker$/)
        expect(lines[1]).toMatch(/^<134>1 \S+ \S+ api \d+ decnet\.api - from the root$/)
      })
    )
  })
})
