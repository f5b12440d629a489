/**
 * What `GET /health` looks at besides the database (spec api §7.7): the state of each background task
 * this process runs (the embedded ingester and collector of `decnet up`), the worker registry's
 * heartbeats for the workers that run as their own processes, and a Docker ping when the deployment runs
 * on Docker. The in-process fleet of `decnet up` needs no Docker, so there it has no `docker` component.
 */
import { Context, Effect, Layer, type Option, Ref } from "effect"

export type TaskState = "running" | "cancelled" | "exited unexpectedly" | "exited with error"

export interface HealthProbesService {
  /** Background tasks of this process by worker name (`ingester`, `collector`, …). */
  readonly tasks: Ref.Ref<ReadonlyMap<string, TaskState>>
  /** The Docker ping, when this deployment needs Docker. */
  readonly docker: Option.Option<Effect.Effect<boolean>>
}

export class HealthProbes extends Context.Tag("decnet/api/HealthProbes")<
  HealthProbes,
  HealthProbesService
>() {
  /** No background tasks; Docker pinged with `ping` when given. */
  static readonly make = (docker: Option.Option<Effect.Effect<boolean>>) =>
    Layer.effect(
      HealthProbes,
      Effect.map(Ref.make<ReadonlyMap<string, TaskState>>(new Map()), (tasks) => ({ tasks, docker }))
    )
}

/** Record a background task's state (the runner of an embedded worker calls this). */
export const setTask = (name: string, state: TaskState) =>
  Effect.flatMap(HealthProbes, (p) => Ref.update(p.tasks, (m) => new Map(m).set(name, state)))

/**
 * Run `task` as the background task `name` in this scope: `running` while it runs, then how it ended.
 * Its failure is logged, never raised: the API keeps serving and `/health` reports it.
 */
export const superviseTask = <E, R>(name: string, task: Effect.Effect<unknown, E, R>) =>
  Effect.gen(function* () {
    yield* setTask(name, "running")
    yield* task.pipe(
      Effect.matchCauseEffect({
        onSuccess: () => setTask(name, "exited unexpectedly"),
        onFailure: (cause) =>
          Effect.zipRight(
            Effect.logError(`background task ${name} failed`, cause),
            setTask(name, "exited with error")
          )
      }),
      Effect.onInterrupt(() => setTask(name, "cancelled")),
      Effect.forkScoped
    )
  })
