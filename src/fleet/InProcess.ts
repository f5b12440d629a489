/**
 * `InProcessRuntime`, the embedded default `DeckyRuntime`: each decky's services run as fibers in this
 * process, bound to the decky's own loopback address (127.77.0.x), so no root and no Docker are needed.
 * Without root the well-known ports are offset by 10,000 (22 → 10022, 6379 → 16379). A port another
 * program holds is skipped for the next free offset (the warning names the decky, the service and the
 * port), so one busy port never keeps a decky down. A decky lives in its own scope: `down` and a
 * mutation's `up` close it, which interrupts everything its services started.
 */
import { Effect, ExecutionStrategy, Exit, Layer, Option, Ref, Scope } from "effect"
import { DecnetConfig } from "../config/DecnetConfig.js"
import { loadHoneypots } from "../honeypots/Registry.js"
import {
  type EventSink,
  type Honeypot,
  HoneypotContext,
  type HoneypotListenError,
  type Listener,
  makeHoneypotContext
} from "../honeypots/runtime/index.js"
import { plantedFilesOf, resolveIdentity } from "./Decky.js"
import type { BoundPort, Decky, Deployment } from "./Model.js"
import { DeckyRuntime, DeckyRuntimeError, type DeckyRuntimeService, DeckyStatus } from "./Runtime.js"

/** Where an unprivileged process moves well-known ports. */
export const PORT_OFFSET = 10_000

/** The ports to try for one known port, in order: known (root only), then each offset, then any free one. */
export const portCandidates = (known: number, privileged: boolean): ReadonlyArray<number> => {
  const out: Array<number> = privileged ? [known] : []
  for (let k = 1; k <= 5; k++) {
    const p = known + k * PORT_OFFSET
    if (p <= 65535) out.push(p)
  }
  out.push(0)
  return out
}

interface RunningDecky {
  readonly scope: Scope.CloseableScope
  readonly decky: Decky
  readonly ports: ReadonlyArray<BoundPort>
}

const boundPorts = (slug: string, listeners: ReadonlyArray<Listener>): ReadonlyArray<BoundPort> =>
  listeners.map((l) => ({ service: slug, proto: l.proto, known: l.defaultPort, host: l.host, port: l.port }))

const isBusy = (e: HoneypotListenError) => e.code === "EADDRINUSE" || e.code === "EACCES"

export interface ServiceStart {
  /** The decky's name, for errors and warnings. */
  readonly decky: string
  /** The address every listener of the service binds. */
  readonly host: string
  readonly honeypot: Honeypot
  readonly config: unknown
  /** Well-known ports as they are (root) or offset (see `portCandidates`). */
  readonly privileged: boolean
}

/**
 * Start one service in `scope`, walking its ports' candidates past the ones another program holds. The
 * in-process fleet and the in-process topology runtime (one call per address of a multi-homed decky) share
 * it, so both move ports alike.
 */
export const startServiceOn = (
  start: ServiceStart,
  scope: Scope.Scope
): Effect.Effect<ReadonlyArray<BoundPort>, DeckyRuntimeError, HoneypotContext> =>
  Effect.gen(function* () {
    const { honeypot, privileged } = start
    const known = [...honeypot.ports.tcp, ...honeypot.ports.udp]
    // One candidate index per known port; a busy port moves only that port on.
    const tried = new Map<number, number>(known.map((p) => [p, 0]))
    for (let attempt = 0; ; attempt++) {
      const mapping = new Map<number, number>()
      const portOf = (p: number) => {
        const candidates = portCandidates(p, privileged)
        const port = candidates[Math.min(tried.get(p) ?? 0, candidates.length - 1)] ?? 0
        mapping.set(port, p)
        return port
      }
      // Each attempt in a scope of its own: a half-started service (one of its ports bound) is undone.
      const attemptScope = yield* Scope.fork(scope, ExecutionStrategy.sequential)
      const started = yield* honeypot
        .start({ host: start.host, config: start.config, port: portOf, unknownConfigKeys: "warn" })
        .pipe(Scope.extend(attemptScope), Effect.either)
      if (started._tag === "Right") return boundPorts(honeypot.slug, started.right)
      yield* Scope.close(attemptScope, Exit.void)
      const error = started.left
      if (error._tag !== "HoneypotListenError" || !isBusy(error) || attempt > 10)
        return yield* new DeckyRuntimeError({
          decky: start.decky,
          message: `${start.decky}: ${error.message}`
        })
      const knownPort = mapping.get(error.port) ?? error.port
      tried.set(knownPort, (tried.get(knownPort) ?? 0) + 1)
      yield* Effect.logWarning(
        `decky ${start.decky}: ${honeypot.slug} cannot use port ${error.port} (${
          error.code === "EACCES" ? "permission denied" : "another program holds it"
        }); trying the next one`
      )
    }
  })

