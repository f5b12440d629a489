/**
 * Typed honeypot events. Each service declares its events next to its module with `defineEvents`: one
 * tagged union, the tag being the event type (MSGID) and each field a Schema that encodes to the text
 * of its SD param. The runtime hands every connection an `Emitter` that already knows the decky, the
 * service and the peer, so an emulator writes only what the event is about; the result is one
 * HoneypotEvent (logging/HoneypotEvent.ts) handed to the `EventSink`.
 */
import { Either, ParseResult, Schema } from "effect"
import type { EventFields } from "../../logging/HoneypotEvent.js"
import { CLOSE_REASONS } from "./Connection.js"

// ---- field codecs ------------------------------------------------------------------------------------
// An event field is a Schema whose encoded side is the SD param's text. These match how lines have
// always rendered values: numbers in decimal, booleans `true`/`false`, lists and objects as compact JSON.

const Bool = Schema.transform(Schema.Literal("true", "false"), Schema.Boolean, {
  strict: true,
  decode: (s) => s === "true",
  encode: (b) => (b ? "true" : "false")
})

/** `null` travels as the empty string (the spec's clean spelling of Python's `None`). */
const NullableText = Schema.transform(Schema.String, Schema.NullOr(Schema.String), {
  strict: true,
  decode: (s) => (s === "" ? null : s),
  encode: (s) => s ?? ""
})

export const Sd = {
  Text: Schema.String,
  NullableText,
  Int: Schema.compose(Schema.NumberFromString, Schema.Int),
  Number: Schema.compose(Schema.NumberFromString, Schema.Finite),
  Bool,
  /** A list or object as compact JSON text. */
  Json: <A, I>(schema: Schema.Schema<A, I>) => Schema.parseJson(schema),
  Literal: <const L extends ReadonlyArray<string>>(...literals: L) => Schema.Literal(...literals),
  optional: <A>(schema: Schema.Schema<A, string>) => Schema.optional(schema)
} as const

// ---- event definitions ---------------------------------------------------------------------------------

/** The fields of one event type. */
export type EventFieldSchemas = Schema.Struct.Fields

type Defs = { readonly [eventType: string]: EventFieldSchemas }

/** The typed event union of a set of definitions: `{ _tag: "auth", username: string, … } | …`. */
export type EventOf<D extends Defs> = {
  [K in keyof D & string]: { readonly _tag: K } & Schema.Struct.Type<D[K]>
}[keyof D & string]

/** Every field must encode to text, what an SD param holds (use the `Sd` codecs), and need no context. */
type TextOnly<D extends Defs> = {
  readonly [K in keyof D]: Schema.Struct.Encoded<D[K]> extends { readonly [x: string]: string | undefined }
    ? [Schema.Struct.Context<D[K]>] extends [never]
      ? D[K]
      : never
    : never
}

/** What every service emits besides its own events (the runtime writes these). */
export const runtimeEventDefs = {
  /** The service bound its listeners (no peer). */
  startup: {},
  /**
   * Connections from one source refused by the per-IP or the global cap, counted over `window_s`
   * seconds (the first refusal of a quiet source is reported at once). Peer: the address; no port.
   */
  connection_refused: {
    limit: Sd.Literal("per_ip", "global"),
    count: Sd.Int,
    window_s: Sd.Int
  },
  /** The runtime cut a connection: the reason, and how long it had been open. */
  connection_closed: {
    reason: Sd.Literal(...CLOSE_REASONS),
    after_s: Sd.Int
  }
} as const satisfies Defs

export type RuntimeEventDefs = typeof runtimeEventDefs
export type RuntimeEvent = EventOf<RuntimeEventDefs>

/** Any event: a tag (the event type) and its fields. */
export interface TaggedEvent {
  readonly _tag: string
}

/** A service's event types and their codec. */
export interface ServiceEvents<E extends TaggedEvent> {
  /** The service slug (APP-NAME) these events are logged under. */
  readonly service: string
  /** Every event type the service can log: its own first, then the runtime's. */
  readonly types: ReadonlyArray<string>
  /** Event → its SD fields (the peer is not among them). A value its Schema refuses is a bug. */
  readonly encode: (event: E) => Either.Either<EventFields, ParseResult.ParseError>
  /** A logged event back to its type: for the ingester, bounty extraction and tests. */
  readonly decode: (eventType: string, fields: EventFields) => Either.Either<E, ParseResult.ParseError>
}

/** The event union of a service's definitions: `EventsOf<typeof redisEvents>`. */
export type EventsOf<S> = S extends ServiceEvents<infer E> ? E : never

interface Codec {
  readonly encode: (u: unknown) => Either.Either<unknown, ParseResult.ParseError>
  readonly decode: (u: unknown) => Either.Either<unknown, ParseResult.ParseError>
  readonly is: (u: unknown) => boolean
}

const runtimeTypes = Object.keys(runtimeEventDefs)

const unknownType = (service: string, eventType: string) =>
  new ParseResult.ParseError({
    issue: new ParseResult.Type(Schema.String.ast, eventType, `${service} has no event type ${eventType}`)
  })

/** The text fields of an encoded event (everything but its tag). */
const sdFields = (encoded: unknown): EventFields => {
  const fields: Record<string, string> = {}
  if (typeof encoded === "object" && encoded !== null)
    for (const [k, v] of Object.entries(encoded)) if (k !== "_tag" && typeof v === "string") fields[k] = v
  return fields
}

/**
 * Declare a service's events. Field order is the order of the SD params. The runtime's own events
 * (`startup`, `connection_refused`, `connection_closed`) are part of every service's union.
 */
export const defineEvents = <const D extends Defs>(
  service: string,
  defs: D & TextOnly<D>
): ServiceEvents<EventOf<D & RuntimeEventDefs>> => {
  type E = EventOf<D & RuntimeEventDefs>
  const all: Defs = { ...defs, ...runtimeEventDefs }
  const codecs = new Map<string, Codec>()
  for (const [tag, fields] of Object.entries(all)) {
    // TextOnly proved the fields context-free; `make` states that for the erased member.
    const member = Schema.make<unknown, unknown, never>(Schema.TaggedStruct(tag, fields).ast)
    codecs.set(tag, {
      encode: Schema.encodeUnknownEither(member),
      decode: Schema.decodeUnknownEither(member),
      is: Schema.is(member)
    })
  }
  // A real check (the tag's own Schema), so the narrowing below is earned, not asserted.
  const isEvent = (u: unknown): u is E => {
    if (typeof u !== "object" || u === null || !("_tag" in u) || typeof u._tag !== "string") return false
    return codecs.get(u._tag)?.is(u) ?? false
  }
  return {
    service,
    types: [...Object.keys(defs).filter((t) => !runtimeTypes.includes(t)), ...runtimeTypes],
    encode: (event) => {
      const codec = codecs.get(event._tag)
      return codec === undefined
        ? Either.left(unknownType(service, event._tag))
        : Either.map(codec.encode(event), sdFields)
    },
    decode: (eventType, fields) => {
      const codec = codecs.get(eventType)
      if (codec === undefined) return Either.left(unknownType(service, eventType))
      return Either.flatMap(codec.decode({ ...fields, _tag: eventType }), (e) =>
        isEvent(e) ? Either.right(e) : Either.left(unknownType(service, eventType))
      )
    }
  }
}
