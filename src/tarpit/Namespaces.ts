/**
 * Which decky a tarpit is for, and where its network namespace is: the init process of the container that
 * holds it (a fleet decky's own container, a MazeNET decky's base container). The Docker engine answers
 * (DockerNamespaces.ts, loaded and connected on first use, so an API that never tarpits never loads
 * dockerode); a tag, so a test can point a decky at a namespace it made itself.
 */
import {
  Cause,
  Context,
  Data,
  Effect,
  ExecutionStrategy,
  Exit,
  Layer,
  Option,
  Ref,
  Schema,
  Scope
} from "effect"
import { DecnetConfig } from "../config/DecnetConfig.js"

/** A fleet decky (by name), or a MazeNET decky (by its topology and its own name). */
export type TarpitTarget = Data.TaggedEnum<{
  Fleet: { readonly name: string }
  Topology: { readonly topologyId: string; readonly name: string }
}>
export const TarpitTarget = Data.taggedEnum<TarpitTarget>()

/** The engine could not be asked (not running, no permission on its socket…). */
export class NamespaceLookupFailed extends Schema.TaggedError<NamespaceLookupFailed>()(
  "NamespaceLookupFailed",
  {
    message: Schema.String
  }
) {}

export interface DeckyNamespacesService {
  /** The pid whose network namespace is the decky's, while its container runs; None when it does not. */
  readonly pidOf: (target: TarpitTarget) => Effect.Effect<Option.Option<number>, NamespaceLookupFailed>
}

export class DeckyNamespaces extends Context.Tag("decnet/tarpit/DeckyNamespaces")<
  DeckyNamespaces,
  DeckyNamespacesService
>() {}

/** The Docker engine of DecnetConfig (`DOCKER_HOST`), reached on the first lookup and kept; a failed start is retried. */
export const DockerNamespacesLive: Layer.Layer<DeckyNamespaces, never, DecnetConfig> = Layer.scoped(
  DeckyNamespaces,
  Effect.gen(function* () {
    const config = yield* DecnetConfig
    const scope = yield* Effect.scope
    const held = yield* Ref.make(Option.none<DeckyNamespacesService>())
    const lock = yield* Effect.makeSemaphore(1)
    const get = Effect.gen(function* () {
      const known = yield* Ref.get(held)
      if (Option.isSome(known)) return known.value
      const child = yield* Scope.fork(scope, ExecutionStrategy.sequential)
      const { DockerNamespaces } = yield* Effect.promise(() => import("./DockerNamespaces.js"))
      const built = yield* Layer.buildWithScope(DockerNamespaces, child).pipe(
        Effect.provideService(DecnetConfig, config),
        Effect.exit
      )
      if (Exit.isFailure(built)) {
        yield* Scope.close(child, Exit.void)
        return yield* new NamespaceLookupFailed({
          message: `the Docker engine is not available: ${Cause.pretty(built.cause).split("\n")[0]}`
        })
      }
      const service = Context.get(built.value, DeckyNamespaces)
      yield* Ref.set(held, Option.some(service))
      return service
    }).pipe(lock.withPermits(1))
    return { pidOf: (target) => Effect.flatMap(get, (s) => s.pidOf(target)) } satisfies DeckyNamespacesService
  })
)

/**
 * Deckies pointed at namespaces by hand (tests, an embedding program that runs its own): a fleet decky by its
 * name, a MazeNET decky by `<topology id>/<decky name>`, → the pid of a process in its namespace. The map is
 * read at each lookup, so it may be filled after the layer is built.
 */
export const fixedNamespaces = (pids: ReadonlyMap<string, number>) =>
  Layer.succeed(DeckyNamespaces, {
    pidOf: (target) =>
      Effect.succeed(
        Option.fromNullable(
          pids.get(
            TarpitTarget.$match(target, {
              Fleet: (t) => t.name,
              Topology: (t) => `${t.topologyId}/${t.name}`
            })
          )
        )
      )
  })