export interface InProcessOptions {
  /** Bind well-known ports as they are (default: only when running as root). */
  readonly privileged?: boolean
}

export const makeInProcessRuntime = (
  options: InProcessOptions = {}
): Effect.Effect<DeckyRuntimeService, never, Scope.Scope | EventSink | DecnetConfig> =>
  Effect.gen(function* () {
    const settings = yield* DecnetConfig
    const sinkContext = yield* Effect.context<EventSink>()
    const privileged = options.privileged ?? process.getuid?.() === 0
    const deckies = yield* Ref.make(new Map<string, RunningDecky>())
    /** Deckies whose last start failed, with why: the runtime reports them `failed` until they run or go. */
    const failures = yield* Ref.make(new Map<string, { readonly decky: Decky; readonly error: string }>())
    const forgetFailure = (name: string) =>
      Ref.update(failures, (m) => {
        if (!m.has(name)) return m
        const next = new Map(m)
        next.delete(name)
        return next
      })

    const down = (name: string) =>
      Effect.gen(function* () {
        yield* forgetFailure(name)
        const running = (yield* Ref.get(deckies)).get(name)
        if (running === undefined) return
        yield* Ref.update(deckies, (m) => {
          const next = new Map(m)
          next.delete(name)
          return next
        })
        yield* Scope.close(running.scope, Exit.void)
        yield* Effect.logInfo(`decky ${name} down`)
      })

    const up = (decky: Decky, _deployment: Deployment) =>
      Effect.gen(function* () {
        yield* down(decky.name)
        const modules = yield* loadHoneypots(decky.services).pipe(
          Effect.mapError(
            (e) => new DeckyRuntimeError({ decky: decky.name, message: `${decky.name}: ${e.message}` })
          )
        )
        const identity = resolveIdentity(
          { name: Option.some(decky.name), hostname: Option.some(decky.hostname) },
          settings
        )
        const ctx = yield* makeHoneypotContext({
          decky: identity.name,
          hostname: identity.hostname,
          instanceId: identity.instanceId,
          artifactsDir: identity.artifactsDir,
          limits: settings.honeypot,
          plantedFiles: plantedFilesOf(decky.files)
        }).pipe(Effect.provide(sinkContext))
        const scope = yield* Scope.make()
        const ports = yield* Effect.forEach(modules, (honeypot) =>
          startServiceOn(
            {
              decky: decky.name,
              host: decky.ip,
              honeypot,
              config: decky.service_config[honeypot.slug] ?? {},
              privileged
            },
            scope
          )
        ).pipe(
          Effect.provideService(HoneypotContext, ctx),
          // A decky comes up whole or not at all.
          Effect.tapError(() => Scope.close(scope, Exit.void))
        )
        const flat = ports.flat()
        yield* Ref.update(deckies, (m) => new Map(m).set(decky.name, { scope, decky, ports: flat }))
        yield* Effect.logInfo(
          `decky ${decky.name} up on ${decky.ip}: ${flat.map((p) => `${p.service} ${p.port}/${p.proto}`).join(", ")}`
        )
        return flat
      }).pipe(
        Effect.tap(() => forgetFailure(decky.name)),
        Effect.tapError((e) =>
          Ref.update(failures, (m) => new Map(m).set(decky.name, { decky, error: e.message }))
        )
      )

    const status = Effect.map(Effect.all([Ref.get(deckies), Ref.get(failures)]), ([running, failed]) => [
      ...[...running.values()].map(
        (r) =>
          new DeckyStatus({
            name: r.decky.name,
            state: "running",
            services: r.decky.services.map((service) => ({ service, state: "running" as const })),
            ports: r.ports,
            error: null
          })
      ),
      ...[...failed.values()]
        .filter((f) => !running.has(f.decky.name))
        .map(
          (f) =>
            new DeckyStatus({
              name: f.decky.name,
              state: "failed",
              services: f.decky.services.map((service) => ({ service, state: "stopped" as const })),
              ports: [],
              error: f.error
            })
        )
    ])

    yield* Effect.addFinalizer(() =>
      Effect.flatMap(Ref.get(deckies), (m) => Effect.forEach([...m.keys()], down, { discard: true }))
    )

    return {
      kind: "inprocess",
      prepare: () => Effect.void,
      up,
      down,
      release: () => Effect.void,
      status
    } satisfies DeckyRuntimeService
  })

/** The in-process runtime as a layer: its deckies stop when the layer's scope closes. */
export const InProcessRuntime = (
  options: InProcessOptions = {}
): Layer.Layer<DeckyRuntime, never, EventSink | DecnetConfig> =>
  Layer.scoped(DeckyRuntime, makeInProcessRuntime(options))
