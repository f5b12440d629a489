/**
 * OpenTelemetry tracing, off by default. When off nothing OTEL is even imported (the SDK is loaded by
 * dynamic import inside the layer), so the native Effect tracer stays and spans cost what Effect's do.
 * When on, spans go over OTLP/HTTP (protobuf-free JSON over HTTP, port 4318) — see docs/configuration.md.
 */
import { Data, Effect, Layer } from "effect"
import type { SpanExporter } from "@opentelemetry/sdk-trace-base"
import { DecnetConfig } from "../config/DecnetConfig.js"

export { DEFAULT_OTEL_ENDPOINT } from "../config/DecnetConfig.js"

export const SERVICE_NAME = "decnet"
export const SERVICE_VERSION = "0.2.0"

export class TracingError extends Data.TaggedError("TracingError")<{ readonly reason: string }> {
  override get message(): string {
    return `tracing: ${this.reason}`
  }
}

/** OTLP/HTTP wants the signal path; accept either the collector base URL or the full traces URL. */
export const tracesUrl = (endpoint: string): string => {
  const base = endpoint.trim().replace(/\/+$/, "")
  return base.endsWith("/v1/traces") ? base : `${base}/v1/traces`
}

const loadSdk = Effect.tryPromise({
  try: () =>
    Promise.all([
      import("@effect/opentelemetry/NodeSdk"),
      import("@opentelemetry/sdk-trace-base"),
      import("@opentelemetry/exporter-trace-otlp-http")
    ]),
  catch: (e) => new TracingError({ reason: `cannot load the OpenTelemetry SDK: ${String(e)}` })
})

const resource = { serviceName: SERVICE_NAME, serviceVersion: SERVICE_VERSION } as const

/** Export every span to `exporter` synchronously (tests: InMemorySpanExporter). */
export const TracingTest = (exporter: SpanExporter): Layer.Layer<never, TracingError> =>
  Layer.unwrapEffect(
    Effect.map(loadSdk, ([NodeSdk, base]) =>
      NodeSdk.layer(() => ({ resource, spanProcessor: new base.SimpleSpanProcessor(exporter) }))
    )
  )

/** OTLP/HTTP batch exporter to `endpoint`. */
export const TracingOtlp = (endpoint: string): Layer.Layer<never, TracingError> =>
  Layer.unwrapEffect(
    Effect.map(loadSdk, ([NodeSdk, base, otlp]) =>
      NodeSdk.layer(() => ({
        resource,
        spanProcessor: new base.BatchSpanProcessor(new otlp.OTLPTraceExporter({ url: tracesUrl(endpoint) })),
        shutdownTimeout: "3 seconds"
      }))
    )
  )

/** On when DecnetConfig's `developerTracing` is (DECNET_DEVELOPER_TRACING), else `Layer.empty`. */
export const TracingLive: Layer.Layer<never, TracingError, DecnetConfig> = Layer.unwrapEffect(
  Effect.map(DecnetConfig, ({ developerTracing, otelEndpoint }) =>
    developerTracing ? TracingOtlp(otelEndpoint) : Layer.empty
  )
)
