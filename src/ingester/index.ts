/**
 * The public surface of the ingester context (docs/pipeline.md "Ingester"): the worker, its one-shot
 * form for tests and benchmarks, its store, the bounty shapes and the pure extraction.
 */
export * from "./Bounty.js"
export { INGEST_STATE_KEY, IngestCursor, reconcile, samePlace } from "./Cursor.js"
export {
  classifyUserAgent,
  type Extraction,
  type Extractor,
  type ExtractorOptions,
  makeExtractor
} from "./Extract.js"
export {
  ERROR_BACKOFF,
  IDLE_POLL,
  INGESTER_WORKER,
  IngesterLive,
  type IngesterOptions,
  type IngestStats,
  ingesterOptions,
  ingestFileToEnd,
  MISSING_FILE_RETRY,
  ROTATE_GRACE_MS,
  runIngester
} from "./Ingester.js"
export { MAX_LINE_BYTES, splitLines } from "./Lines.js"
export { categorize, classifyProxyClaim, PROXY_HEADERS, trustedProxies } from "./ProxyHeaders.js"
export { decodeRecordLine, directRecord, logRow } from "./Rows.js"
export { type IngestBatch, type IngestCommitted, IngestCursorConflict, IngestStore } from "./Store.js"
