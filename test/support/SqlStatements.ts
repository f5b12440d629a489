/**
 * A tracer that records what @effect/sql sends: each `sql.execute` span's query text (one statement, one
 * round trip) and each `sql.transaction` span (its BEGIN and COMMIT are not statements). For tests that
 * pin how many statements an operation costs, and for benchmarks, whose counts are the same on a busy
 * machine where milliseconds are not. Use with `Effect.withTracer(effect, recorder.tracer)`.
 */
import { randomUUID } from "node:crypto"
import { type Context, type Exit, Option, Tracer } from "effect"

const QUERY_TEXT = "db.query.text"

export interface SqlRecorder {
  readonly tracer: Tracer.Tracer
  /** Every statement's text, in the order sent. */
  readonly statements: Array<string>
  /** How many transactions were opened (savepoints included). */
  readonly transactions: () => number
}

class RecordedSpan implements Tracer.Span {
  readonly _tag = "Span"
  readonly spanId = randomUUID()
  readonly traceId: string
  readonly sampled = false
  readonly attributes = new Map<string, unknown>()
  readonly links: Array<Tracer.SpanLink> = []
  status: Tracer.SpanStatus
  constructor(
    readonly name: string,
    readonly parent: Option.Option<Tracer.AnySpan>,
    readonly context: Context.Context<never>,
    readonly kind: Tracer.SpanKind,
    startTime: bigint,
    private readonly onQuery: (text: string) => void
  ) {
    this.traceId = Option.match(parent, { onNone: () => randomUUID(), onSome: (p) => p.traceId })
    this.status = { _tag: "Started", startTime }
  }
  end(endTime: bigint, exit: Exit.Exit<unknown, unknown>) {
    if (this.status._tag === "Started")
      this.status = { _tag: "Ended", startTime: this.status.startTime, endTime, exit }
  }
  attribute(key: string, value: unknown) {
    this.attributes.set(key, value)
    if (this.name === "sql.execute" && key === QUERY_TEXT && typeof value === "string") this.onQuery(value)
  }
  event() {}
  addLinks(links: ReadonlyArray<Tracer.SpanLink>) {
    this.links.push(...links)
  }
}

export const makeSqlRecorder = (): SqlRecorder => {
  const statements: Array<string> = []
  let transactions = 0
  const tracer = Tracer.make({
    span: (name, parent, context, _links, startTime, kind) => {
      if (name === "sql.transaction") transactions++
      return new RecordedSpan(name, parent, context, kind, startTime, (text) => statements.push(text))
    },
    context: (f) => f()
  })
  return { tracer, statements, transactions: () => transactions }
}
