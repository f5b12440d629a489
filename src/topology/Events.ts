/**
 * What MazeNET tells the bus (spec/topology.md §8 "Bus topics"): `topology.<id>.status` on every status
 * move and `topology.<id>.mutation.<state>` as the reconciler works the queue. Hints only, fire-and-forget:
 * without a `Bus` in the context nothing is sent, and a failed publish is logged, never raised, because the
 * database already holds what happened.
 */
import { Effect, Either, Option } from "effect"
import { Bus, type Payload } from "../bus/Bus.js"
import { publishSafelyOn } from "../bus/Helpers.js"
import { type MutationState, topologyMutation, topologyStatus } from "../bus/Topics.js"
import type { TopologyStatus } from "./Model.js"

const publishOn = (
  topic: Either.Either<string, { readonly message: string }>,
  payload: Payload,
  type: string
) =>
  Effect.flatMap(Effect.serviceOption(Bus), (bus) => {
    if (Option.isNone(bus)) return Effect.void
    if (Either.isLeft(topic))
      return Effect.logWarning(`no bus topic for this topology: ${topic.left.message}`)
    return publishSafelyOn(bus.value, topic.right, payload, type)
  })

/** `topology.<id>.status` {state, reason}, event type `status`. */
export const publishStatus = (topologyId: string, state: TopologyStatus, reason: string | null) =>
  publishOn(topologyStatus(topologyId), { state, reason }, "status")

/** `topology.<id>.mutation.<state>`, event type the state. */
export const publishMutation = (topologyId: string, state: MutationState, payload: Payload) =>
  publishOn(topologyMutation(topologyId, state), payload, state)
