/** Tracing: OpenTelemetry export when DECNET_DEVELOPER_TRACING=true, the native no-export tracer otherwise. */
export * from "./Tracing.js"
