/**
 * The memory one smtp instance may hold for DATA bodies being received, over all its connections
 * (config `data_buffer_mb`). Without it, 32 parallel DATA transfers of `max_body_bytes` each took a
 * decky process past 1 GB. A body is counted line by line while it arrives and given back once it is
 * stored or dropped; a body that would pass the budget is dropped at once and refused after its final
 * `.` with Postfix's `452 4.3.1 Insufficient system storage`, so the client may retry later.
 */
import { Context, type Effect } from "effect"

export interface DataBudget {
  readonly limit: number
  /** Body bytes held now, over every connection of the instance. */
  readonly held: () => number
  /** The most ever held at once. */
  readonly peak: () => number
  /** Bodies refused so far because they would not fit. */
  readonly refused: () => number
  /** Hold `n` more bytes, or false (and nothing held) when they would pass the limit. */
  readonly take: (n: number) => boolean
  readonly give: (n: number) => void
  /** Count one refused body. */
  readonly refuse: () => void
}

export const makeDataBudget = (limit: number): DataBudget => {
  let held = 0
  let peak = 0
  let refused = 0
  return {
    limit,
    held: () => held,
    peak: () => peak,
    refused: () => refused,
    take: (n) => {
      if (held + n > limit) return false
      held += n
      if (held > peak) peak = held
      return true
    },
    give: (n) => {
      held = Math.max(0, held - n)
    },
    refuse: () => {
      refused++
    }
  }
}

/** One DATA body as it arrives: a prefix of at most `maxBytes`, held against the instance budget. */
export interface Body {
  /** Add one dot-unstuffed line (with its CRLF). */
  readonly append: (line: Buffer) => void
  /** Bytes received so far (kept or not). */
  readonly received: () => number
  /** More than `maxBytes` arrived; only the first `maxBytes` are kept. */
  readonly truncated: () => boolean
  /** The budget could not hold it: nothing is kept. */
  readonly refused: () => boolean
  readonly content: () => Buffer
  /** Give every held byte back to the budget (idempotent). */
  readonly release: () => void
}

export const makeBody = (budget: DataBudget, maxBytes: number): Body => {
  let chunks: Array<Buffer> = []
  let kept = 0
  let held = 0
  let received = 0
  let truncated = false
  let refused = false
  const release = () => {
    budget.give(held)
    held = 0
  }
  return {
    append: (line) => {
      received += line.length
      if (refused || truncated) return
      if (kept + line.length > maxBytes) {
        truncated = true
        return
      }
      if (!budget.take(line.length)) {
        refused = true
        budget.refuse()
        chunks = []
        kept = 0
        release()
        return
      }
      chunks.push(line)
      kept += line.length
      held += line.length
    },
    received: () => received,
    truncated: () => truncated,
    refused: () => refused,
    content: () => Buffer.concat(chunks, kept),
    release
  }
}

/**
 * A seam for tests: when provided, each smtp/smtp_relay instance hands over its budget as it starts
 * (production never provides it, and the module needs nothing more).
 */
export class DataBudgetProbe extends Context.Tag("decnet/honeypots/smtp/DataBudgetProbe")<
  DataBudgetProbe,
  { readonly started: (service: string, budget: DataBudget) => Effect.Effect<void> }
>() {}
