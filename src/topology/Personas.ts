/**
 * A topology's email personas (spec/topology.md §1 `email_personas`, §10 `GET/PUT /{id}/personas`; the
 * global pool's rules in spec/api.md §7.11): the people whose mail the realism engine writes inside this
 * topology. A persona needs a name, an address, a role, a tone and its mannerisms; other keys ride along.
 * An update keeps the valid entries and drops the rest; one with entries but none valid is refused.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Either, Schema } from "effect"
import { TopologyRejected } from "./Errors.js"

const Text = Schema.String.pipe(Schema.minLength(1))

export const EmailPersona = Schema.Struct(
  {
    name: Text,
    email: Schema.String.pipe(Schema.pattern(/^[^@\s]+@[^@\s]+$/)),
    role: Text,
    tone: Text,
    mannerisms: Schema.Array(Schema.String)
  },
  Schema.Record({ key: Schema.String, value: Schema.Unknown })
).annotations({ identifier: "EmailPersona" })
export type EmailPersona = typeof EmailPersona.Type

/** `GET /topologies/{id}/personas` and the answer of its PUT. */
export const TopologyPersonas = Schema.Struct({
  topology_id: Schema.String,
  topology_name: Schema.String,
  language_default: Schema.String,
  personas: Schema.Array(EmailPersona)
}).annotations({ identifier: "TopologyPersonas" })
export type TopologyPersonas = typeof TopologyPersonas.Type

const decodePersona = Schema.decodeUnknownEither(EmailPersona)
const decodeColumn = Schema.decodeUnknownEither(Schema.parseJson(Schema.Array(Schema.Unknown)))

/** The valid personas among `entries`, in order. */
export const validPersonas = (entries: ReadonlyArray<unknown>): ReadonlyArray<EmailPersona> =>
  entries.flatMap((entry) => Either.match(decodePersona(entry), { onLeft: () => [], onRight: (p) => [p] }))

/** The personas stored in the column (what does not parse, or is not a persona, is left out). */
export const personasOf = (column: string): ReadonlyArray<EmailPersona> =>
  Either.match(decodeColumn(column), { onLeft: () => [], onRight: validPersonas })

/**
 * What a PUT body's `personas` becomes: a list is filtered to its valid personas (an empty list clears
 * them), anything else is refused, and so is a non-empty list without one valid persona.
 */
export const personasFromBody = (
  personas: unknown
): Either.Either<ReadonlyArray<EmailPersona>, TopologyRejected> => {
  if (!Array.isArray(personas))
    return Either.left(new TopologyRejected({ message: "body.personas must be a list" }))
  const valid = validPersonas(personas)
  if (personas.length > 0 && valid.length === 0)
    return Either.left(
      new TopologyRejected({
        message:
          "no valid persona in body.personas: each needs name, email, role, tone and mannerisms (a list of strings)"
      })
    )
  return Either.right(valid)
}

/** Replaces the topology's personas; false when there is no such topology. */
export const setEmailPersonas = (topologyId: string, personas: ReadonlyArray<EmailPersona>) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql`SELECT id FROM topologies WHERE id = ${topologyId}`.pipe(Effect.orDie)
    if (rows.length === 0) return false
    yield* sql`UPDATE topologies SET email_personas = ${JSON.stringify(personas)} WHERE id = ${topologyId}`.pipe(
      Effect.orDie
    )
    return true
  }).pipe(Effect.withSpan("Topology.setEmailPersonas"))
