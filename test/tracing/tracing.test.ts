import { describe, expect, it } from "@effect/vitest"
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base"
import { Effect, Layer } from "effect"
import { DecnetConfig } from "../../src/config/DecnetConfig.js"
import { TracingLive, TracingTest, tracesUrl } from "../../src/tracing/index.js"

const withEnv = (env: Record<string, string>) => DecnetConfig.fromMap(env)

const nested = Effect.gen(function* () {
  yield* Effect.void.pipe(Effect.withSpan("Child.work", { attributes: { step: 1 } }))
}).pipe(Effect.withSpan("Parent.work"))

describe("tracing", () => {
  it.effect("TracingTest exports nested spans with parent links and the decnet resource", () => {
    const exporter = new InMemorySpanExporter()
    // Checked inside the layer's scope: shutting the provider down empties the in-memory exporter.
    return nested.pipe(
      Effect.tap(() => {
        const spans = exporter.getFinishedSpans()
        const parent = spans.find((s) => s.name === "Parent.work")
        const child = spans.find((s) => s.name === "Child.work")
        expect(parent).toBeDefined()
        expect(child).toBeDefined()
        expect(child?.parentSpanContext?.spanId).toBe(parent?.spanContext().spanId)
        expect(child?.spanContext().traceId).toBe(parent?.spanContext().traceId)
        expect(child?.attributes.step).toBe(1)
        expect(parent?.resource.attributes["service.name"]).toBe("decnet")
        expect(parent?.resource.attributes["service.version"]).toBe("0.2.0")
      }),
      Effect.provide(TracingTest(exporter))
    )
  })

  it.effect("TracingLive off: the native tracer stays, nothing is installed", () =>
    Effect.gen(function* () {
      const native = yield* Effect.tracer
      const underLive = yield* Effect.tracer.pipe(
        Effect.provide(TracingLive.pipe(Layer.provide(withEnv({}))))
      )
      expect(underLive).toBe(native)
      for (const off of ["false", "0", "No", " off ", ""]) {
        const explicitOff = yield* Effect.tracer.pipe(
          Effect.provide(TracingLive.pipe(Layer.provide(withEnv({ DECNET_DEVELOPER_TRACING: off }))))
        )
        expect(explicitOff).toBe(native)
      }
    })
  )

  it.effect("TracingLive on: an OTEL tracer replaces the native one", () =>
    Effect.gen(function* () {
      const native = yield* Effect.tracer
      // Loopback discard port: nothing listens, the batch exporter's failures are swallowed.
      const live = yield* Effect.tracer.pipe(
        Effect.provide(
          TracingLive.pipe(
            Layer.provide(
              withEnv({ DECNET_DEVELOPER_TRACING: "TRUE", DECNET_OTEL_ENDPOINT: "http://127.0.0.1:9" })
            )
          )
        )
      )
      expect(live).not.toBe(native)
    })
  )

  it("the module has no runtime (static) import of any OpenTelemetry package", async () => {
    const { readFile } = await import("node:fs/promises")
    const source = await readFile(new URL("../../src/tracing/Tracing.ts", import.meta.url), "utf8")
    const staticImports = source.split("\n").filter((l) => /^import\s(?!type\s)/.test(l))
    expect(staticImports.length).toBeGreaterThan(0)
    for (const line of staticImports) expect(line).not.toMatch(/opentelemetry/)
  })

  it("tracesUrl appends the OTLP/HTTP signal path once", () => {
    expect(tracesUrl("http://localhost:4318")).toBe("http://localhost:4318/v1/traces")
    expect(tracesUrl("http://localhost:4318/")).toBe("http://localhost:4318/v1/traces")
    expect(tracesUrl("http://c:4318/v1/traces")).toBe("http://c:4318/v1/traces")
  })
})
