/**
 * The in-process `TopologyRuntime`: a topology on loopback, without root or Docker. Each LAN gets its own
 * loopback range, the image of its subnet under one fixed map (`loopbackOf`): 172.16.0.0/12 → 127.100–115,
 * 10.0.0.0/12 → 127.116–131, 192.168.0.0/16 → 127.132, host part kept (172.16.1.2 → 127.100.1.2), so a
 * decky's address in a LAN always maps to the same loopback address, across restarts and live edits. A
 * decky runs its services as fibers, like the in-process fleet (`startServiceOn`, the same port walk), once
 * per LAN it is on; each (address, service) pair lives in a scope of its own, so attach, detach and a service
 * change touch only what they name. Events go to the process's `EventSink`, the fleet's sink.
 */
import { Context, Effect, Either, ExecutionStrategy, Exit, Layer, Option, Ref, Scope } from "effect"
import { DecnetConfig } from "../config/DecnetConfig.js"
import { resolveIdentity } from "../fleet/Decky.js"
import { startServiceOn } from "../fleet/InProcess.js"
import type { BoundPort } from "../fleet/Model.js"
import { isHoneypotSlug, loadHoneypots } from "../honeypots/Registry.js"
import {
  type EventSink,
  type Honeypot,
  HoneypotContext,
  type HoneypotContextService,
  makeHoneypotContext
} from "../honeypots/runtime/index.js"
import { formatIpv4, parseCidr, parseIpv4 } from "./Ipv4.js"
import type { DeckyRow, LanRow, TopologyDetail } from "./Model.js"
import {
  type DeckyMaterialState,
  deckyNameOf,
  id8,
  nothingReaped,
  type ReapReport,
  runnableServices,
  TopologyRuntime,
  TopologyRuntimeError,
  type TopologyRuntimeService,
  topologyInstanceId
} from "./Runtime.js"

// ---- the loopback map ------------------------------------------------------------------------------------

/** One private range and where it lands on loopback, offset for offset. */
interface LoopbackRange {
  readonly from: string
  readonly network: number
  readonly prefix: number
  readonly to: number
}

/** `a.b.0.0` as a number (the ranges' constants; no parsing at import). */
const octets = (a: number, b: number): number => a * 2 ** 24 + b * 2 ** 16

const range = (from: [number, number], prefix: number, to: [number, number]): LoopbackRange => ({
  from: `${from[0]}.${from[1]}.0.0/${prefix}`,
  network: octets(from[0], from[1]),
  prefix,
  to: octets(to[0], to[1])
})

/** The ranges a LAN may be in (the generator's, the editor's, and the common home one). */
export const LOOPBACK_RANGES: ReadonlyArray<LoopbackRange> = [
  range([172, 16], 12, [127, 100]),
  range([10, 0], 12, [127, 116]),
  range([192, 168], 16, [127, 132])
]

const sizeOf = (prefix: number) => 2 ** (32 - prefix)

const unmappable = (target: string | null, what: string) =>
  new TopologyRuntimeError({
    target,
    message: `${what} is outside ${LOOPBACK_RANGES.map((r) => r.from).join(", ")}, the ranges the in-process runtime maps onto loopback`
  })

/** The loopback address standing for `ip` (the same host part within its range). */
export const loopbackOf = (ip: string): Either.Either<string, TopologyRuntimeError> =>
  Option.match(parseIpv4(ip), {
    onNone: () =>
      Either.left(new TopologyRuntimeError({ target: null, message: `'${ip}' is not an IPv4 address` })),
    onSome: (n) => {
      const r = LOOPBACK_RANGES.find((x) => n >= x.network && n < x.network + sizeOf(x.prefix))
      return r === undefined
        ? Either.left(unmappable(null, `address ${ip}`))
        : Either.right(formatIpv4(r.to + (n - r.network)))
    }
  })

