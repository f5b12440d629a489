/**
 * A `TopologyRuntime` whose real runtime is built on first use: `decnet api` and the `decnet topology`
 * commands need one in their context, but most requests and commands never deploy, and the Docker runtime
 * brings dockerode, the engine's address and the host's iptables with it. Built once, in the layer's scope;
 * a runtime that cannot be built fails the call with its reason, and the next call tries again.
 */
import type { CommandExecutor } from "@effect/platform"
import { Cause, Context, Effect, ExecutionStrategy, Exit, Layer, Option, Ref, Scope } from "effect"
import type { DecnetConfig } from "../config/DecnetConfig.js"
import type { DeckyRow, LanRow, TopologyDetail } from "./Model.js"
import {
  nothingReaped,
  TopologyRuntime,
  TopologyRuntimeError,
  type TopologyRuntimeService
} from "./Runtime.js"

/** The Docker topology runtime on the configured engine, its modules loaded when first needed. */
const dockerRuntime = Layer.unwrapEffect(
  Effect.promise(async () => {
    const [{ DockerTopologyLive }, { DockerLive }] = await Promise.all([
      import("./DockerTopology.js"),
      import("../docker/DockerLive.js")
    ])
    return DockerTopologyLive().pipe(Layer.provide(DockerLive))
  })
)

/**
 * `build` made lazy: the service is built on the first call and kept; a failed build is the call's
 * `TopologyRuntimeError` (the reaper, which cannot fail, reports it as its one error).
 */
export const lazyTopologyRuntime = <E, R>(
  kind: TopologyRuntimeService["kind"],
  build: Layer.Layer<TopologyRuntime, E, R>
): Layer.Layer<TopologyRuntime, never, R> =>
  Layer.scoped(
    TopologyRuntime,
    Effect.gen(function* () {
      const scope = yield* Effect.scope
      const context = yield* Effect.context<R>()
      const held = yield* Ref.make(Option.none<TopologyRuntimeService>())
      const lock = yield* Effect.makeSemaphore(1)
      const get = Effect.gen(function* () {
        const known = yield* Ref.get(held)
        if (Option.isSome(known)) return known.value
        const child = yield* Scope.fork(scope, ExecutionStrategy.sequential)
        const built = yield* Layer.buildWithScope(build, child).pipe(Effect.provide(context), Effect.exit)
        if (Exit.isFailure(built)) {
          yield* Scope.close(child, Exit.void)
          return yield* new TopologyRuntimeError({
            target: null,
            message: `the ${kind} topology runtime is not available: ${Cause.pretty(built.cause).split("\n")[0]}`
          })
        }
        const runtime = Context.get(built.value, TopologyRuntime)
        yield* Ref.set(held, Option.some(runtime))
        return runtime
      }).pipe(lock.withPermits(1))

      const on =
        <Args extends ReadonlyArray<unknown>, A>(
          call: (rt: TopologyRuntimeService, ...args: Args) => Effect.Effect<A, TopologyRuntimeError>
        ) =>
        (...args: Args) =>
          Effect.flatMap(get, (rt) => call(rt, ...args))

      return {
        kind,
        deploy: on((rt, t: TopologyDetail) => rt.deploy(t)),
        inspect: on((rt, t: TopologyDetail) => rt.inspect(t)),
        teardown: on((rt, t: TopologyDetail) => rt.teardown(t)),
        addLan: on((rt, t: TopologyDetail, lan: LanRow) => rt.addLan(t, lan)),
        removeLan: on((rt, t: TopologyDetail, lan: LanRow) => rt.removeLan(t, lan)),
        addDecky: on((rt, t: TopologyDetail, d: DeckyRow) => rt.addDecky(t, d)),
        removeDecky: on((rt, t: TopologyDetail, d: DeckyRow) => rt.removeDecky(t, d)),
        attach: on((rt, t: TopologyDetail, d: DeckyRow, lan: LanRow, ip: string) => rt.attach(t, d, lan, ip)),
        detach: on((rt, t: TopologyDetail, d: DeckyRow, lan: LanRow) => rt.detach(t, d, lan)),
        updateServices: on(
          (
            rt,
            t: TopologyDetail,
            d: DeckyRow,
            added: ReadonlyArray<string>,
            removed: ReadonlyArray<string>
          ) => rt.updateServices(t, d, added, removed)
        ),
        recreate: on((rt, t: TopologyDetail, d: DeckyRow) => rt.recreate(t, d)),
        reapOrphans: (ids) =>
          get.pipe(
            Effect.flatMap((rt) => rt.reapOrphans(ids)),
            Effect.catchAll((e) => Effect.succeed(nothingReaped([], [e.message])))
          )
      } satisfies TopologyRuntimeService
    })
  )

/** The Docker topology runtime, built on first use (needs the config and a CommandExecutor). */
export const LazyDockerTopology: Layer.Layer<
  TopologyRuntime,
  never,
  DecnetConfig | CommandExecutor.CommandExecutor
> = lazyTopologyRuntime("docker", dockerRuntime)
