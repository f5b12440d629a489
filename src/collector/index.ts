/**
 * The collector context (docs/pipeline.md "Collector"): the core, the in-process event sink, the Docker
 * source, resume positions, the evidence record and writer. `./Main.js` (the `decnet collect` process,
 * which loads dockerode) is imported on its own.
 */
export * from "./Collector.js"
export * from "./Cursor.js"
export * from "./DockerSource.js"
export * from "./InProcessSink.js"
export * from "./Record.js"
export * from "./Sessions.js"
export * from "./Writer.js"
