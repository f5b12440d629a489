/**
 * The tarpit (spec api §7.13, topology §10): slow one decky's replies on chosen TCP ports by a fixed delay,
 * for a fleet decky or a MazeNET decky, behind both route groups. A rule is stored only once `tc` has put
 * it in place, and logged (`tarpit_enabled`, `tarpit_disabled`); a decky the tarpit cannot reach (not
 * running, or on the in-process runtime, whose deckies are addresses on the host's loopback) is refused.
 * The watcher (Watcher.ts) follows who is held and puts the delay back when a container was recreated.
 */
import { randomUUID } from "node:crypto"
import { FileSystem } from "@effect/platform"
import { Clock, Effect, Option, Schema } from "effect"
import { LogRepo } from "../db/LogRepo.js"
import { fleetTarpitKey, TarpitRepo, TarpitRule, topologyTarpitKey } from "../db/TarpitRepo.js"
import { FleetStore } from "../fleet/Store.js"
import { encodeEventLine, type HoneypotEvent } from "../logging/HoneypotEvent.js"
import { Severity } from "../logging/Rfc5424.js"
import { deckyNameOf } from "../topology/Deploy.js"
import { TopologyRuntime } from "../topology/Runtime.js"
import { TopologyRepo } from "../topology/TopologyRepo.js"
import type { TarpitStatus } from "./Model.js"
import { DeckyNamespaces, TarpitTarget } from "./Namespaces.js"
import { establishedPeers, parseTcpTable } from "./ProcNet.js"
import { type TarpitCommandFailed, TrafficControl } from "./TrafficControl.js"

/** No such decky, or it does not run (404). */
export class TarpitNotFound extends Schema.TaggedError<TarpitNotFound>()("TarpitNotFound", {
  message: Schema.String
}) {}

/** The decky exists but the tarpit cannot reach it here (409): the in-process runtime, an agent's host. */
export class TarpitUnavailable extends Schema.TaggedError<TarpitUnavailable>()("TarpitUnavailable", {
  message: Schema.String
}) {}

/** The `service` of every tarpit log row. */
export const TARPIT_SERVICE = "tarpit"
/** The `attacker_ip` of an operator's change (spec §7.13). */
export const NO_PEER = "0.0.0.0"

/** The rule key of a target (`tarpit_rules.decky_name`). */
export const tarpitKey = (target: TarpitTarget): string =>
  TarpitTarget.$match(target, {
    Fleet: (t) => fleetTarpitKey(t.name),
    Topology: (t) => topologyTarpitKey(t.topologyId, t.name)
  })

/** The target a rule key names: `t:<topology id>:<decky>` (topology ids hold no `:`), else a fleet decky. */
export const targetOfKey = (key: string): TarpitTarget => {
  const m = /^t:([^:]+):(.+)$/.exec(key)
  return m?.[1] !== undefined && m[2] !== undefined
    ? TarpitTarget.Topology({ topologyId: m[1], name: m[2] })
    : TarpitTarget.Fleet({ name: key })
}

/** A decky as its record has it, and its namespace when its container runs. */
export interface Located {
  readonly target: TarpitTarget
  /** Where its namespace is; None when it does not run. */
  readonly pid: Option.Option<number>
}

const IN_PROCESS =
  "the tarpit needs the Docker runtime: it delays the decky's replies with tc inside the decky's own network " +
  "namespace, and an in-process decky is only an address on the host's loopback (tc there would slow the host " +
  "itself)."

const describe = (target: TarpitTarget) =>
  TarpitTarget.$match(target, {
    Fleet: (t) => `decky '${t.name}'`,
    Topology: (t) => `decky '${t.name}' of topology ${t.topologyId}`
  })

