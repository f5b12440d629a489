/**
 * Typed honeypot events. Each service declares its events next to its module with `defineEvents`: one
 * tagged union, the tag being the event type (MSGID) and each field a Schema that encodes to the text
 * of its SD param. The runtime hands every connection an `Emitter` that already knows the decky, the
 * service and the peer, so an emulator writes only what the event is about; the result is one
 * HoneypotEvent (logging/HoneypotEvent.ts) handed to the `EventSink`.
 */
import { Either, Option, ParseResult, Schema, SchemaAST } from "effect"
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

/**
 * Every Sd codec also carries, as an annotation, a direct renderer of its encode: the value's SD text,
 * or undefined when the value is one its Schema refuses (the Schema then says why). Emitting is on
 * every connection's path, and a Schema encode costs several times a render; a test holds each
 * renderer to its Schema's encode.
 */
export const RenderSd = Symbol.for("decnet/honeypots/RenderSd")
export type RenderSd = (value: unknown) => string | undefined

const rendered = <S extends Schema.Annotable.All>(schema: S, render: RenderSd): S =>
  schema.annotations({ [RenderSd]: render })

/**
 * JSON text. Only a plain inner Schema gets the shortcut (one that transforms, dates or numbers as
 * text, encodes before stringifying). The shortcut keeps an own `__proto__` key an attacker sent,
 * which a Schema encode would drop.
 */
const Json = <A, I>(schema: Schema.Schema<A, I>) => {
  const codec = Schema.parseJson(schema)
  if (SchemaAST.typeAST(schema.ast) !== schema.ast) return codec
  const valid = Schema.is(schema)
  return rendered(codec, (v) => (valid(v) ? JSON.stringify(v) : undefined))
}

export const Sd = {
  Text: rendered(Schema.String, (v) => (typeof v === "string" ? v : undefined)),
  NullableText: rendered(NullableText, (v) => (v === null ? "" : typeof v === "string" ? v : undefined)),
  Int: rendered(Schema.compose(Schema.NumberFromString, Schema.Int), (v) =>
    typeof v === "number" && Number.isSafeInteger(v) ? String(v) : undefined
  ),
  Number: rendered(Schema.compose(Schema.NumberFromString, Schema.Finite), (v) =>
    typeof v === "number" && Number.isFinite(v) ? String(v) : undefined
  ),
  Bool: rendered(Bool, (v) => (v === true ? "true" : v === false ? "false" : undefined)),
  /** A list or object as compact JSON text. */
  Json,
  Literal: <const L extends ReadonlyArray<string>>(...literals: L) =>
    rendered(Schema.Literal(...literals), (v) =>
      typeof v === "string" && literals.includes(v) ? v : undefined
    ),
  optional: <A>(schema: Schema.Schema<A, string>) => Schema.optional(schema),
  /** A codec of a service's own, with its direct renderer (it must render what the Schema encodes). */
  custom: rendered
} as const

/** The renderer of one event field (through `Schema.optional`), if its codec has one. */
const renderOf = (field: unknown): { readonly render: RenderSd; readonly optional: boolean } | undefined => {
  const optional = Schema.isPropertySignature(field)
  const schema = Schema.isSchema(field)
    ? field
    : optional && typeof field === "object" && field !== null && "from" in field
      ? field.from
      : undefined
  if (!Schema.isSchema(schema)) return undefined
  const render = SchemaAST.getAnnotation<RenderSd>(schema.ast, RenderSd)
  return Option.isSome(render) ? { render: render.value, optional } : undefined
}

/**
 * A direct encoder of one event type, when every field has a renderer: the same text as the Schema's
 * encode, in the same (declaration) order, or undefined for a value to refuse (the caller then asks
 * the Schema, which says why).
 */
const fastEncoder = (fields: EventFieldSchemas): ((event: object) => EventFields | undefined) | undefined => {
  const plan: Array<readonly [string, RenderSd, boolean]> = []
  for (const [name, field] of Object.entries(fields)) {
    const r = renderOf(field)
    if (r === undefined) return undefined
    plan.push([name, r.render, r.optional])
  }
  return (event) => {
    const out: Record<string, string> = {}
    for (const [name, render, optional] of plan) {
      const value: unknown = Reflect.get(event, name)
      if (value === undefined) {
        if (optional) continue
        return undefined
      }
      const text = render(value)
      if (text === undefined) return undefined
      out[name] = text
    }
    return out
  }
}

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
  /** The types whose fields all have direct renderers (the rest encode through their Schema). */
  readonly directTypes: ReadonlyArray<string>
  /** Event → its SD fields (the peer is not among them). A value its Schema refuses is a bug. */
  readonly encode: (event: E) => Either.Either<EventFields, ParseResult.ParseError>
  /** A logged event back to its type: for the ingester, bounty extraction and tests. */
  readonly decode: (eventType: string, fields: EventFields) => Either.Either<E, ParseResult.ParseError>
}

/** The event union of a service's definitions: `EventsOf<typeof redisEvents>`. */
export type EventsOf<S> = S extends ServiceEvents<infer E> ? E : never

interface Codec {
  readonly fast: ((event: object) => EventFields | undefined) | undefined
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
      fast: fastEncoder(fields),
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
    directTypes: [...codecs].filter(([, c]) => c.fast !== undefined).map(([t]) => t),
    encode: (event) => {
      const codec = codecs.get(event._tag)
      if (codec === undefined) return Either.left(unknownType(service, event._tag))
      const fast = codec.fast?.(event)
      return fast !== undefined ? Either.right(fast) : Either.map(codec.encode(event), sdFields)
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
