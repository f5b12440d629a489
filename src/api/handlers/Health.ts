// The `health` group (spec api §7.7): database (cached 1 s), the workers, Docker (cached 5 s).
import { HttpApiBuilder } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import { Effect, Option, Ref } from "effect"
import { WorkerRegistry } from "../../bus/Registry.js"
import { DecnetApi } from "../Contract.js"
import { HealthProbes } from "../Health.js"
import { makeTtlValue } from "../TtlCache.js"

type Component = { readonly status: "ok" | "failing"; readonly detail: string | null }

const ok: Component = { status: "ok", detail: null }
const failing = (detail: string): Component => ({ status: "failing", detail })

/** Component name → the worker name whose task or heartbeat it reports. */
const WORKER_COMPONENTS = [
  ["ingestion_worker", "ingester"],
  ["collector_worker", "collector"],
  ["attacker_worker", "profiler"],
  ["sniffer_worker", "sniffer"],
  ["tarpit_watcher", "tarpit"]
] as const

const CRITICAL = new Set(["database", "docker", "ingestion_worker"])

export const HealthHandlers = HttpApiBuilder.group(DecnetApi, "health", (handlers) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const probes = yield* HealthProbes
    const registry = yield* WorkerRegistry
    const database = yield* makeTtlValue(
      sql`SELECT COUNT(*) AS n FROM ${sql("users")}`.pipe(
        Effect.as(true),
        Effect.catchAllCause(() => Effect.succeed(false))
      ),
      "1 second"
    )
    const docker = Option.isSome(probes.docker)
      ? Option.some(yield* makeTtlValue(probes.docker.value, "5 seconds"))
      : Option.none()

    const report = Effect.gen(function* () {
      const components: Record<string, Component> = {}
      components.database = (yield* database.get) ? ok : failing("database unavailable")
      const tasks = yield* Ref.get(probes.tasks)
      const beats = new Map<string, string>((yield* registry.snapshot).map((r) => [r.name, r.status]))
      for (const [component, worker] of WORKER_COMPONENTS) {
        const task = tasks.get(worker)
        if (task !== undefined) components[component] = task === "running" ? ok : failing(task)
        else components[component] = beats.get(worker) === "ok" ? ok : failing("not started")
      }
      if (Option.isSome(docker))
        components.docker = (yield* docker.value.get) ? ok : failing("docker daemon unavailable")
      const entries = Object.entries(components)
      const critical = entries.some(([name, c]) => CRITICAL.has(name) && c.status === "failing")
      const status = critical
        ? "unhealthy"
        : entries.some(([, c]) => c.status === "failing")
          ? "degraded"
          : "healthy"
      return { status, components } as const
    })

    return handlers.handle("health", () =>
      Effect.flatMap(report, (body) =>
        body.status === "unhealthy" ? Effect.fail(body) : Effect.succeed(body)
      )
    )
  })
)