export class Tarpit extends Effect.Service<Tarpit>()("decnet/Tarpit", {
  effect: Effect.gen(function* () {
    const rules = yield* TarpitRepo
    const logs = yield* LogRepo
    const tc = yield* TrafficControl
    const namespaces = yield* DeckyNamespaces
    const fleet = yield* FleetStore
    const topologies = yield* TopologyRepo
    const topologyRuntime = yield* TopologyRuntime
    const fs = yield* FileSystem.FileSystem
    // One change at a time: two `tc -batch` runs on one namespace would interleave.
    const changes = yield* Effect.makeSemaphore(1)

    /** The decky in its record (else 404), on a runtime the tarpit reaches (else 409), and its namespace. */
    const locate = (target: TarpitTarget): Effect.Effect<Located, TarpitNotFound | TarpitUnavailable> =>
      Effect.gen(function* () {
        if (target._tag === "Fleet") {
          const current = yield* fleet.load()
          const decky = Option.flatMap(current, (c) =>
            Option.fromNullable(c.config.deckies.find((d) => d.name === target.name))
          )
          if (Option.isNone(current) || Option.isNone(decky))
            return yield* new TarpitNotFound({ message: `Decky ${target.name} not found` })
          if (current.value.config.runtime === "inprocess")
            return yield* new TarpitUnavailable({
              message: `${IN_PROCESS} This fleet runs in-process: deploy it with \`decnet deploy --runtime docker\` to tarpit its deckies.`
            })
        } else {
          const topology = yield* topologies.getTopology(target.topologyId)
          if (Option.isNone(topology))
            return yield* new TarpitNotFound({ message: `topology '${target.topologyId}' not found` })
          const deckies = yield* topologies.listDeckies(target.topologyId)
          if (!deckies.some((d) => deckyNameOf(d) === target.name))
            return yield* new TarpitNotFound({
              message: `decky '${target.name}' not found in topology '${topology.value.name}'`
            })
          if (topology.value.status === "torn_down")
            return yield* new TarpitNotFound({ message: `topology '${topology.value.name}' is torn down` })
          if (topology.value.target_host_uuid !== null)
            return yield* new TarpitUnavailable({
              message: `topology '${topology.value.name}' runs on swarm host '${topology.value.target_host_uuid}': its agent would tarpit it, and agents are not in this build`
            })
          if (topologyRuntime.kind === "in-process")
            return yield* new TarpitUnavailable({
              message: `${IN_PROCESS} This API runs topologies in-process (\`decnet up --topology\`): deploy it with \`decnet topology deploy\` (Docker) to tarpit its deckies.`
            })
        }
        const pid = yield* namespaces
          .pidOf(target)
          .pipe(Effect.mapError((e) => new TarpitUnavailable({ message: e.message })))
        return { target, pid }
      })

    /** Its namespace, or 404 for a decky that does not run. */
    const running = (located: Located) =>
      Option.match(located.pid, {
        onNone: () =>
          Effect.fail(
            new TarpitNotFound({
              message: `${describe(located.target)} is not running (no container holds its network)`
            })
          ),
        onSome: Effect.succeed
      })

    /** The peers held on `ports` of the namespace of `pid` (IPv4 and IPv6 tables; a missing table is empty). */
    const peers = (pid: number, ports: ReadonlyArray<number>) =>
      Effect.gen(function* () {
        const [v4, v6] = yield* Effect.all(
          ["tcp", "tcp6"].map((t) =>
            fs.readFileString(`/proc/${pid}/net/${t}`).pipe(Effect.orElseSucceed(() => ""))
          ),
          { concurrency: 2 }
        )
        return establishedPeers([...parseTcpTable(v4 ?? ""), ...parseTcpTable(v6 ?? "")], ports)
      })

    /** A tarpit log row (service `tarpit`), written straight to `logs` as the ingester would store it. */
    const log = (
      target: TarpitTarget,
      eventType: string,
      peer: string,
      fields: Readonly<Record<string, string>>
    ) =>
      Effect.gen(function* () {
        const event: HoneypotEvent = {
          timestamp: new Date(yield* Clock.currentTimeMillis),
          decky: target.name,
          service: TARPIT_SERVICE,
          event_type: eventType,
          attacker_ip: peer,
          attacker_port: null,
          fields: target._tag === "Topology" ? { ...fields, topology_id: target.topologyId } : fields,
          msg: "",
          severity: Severity.info
        }
        yield* logs.addLog({ ...event, raw_line: encodeEventLine(event) })
      })

    const enable = (
      target: TarpitTarget,
      ports: ReadonlyArray<number>,
      delayMs: number,
      actor: string
    ): Effect.Effect<TarpitRule, TarpitNotFound | TarpitUnavailable | TarpitCommandFailed> =>
      Effect.gen(function* () {
        const pid = yield* Effect.flatMap(locate(target), running)
        const wanted = [...new Set(ports)].sort((a, b) => a - b)
        yield* tc.apply(pid, wanted, delayMs)
        const rule = new TarpitRule({
          id: randomUUID(),
          decky_name: tarpitKey(target),
          ports: wanted,
          delay_ms: delayMs,
          created_at: new Date(yield* Clock.currentTimeMillis),
          created_by: actor
        })
        // The rule and the delay go together: a rule that cannot be stored takes the delay back.
        yield* rules.set(rule).pipe(Effect.onError(() => Effect.ignore(tc.remove(pid))))
        yield* log(target, "tarpit_enabled", NO_PEER, {
          ports: wanted.join(","),
          delay_ms: String(delayMs),
          actor
        })
        yield* Effect.logInfo(
          `tarpit on ${describe(target)}: ports ${wanted.join(",")} +${delayMs} ms (${actor})`
        )
        return rule
      }).pipe(changes.withPermits(1), Effect.withSpan("Tarpit.enable"))

    const ruleOf = (target: TarpitTarget) =>
      Effect.flatMap(
        rules.get(tarpitKey(target)),
        Option.match({
          onNone: () => Effect.fail(new TarpitNotFound({ message: "No active tarpit rule for this decky" })),
          onSome: Effect.succeed
        })
      )

    /** The rule and the peers it holds now; a decky that does not run (or cannot be asked) holds none. */
    const status = (target: TarpitTarget): Effect.Effect<TarpitStatus, TarpitNotFound> =>
      Effect.gen(function* () {
        const rule = yield* ruleOf(target)
        const pid = yield* namespaces
          .pidOf(target)
          .pipe(
            Effect.catchAll((e) =>
              Effect.as(Effect.logWarning(`tarpit ${describe(target)}: ${e.message}`), Option.none<number>())
            )
          )
        const active = Option.isSome(pid) ? yield* peers(pid.value, rule.ports) : []
        return { rule, active_connections: active }
      }).pipe(Effect.withSpan("Tarpit.status"))

    /**
     * Remove the delay from a running decky (a stopped one's namespace is gone with it), then the rule. An
     * engine that cannot be asked keeps the rule: a delay left without its rule would never be taken back.
     */
    const forgetNow = (target: TarpitTarget, rule: TarpitRule, fields: Readonly<Record<string, string>>) =>
      Effect.gen(function* () {
        const pid = yield* namespaces
          .pidOf(target)
          .pipe(Effect.mapError((e) => new TarpitUnavailable({ message: e.message })))
        if (Option.isSome(pid)) yield* tc.remove(pid.value)
        yield* rules.delete(rule.decky_name)
        yield* log(target, "tarpit_disabled", NO_PEER, { ports: rule.ports.join(","), ...fields })
      })

    const disable = (
      target: TarpitTarget,
      actor: string
    ): Effect.Effect<void, TarpitNotFound | TarpitUnavailable | TarpitCommandFailed> =>
      Effect.gen(function* () {
        const rule = yield* ruleOf(target)
        yield* forgetNow(target, rule, { actor })
        yield* Effect.logInfo(`tarpit off ${describe(target)} (${actor})`)
      }).pipe(changes.withPermits(1), Effect.withSpan("Tarpit.disable"))

    /** Drop a rule whose decky is gone (the watcher), with the reason in its `tarpit_disabled` row. */
    const forget = (target: TarpitTarget, rule: TarpitRule, reason: string) =>
      forgetNow(target, rule, { reason }).pipe(changes.withPermits(1))

    /** Put a rule's delay back where it is missing (a recreated container, a LAN attached since); true if it did. */
    const reapply = (rule: TarpitRule, pid: number) =>
      Effect.gen(function* () {
        const now = yield* tc.inspect(pid)
        if (now.unshaped.length === 0) return false
        yield* tc.apply(pid, rule.ports, rule.delay_ms)
        return true
      }).pipe(changes.withPermits(1))

    return { locate, peers, log, enable, status, disable, forget, reapply } as const
  })
}) {}