/** A LAN's loopback range: its subnet's image (`172.16.1.0/24` → `127.100.1.0/24`). */
export const loopbackSubnetOf = (
  lan: Pick<LanRow, "name" | "subnet">
): Either.Either<string, TopologyRuntimeError> =>
  Option.match(parseCidr(lan.subnet.trim(), { strict: false }), {
    onNone: () =>
      Either.left(
        new TopologyRuntimeError({
          target: lan.name,
          message: `LAN '${lan.name}' has no valid subnet ('${lan.subnet}')`
        })
      ),
    onSome: (cidr) => {
      const r = LOOPBACK_RANGES.find(
        (x) =>
          cidr.prefix >= x.prefix && cidr.network >= x.network && cidr.network < x.network + sizeOf(x.prefix)
      )
      return r === undefined
        ? Either.left(unmappable(lan.name, `LAN '${lan.name}' (${lan.subnet})`))
        : Either.right(`${formatIpv4(r.to + (cidr.network - r.network))}/${cidr.prefix}`)
    }
  })

// ---- what runs ---------------------------------------------------------------------------------------------

interface ServiceRun {
  readonly scope: Scope.CloseableScope
  readonly ports: ReadonlyArray<BoundPort>
}

interface AddressRun {
  readonly lan: string
  readonly ip: string
  readonly loopback: string
  readonly scope: Scope.CloseableScope
  readonly services: Map<string, ServiceRun>
}

interface DeckyRun {
  readonly name: string
  readonly scope: Scope.CloseableScope
  readonly ctx: HoneypotContextService
  readonly modules: Map<string, Honeypot>
  readonly config: Readonly<Record<string, unknown>>
  /** Its services without an in-process emulator: in the database, not served. */
  skipped: ReadonlyArray<string>
  readonly addresses: Map<string, AddressRun>
}

interface TopologyRun {
  readonly deckies: Map<string, DeckyRun>
  /** Deckies whose last start failed, with why. */
  readonly failed: Map<string, string>
}

/** One listener set of a decky: what `decnet up` prints. */
export interface DeckyListeners {
  readonly decky: string
  readonly lan: string
  /** Its address in the topology. */
  readonly ip: string
  /** Where it listens. */
  readonly loopback: string
  readonly ports: ReadonlyArray<BoundPort>
}

export interface InProcessTopologyService {
  readonly runtime: TopologyRuntimeService
  /** Every decky of the topology that runs, per LAN, with its bound ports (by decky, then LAN). */
  readonly listeners: (topologyId: string) => Effect.Effect<ReadonlyArray<DeckyListeners>>
  /** The deckies that skipped services for want of an in-process emulator. */
  readonly skipped: (topologyId: string) => Effect.Effect<ReadonlyMap<string, ReadonlyArray<string>>>
}

export class InProcessTopology extends Context.Tag("decnet/InProcessTopology")<
  InProcessTopology,
  InProcessTopologyService
>() {}

export interface InProcessTopologyOptions {
  /** Bind well-known ports as they are (default: only when running as root). */
  readonly privileged?: boolean
}

const runtimeError = (target: string | null, message: string) => new TopologyRuntimeError({ target, message })

/** A decky's addresses as (LAN, address, loopback address), home LAN first; refused before anything starts. */
const addressesOf = (topology: TopologyDetail, decky: DeckyRow) =>
  Either.gen(function* () {
    const name = deckyNameOf(decky)
    const out: Array<{ readonly lan: string; readonly ip: string; readonly loopback: string }> = []
    for (const [lan, ip] of Object.entries(decky.decky_config?.ips_by_lan ?? {})) {
      if (!topology.lans.some((l) => l.name === lan))
        return yield* Either.left(runtimeError(name, `decky '${name}' references unknown LAN '${lan}'`))
      const loopback = yield* Either.mapLeft(loopbackOf(ip), (e) =>
        runtimeError(name, `decky '${name}' on ${lan}: ${e.message}`)
      )
      out.push({ lan, ip, loopback })
    }
    if (out.length === 0)
      return yield* Either.left(runtimeError(name, `decky '${name}' has no address on any LAN`))
    return out
  })

