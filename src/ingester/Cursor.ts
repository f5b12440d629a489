/**
 * Where the ingester stands in the `.json` evidence file: `state["ingest_worker_position"]` (spec
 * logging-and-config §5.4). The byte offset is written in the same transaction as the rows it covers,
 * so after a kill -9 the database holds either a batch and its position or neither. The file's inode goes
 * with it: a new inode at the path (rotation) or a file shorter than the position (truncation) restarts
 * at 0. Not the size seen at the commit: the collector cuts an unterminated last line at start-up, which
 * shrinks the file below that size but never below a position, since only complete lines are consumed.
 */
import { Schema } from "effect"

export const INGEST_STATE_KEY = "ingest_worker_position"

const NonNegativeInt = Schema.Int.pipe(Schema.nonNegative())

export const IngestCursor = Schema.Struct({
  /** Bytes of the file consumed: every complete line before it is in the database (or was skipped). */
  position: NonNegativeInt,
  /** The file's inode when the position was written; null for the original's `{position}` value. */
  inode: Schema.optionalWith(Schema.NullOr(NonNegativeInt), { default: () => null })
}).annotations({ identifier: "IngestCursor" })
export type IngestCursor = typeof IngestCursor.Type

export const START: IngestCursor = { position: 0, inode: null }

/** The same place in the same file. */
export const samePlace = (a: IngestCursor, b: IngestCursor): boolean =>
  a.position === b.position && a.inode === b.inode

/**
 * What to do with a stored cursor against the file now at the path: keep it, or start over at 0 because
 * the file is another one (a new inode) or shorter than when the cursor was written (truncated).
 */
export const reconcile = (
  cursor: IngestCursor,
  file: { readonly inode: number | null; readonly size: number }
): { readonly cursor: IngestCursor; readonly reset: "rotated" | "truncated" | undefined } => {
  if (cursor.inode !== null && file.inode !== null && cursor.inode !== file.inode)
    return { cursor: { position: 0, inode: file.inode }, reset: "rotated" }
  if (file.size < cursor.position) return { cursor: { position: 0, inode: file.inode }, reset: "truncated" }
  return { cursor: { ...cursor, inode: file.inode ?? cursor.inode }, reset: undefined }
}
