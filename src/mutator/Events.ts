/**
 * `decky_mutated` (spec/topology.md §9): every change of a decky's service set, written twice. The RFC 5424
 * line goes to the evidence files (`.log` + `.json`), so the ingester stores it beside the attackers' events
 * and the correlator can place "the substrate changed here" in a traversal; then `decky.<name>.mutation`
 * tells live consumers. The file is the durable half, the bus the hint: either may fail without the other.
 */
import { Clock, Effect, Either, Schema } from "effect"
import type { Bus } from "../bus/Bus.js"
import { publishSafely } from "../bus/Helpers.js"
import { decky as deckyTopic } from "../bus/Topics.js"
import type { EvidenceRecord } from "../collector/Record.js"
import { EvidenceWriter } from "../collector/Writer.js"
import { encodeEventLine, HoneypotEvent } from "../logging/HoneypotEvent.js"
import { Severity, UNKNOWN_IP } from "../logging/Rfc5424.js"

/** Why a decky's services changed. behavioral, healer and federation are reserved for later workers. */
export const MutationTrigger = Schema.Literal(
  "creation",
  "retirement",
  "scheduled",
  "operator",
  "behavioral",
  "healer",
  "federation"
)
export type MutationTrigger = typeof MutationTrigger.Type

/**
 * One mutation: the `decky.<name>.mutation` payload, and what `emitDeckyMutated` is given. Creation has
 * `old_services: []`, retirement `new_services: []`, so a decky's lifecycle folds into one sequence.
 */
export const DeckyMutation = Schema.Struct({
  decky: Schema.String,
  old_services: Schema.Array(Schema.String),
  new_services: Schema.Array(Schema.String),
  trigger: MutationTrigger,
  /** Who asked (an operator's user name); omitted when nobody did. */
  actor: Schema.optional(Schema.String)
}).annotations({ identifier: "DeckyMutation" })
export type DeckyMutation = typeof DeckyMutation.Type

export const MUTATOR_SERVICE = "mutator"
export const DECKY_MUTATED = "decky_mutated"
/** The bus event type of `decky.<name>.mutation`. */
export const MUTATION_EVENT_TYPE = "mutation"

/**
 * The event: APP-NAME `mutator`, HOSTNAME the decky, MSGID `decky_mutated`, no peer, no MSG, and the params
 * decky, old_services, new_services (comma-joined), trigger, then actor only when set (spec §9).
 */
export const deckyMutatedEvent = (mutation: DeckyMutation, at: Date): HoneypotEvent => {
  const fields: Record<string, string> = {
    decky: mutation.decky,
    old_services: mutation.old_services.join(","),
    new_services: mutation.new_services.join(","),
    trigger: mutation.trigger
  }
  if (mutation.actor !== undefined && mutation.actor !== "") fields.actor = mutation.actor
  return {
    timestamp: at,
    decky: mutation.decky,
    service: MUTATOR_SERVICE,
    event_type: DECKY_MUTATED,
    attacker_ip: UNKNOWN_IP,
    attacker_port: null,
    fields,
    msg: "",
    severity: Severity.info
  }
}

const validateEvent = Schema.validateEither(HoneypotEvent)

/** The bus payload: the mutation as given, `actor` only when set. */
const payloadOf = (m: DeckyMutation) => ({
  decky: m.decky,
  old_services: [...m.old_services],
  new_services: [...m.new_services],
  trigger: m.trigger,
  ...(m.actor !== undefined && m.actor !== "" ? { actor: m.actor } : {})
})

/**
 * Write the line and its record, then publish. Never fails: a write error is logged and the publish still
 * happens (the spec's rule), a bus error is logged by `publishSafely`.
 */
export const emitDeckyMutated = (mutation: DeckyMutation): Effect.Effect<void, never, EvidenceWriter | Bus> =>
  Effect.gen(function* () {
    const at = new Date(yield* Clock.currentTimeMillis)
    const event = validateEvent(deckyMutatedEvent(mutation, at))
    if (Either.isLeft(event)) {
      yield* Effect.logWarning(
        `decky_mutated for ${JSON.stringify(mutation.decky)} is not a valid event; not written`
      )
    } else {
      const raw = encodeEventLine(event.right)
      const record: EvidenceRecord = { ...event.right, raw_line: raw }
      const writer = yield* EvidenceWriter
      yield* writer
        .write(raw, record)
        .pipe(
          Effect.catchAll((e) =>
            Effect.logWarning(
              `decky_mutated for ${mutation.decky} not written to the evidence log: ${e.message}`
            )
          )
        )
    }
    const topic = deckyTopic(mutation.decky, "mutation")
    if (Either.isLeft(topic)) {
      yield* Effect.logWarning(
        `no mutation topic for decky ${JSON.stringify(mutation.decky)}: ${topic.left.message}`
      )
      return
    }
    yield* publishSafely(topic.right, payloadOf(mutation), MUTATION_EVENT_TYPE)
  }).pipe(
    Effect.withSpan("Mutator.emitDeckyMutated", {
      attributes: { decky: mutation.decky, trigger: mutation.trigger }
    })
  )