export const makeInProcessTopology = (
  options: InProcessTopologyOptions = {}
): Effect.Effect<InProcessTopologyService, never, Scope.Scope | EventSink | DecnetConfig> =>
  Effect.gen(function* () {
    const settings = yield* DecnetConfig
    const sinkContext = yield* Effect.context<EventSink>()
    const privileged = options.privileged ?? process.getuid?.() === 0
    const topologies = yield* Ref.make(new Map<string, TopologyRun>())
    // One edit at a time: the reconciler, a deploy and a teardown may overlap.
    const lock = yield* Effect.makeSemaphore(1)
    const serialized = <A, E>(effect: Effect.Effect<A, E>) => lock.withPermits(1)(effect)

    const runOf = (topologyId: string) =>
      Ref.modify(topologies, (m) => {
        const known = m.get(topologyId)
        if (known !== undefined) return [known, m]
        const made: TopologyRun = { deckies: new Map(), failed: new Map() }
        return [made, new Map(m).set(topologyId, made)]
      })

    /** Start one service on one address of a decky, in a scope of its own under the address's. */
    const startService = (decky: DeckyRun, address: AddressRun, honeypot: Honeypot) =>
      Effect.gen(function* () {
        const scope = yield* Scope.fork(address.scope, ExecutionStrategy.sequential)
        const ports = yield* startServiceOn(
          {
            decky: decky.name,
            host: address.loopback,
            honeypot,
            config: decky.config[honeypot.slug] ?? {},
            privileged
          },
          scope
        ).pipe(
          Effect.provideService(HoneypotContext, decky.ctx),
          Effect.tapError(() => Scope.close(scope, Exit.void)),
          Effect.mapError((e) => runtimeError(decky.name, e.message))
        )
        address.services.set(honeypot.slug, { scope, ports })
      })

    /** Listen on one more address: every service of the decky, or none (a failure undoes the address). */
    const startAddress = (
      decky: DeckyRun,
      at: { readonly lan: string; readonly ip: string; readonly loopback: string }
    ) =>
      Effect.gen(function* () {
        const scope = yield* Scope.fork(decky.scope, ExecutionStrategy.sequential)
        const address: AddressRun = { ...at, scope, services: new Map() }
        yield* Effect.forEach(decky.modules.values(), (m) => startService(decky, address, m), {
          discard: true
        }).pipe(Effect.tapError(() => Scope.close(scope, Exit.void)))
        decky.addresses.set(at.lan, address)
      })

    const stopAddress = (decky: DeckyRun, lan: string) =>
      Effect.gen(function* () {
        const address = decky.addresses.get(lan)
        if (address === undefined) return
        decky.addresses.delete(lan)
        yield* Scope.close(address.scope, Exit.void)
      })

    const stopDecky = (run: TopologyRun, name: string) =>
      Effect.gen(function* () {
        run.failed.delete(name)
        const decky = run.deckies.get(name)
        if (decky === undefined) return
        run.deckies.delete(name)
        yield* Scope.close(decky.scope, Exit.void)
        yield* Effect.logInfo(`topology decky ${name} down`)
      })

    /** Start a decky on every address it has; a failure leaves nothing of it and is remembered. */
    const startDecky = (topology: TopologyDetail, row: DeckyRow) =>
      Effect.gen(function* () {
        const topologyId = topology.topology.id
        const run = yield* runOf(topologyId)
        const name = deckyNameOf(row)
        yield* stopDecky(run, name)
        const addresses = yield* addressesOf(topology, row)
        const { runnable, skipped } = runnableServices(row.services)
        const modules = yield* loadHoneypots(runnable).pipe(
          Effect.mapError((e) => runtimeError(name, e.message))
        )
        const identity = resolveIdentity(
          {
            name: Option.some(name),
            hostname: Option.some(name),
            instanceId: Option.some(topologyInstanceId(topologyId, name)),
            artifactsDir: Option.some(
              `${settings.artifactsRoot.replace(/\/+$/, "")}/topology-${id8(topologyId)}/${name}`
            )
          },
          settings
        )
        const ctx = yield* makeHoneypotContext({
          decky: identity.name,
          hostname: identity.hostname,
          instanceId: identity.instanceId,
          artifactsDir: identity.artifactsDir,
          limits: settings.honeypot
        }).pipe(Effect.provide(sinkContext))
        const scope = yield* Scope.make()
        const decky: DeckyRun = {
          name,
          scope,
          ctx,
          modules: new Map(modules.map((m) => [m.slug, m])),
          config: row.decky_config?.service_config ?? {},
          skipped,
          addresses: new Map()
        }
        yield* Effect.forEach(addresses, (a) => startAddress(decky, a), { discard: true }).pipe(
          Effect.tapError(() => Scope.close(scope, Exit.void))
        )
        run.deckies.set(name, decky)
        if (skipped.length > 0)
          yield* Effect.logWarning(
            `topology decky ${name}: no in-process emulator for ${skipped.join(", ")}; not served`
          )
        yield* Effect.logInfo(
          `topology decky ${name} up on ${addresses.map((a) => `${a.lan}=${a.loopback}`).join(" ")}`
        )
      }).pipe(
        Effect.tapError((e) =>
          Effect.flatMap(runOf(topology.topology.id), (run) =>
            Effect.sync(() => run.failed.set(deckyNameOf(row), e.message))
          )
        )
      )

    const forget = (topologyId: string) =>
      Effect.gen(function* () {
        const run = (yield* Ref.get(topologies)).get(topologyId)
        if (run === undefined) return
        yield* Effect.forEach([...run.deckies.keys()], (name) => stopDecky(run, name), { discard: true })
        yield* Ref.update(topologies, (m) => {
          const next = new Map(m)
          next.delete(topologyId)
          return next
        })
      })

    /** Addresses another topology's deckies listen on: a second topology on them would only fight for ports. */
    const checkFree = (topology: TopologyDetail) =>
      Effect.gen(function* () {
        const held = new Map<string, string>()
        for (const [id, run] of yield* Ref.get(topologies)) {
          if (id === topology.topology.id) continue
          for (const d of run.deckies.values())
            for (const a of d.addresses.values()) held.set(a.loopback, `${d.name} of topology ${id}`)
        }
        for (const lan of topology.lans) yield* loopbackSubnetOf(lan)
        for (const row of topology.deckies)
          for (const a of yield* addressesOf(topology, row)) {
            const owner = held.get(a.loopback)
            if (owner !== undefined)
              return yield* runtimeError(
                deckyNameOf(row),
                `${a.loopback} (${deckyNameOf(row)} on ${a.lan}) is already served by ${owner}`
              )
          }
      })

    const deploy = (topology: TopologyDetail) =>
      serialized(
        Effect.gen(function* () {
          yield* checkFree(topology)
          // A redeploy (a resume) starts from nothing.
          yield* forget(topology.topology.id)
          yield* runOf(topology.topology.id)
          for (const row of topology.deckies)
            yield* startDecky(topology, row).pipe(
              Effect.catchAll((e) =>
                Effect.logWarning(
                  `topology ${topology.topology.name}: ${deckyNameOf(row)} did not start: ${e.message}`
                )
              )
            )
        })
      )

    const inspect = (topology: TopologyDetail) =>
      Effect.map(Ref.get(topologies), (m): ReadonlyArray<DeckyMaterialState> => {
        const run = m.get(topology.topology.id)
        return topology.deckies.map((row) => {
          const name = deckyNameOf(row)
          const decky = run?.deckies.get(name)
          if (decky !== undefined)
            return {
              decky: name,
              state: "running",
              detail:
                decky.skipped.length === 0
                  ? "running"
                  : `running (no in-process emulator for ${decky.skipped.join(", ")})`
            }
          const error = run?.failed.get(name)
          return { decky: name, state: "failed", detail: error === undefined ? "absent" : `failed: ${error}` }
        })
      })

    const teardown = (topology: TopologyDetail) => serialized(forget(topology.topology.id))

    const addLan = (_topology: TopologyDetail, lan: LanRow) =>
      // Nothing listens on a LAN until a decky joins it; its range must exist, though.
      Effect.asVoid(loopbackSubnetOf(lan))

    const removeLan = (topology: TopologyDetail, lan: LanRow) =>
      serialized(
        Effect.gen(function* () {
          const run = yield* runOf(topology.topology.id)
          for (const decky of run.deckies.values()) yield* stopAddress(decky, lan.name)
        })
      )

    const addDecky = (topology: TopologyDetail, decky: DeckyRow) => serialized(startDecky(topology, decky))

    const removeDecky = (topology: TopologyDetail, decky: DeckyRow) =>
      serialized(Effect.flatMap(runOf(topology.topology.id), (run) => stopDecky(run, deckyNameOf(decky))))

    const attach = (topology: TopologyDetail, row: DeckyRow, lan: LanRow, ip: string) =>
      serialized(
        Effect.gen(function* () {
          const run = yield* runOf(topology.topology.id)
          const name = deckyNameOf(row)
          const decky = run.deckies.get(name)
          if (decky === undefined) return yield* startDecky(topology, row)
          if (decky.addresses.has(lan.name)) return
          const loopback = yield* Either.mapLeft(loopbackOf(ip), (e) => runtimeError(name, e.message))
          yield* startAddress(decky, { lan: lan.name, ip, loopback })
          yield* Effect.logInfo(`topology decky ${name} joined ${lan.name} on ${loopback}`)
        })
      )

    const detach = (topology: TopologyDetail, row: DeckyRow, lan: LanRow) =>
      serialized(
        Effect.gen(function* () {
          const run = yield* runOf(topology.topology.id)
          const decky = run.deckies.get(deckyNameOf(row))
          if (decky !== undefined) yield* stopAddress(decky, lan.name)
        })
      )

    const updateServices = (
      topology: TopologyDetail,
      row: DeckyRow,
      added: ReadonlyArray<string>,
      removed: ReadonlyArray<string>
    ) =>
      serialized(
        Effect.gen(function* () {
          const run = yield* runOf(topology.topology.id)
          const name = deckyNameOf(row)
          const decky = run.deckies.get(name)
          if (decky === undefined) return yield* startDecky(topology, row)
          for (const slug of removed) {
            decky.modules.delete(slug)
            for (const address of decky.addresses.values()) {
              const service = address.services.get(slug)
              if (service === undefined) continue
              address.services.delete(slug)
              yield* Scope.close(service.scope, Exit.void)
            }
          }
          const runnable = added.filter((s) => isHoneypotSlug(s) && !decky.modules.has(s))
          decky.skipped = runnableServices(row.services).skipped
          const modules = yield* loadHoneypots(runnable).pipe(
            Effect.mapError((e) => runtimeError(name, e.message))
          )
          for (const m of modules) {
            decky.modules.set(m.slug, m)
            for (const address of decky.addresses.values()) yield* startService(decky, address, m)
          }
          yield* Effect.logInfo(
            `topology decky ${name}: services +${added.join(",") || "-"} -${removed.join(",") || "-"}`
          )
        })
      )

    const recreate = (topology: TopologyDetail, decky: DeckyRow) => serialized(startDecky(topology, decky))

    const reapOrphans = (liveTopologyIds: ReadonlyArray<string>): Effect.Effect<ReapReport> =>
      // Nothing outlives this process: there is nothing to reap.
      Effect.succeed(nothingReaped(liveTopologyIds))

    const listeners = (topologyId: string) =>
      Effect.map(Ref.get(topologies), (m) => {
        const run = m.get(topologyId)
        if (run === undefined) return []
        return [...run.deckies.values()]
          .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
          .flatMap((d) =>
            [...d.addresses.values()].map(
              (a): DeckyListeners => ({
                decky: d.name,
                lan: a.lan,
                ip: a.ip,
                loopback: a.loopback,
                ports: [...a.services.values()].flatMap((s) => s.ports)
              })
            )
          )
      })

    const skipped = (topologyId: string) =>
      Effect.map(Ref.get(topologies), (m): ReadonlyMap<string, ReadonlyArray<string>> => {
        const run = m.get(topologyId)
        return new Map(
          [...(run?.deckies.values() ?? [])]
            .filter((d) => d.skipped.length > 0)
            .map((d) => [d.name, d.skipped])
        )
      })

    yield* Effect.addFinalizer(() =>
      Effect.flatMap(Ref.get(topologies), (m) => Effect.forEach([...m.keys()], forget, { discard: true }))
    )

    const runtime: TopologyRuntimeService = {
      kind: "in-process",
      deploy,
      inspect,
      teardown,
      addLan,
      removeLan,
      addDecky,
      removeDecky,
      attach,
      detach,
      updateServices,
      recreate,
      reapOrphans
    }
    return { runtime, listeners, skipped }
  })

/** The in-process runtime as `TopologyRuntime` and `InProcessTopology`; everything stops with the layer. */
export const InProcessTopologyLive = (
  options: InProcessTopologyOptions = {}
): Layer.Layer<TopologyRuntime | InProcessTopology, never, EventSink | DecnetConfig> =>
  Layer.scopedContext(
    Effect.map(makeInProcessTopology(options), (s) =>
      Context.make(TopologyRuntime, s.runtime).pipe(Context.add(InProcessTopology, s))
    )
  )
