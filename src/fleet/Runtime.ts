/**
 * `DeckyRuntime`: where deckies run. `DockerRuntime` (production) gives each decky a container with its
 * own IP and MAC on the LAN; `InProcessRuntime` (the embedded default) runs a decky's services as fibers
 * on its own loopback address. The fleet commands, the mutator and the reconciler only see this tag.
 */
import { Context, type Effect, Schema } from "effect"
import { BoundPort, type Decky, DeckyState, type Deployment, type RuntimeKind } from "./Model.js"

export class DeckyRuntimeError extends Schema.TaggedError<DeckyRuntimeError>()("DeckyRuntimeError", {
  /** The decky concerned, when there is one. */
  decky: Schema.NullOr(Schema.String),
  /** One line saying what failed and, where it can, what to do. */
  message: Schema.String
}) {}

export const ServiceRunState = Schema.Literal("running", "stopped", "absent")

/** One decky as a runtime sees it now. */
export class DeckyStatus extends Schema.Class<DeckyStatus>("DeckyStatus")({
  name: Schema.String,
  state: DeckyState,
  services: Schema.Array(Schema.Struct({ service: Schema.String, state: ServiceRunState })),
  ports: Schema.Array(BoundPort),
  /** Why it is not running, when known. */
  error: Schema.NullOr(Schema.String)
}) {}

export interface DeckyRuntimeService {
  readonly kind: RuntimeKind
  /** What the fleet shares (docker: the LAN network and the host's hairpin interface). Idempotent. */
  readonly prepare: (deployment: Deployment) => Effect.Effect<void, DeckyRuntimeError>
  /**
   * Run one decky with its services, replacing what runs under its name (a mutation is an `up` with new
   * services). Returns where its services listen. A failure leaves nothing of this decky behind.
   */
  readonly up: (
    decky: Decky,
    deployment: Deployment
  ) => Effect.Effect<ReadonlyArray<BoundPort>, DeckyRuntimeError>
  /** Stop and remove one decky; an absent one is already down. */
  readonly down: (name: string) => Effect.Effect<void, DeckyRuntimeError>
  /** Undo `prepare`, once every decky is down. */
  readonly release: (deployment: Deployment) => Effect.Effect<void, DeckyRuntimeError>
  /** Every decky this runtime runs or knows of, as it is now. */
  readonly status: Effect.Effect<ReadonlyArray<DeckyStatus>, DeckyRuntimeError>
}

export class DeckyRuntime extends Context.Tag("decnet/DeckyRuntime")<DeckyRuntime, DeckyRuntimeService>() {}
