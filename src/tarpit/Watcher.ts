/**
 * The tarpit watcher (spec workers §4.4), a fiber of the API process: every DECNET_TARPIT_POLL_INTERVAL
 * seconds (15), for each rule, the peers its ports hold (the decky's `/proc/<pid>/net/tcp` and `tcp6`). A new
 * (decky, ip, port) is a `tarpit_enter` row, one that is gone a `tarpit_exit` row with the seconds it was
 * held; both carry `port` and `attacker_uuid`. It also keeps the rules true: a decky whose container was
 * recreated (a mutation, a restart) or that joined a LAN since gets its delay back, and the rule of a decky
 * that no longer exists is dropped. A tick's failure is logged and the next tick runs; no rule, no memory.
 */
import { Cause, Clock, Duration, Effect, Either, Option, Ref, Schedule } from "effect"
import { DecnetConfig } from "../config/DecnetConfig.js"
import { TarpitRepo, type TarpitRule } from "../db/TarpitRepo.js"
import { Tarpit, targetOfKey } from "./Tarpit.js"

/** One peer held on a tarpitted port, since when. */
interface Held {
  readonly rule: string
  readonly ip: string
  readonly port: number
  readonly since: number
}

const heldKey = (rule: string, ip: string, port: number) => `${rule}|${ip}|${port}`

export const runTarpitWatcher = Effect.gen(function* () {
  const config = yield* DecnetConfig
  const tarpit = yield* Tarpit
  const rules = yield* TarpitRepo
  const memory = yield* Ref.make<ReadonlyMap<string, Held>>(new Map())

  const uuidOf = (ip: string) =>
    Effect.map(
      rules.attackerUuid(ip),
      Option.getOrElse(() => "")
    )

  /** This rule's held peers after this tick, with the enter and exit rows written. */
  const follow = (rule: TarpitRule, before: ReadonlyArray<Held>) =>
    Effect.gen(function* () {
      const target = targetOfKey(rule.decky_name)
      const located = yield* Effect.either(tarpit.locate(target))
      if (Either.isLeft(located)) {
        if (located.left._tag === "TarpitUnavailable") {
          yield* Effect.logWarning(`tarpit watcher: ${rule.decky_name}: ${located.left.message}`)
          return before
        }
        yield* tarpit.forget(target, rule, `the decky no longer exists (${located.left.message})`)
        yield* Effect.logInfo(
          `tarpit watcher: dropped the rule of ${rule.decky_name}: ${located.left.message}`
        )
      }
      const pid = Either.isRight(located) ? located.right.pid : Option.none<number>()
      if (Option.isSome(pid))
        yield* tarpit.reapply(rule, pid.value).pipe(
          Effect.tap((again) =>
            again
              ? Effect.logInfo(`tarpit watcher: put the delay of ${rule.decky_name} back in place`)
              : Effect.void
          ),
          Effect.catchAll((e) => Effect.logWarning(`tarpit watcher: ${rule.decky_name}: ${e.message}`))
        )
      const peers = Option.isSome(pid) ? yield* tarpit.peers(pid.value, rule.ports) : []
      const now = yield* Clock.currentTimeMillis
      const known = new Map(before.map((h) => [heldKey(h.rule, h.ip, h.port), h]))
      const after: Array<Held> = []
      for (const peer of peers) {
        const key = heldKey(rule.decky_name, peer.ip, peer.port)
        const was = known.get(key)
        if (was !== undefined) {
          after.push(was)
          known.delete(key)
          continue
        }
        after.push({ rule: rule.decky_name, ip: peer.ip, port: peer.port, since: now })
        yield* tarpit.log(target, "tarpit_enter", peer.ip, {
          port: String(peer.port),
          attacker_uuid: yield* uuidOf(peer.ip)
        })
      }
      for (const gone of known.values())
        yield* tarpit.log(target, "tarpit_exit", gone.ip, {
          port: String(gone.port),
          attacker_uuid: yield* uuidOf(gone.ip),
          elapsed_seconds: ((now - gone.since) / 1000).toFixed(1)
        })
      return after
    })

  const tick = Effect.gen(function* () {
    const all = yield* rules.list()
    const before = [...(yield* Ref.get(memory)).values()]
    const next = new Map<string, Held>()
    for (const rule of all) {
      const mine = before.filter((h) => h.rule === rule.decky_name)
      // One rule's failure leaves its peers as they were; the other rules go on.
      const after = yield* follow(rule, mine).pipe(
        Effect.catchAllCause((cause) =>
          Effect.as(
            Effect.logWarning(`tarpit watcher: ${rule.decky_name}: ${Cause.pretty(cause).split("\n")[0]}`),
            mine
          )
        )
      )
      for (const h of after) next.set(heldKey(h.rule, h.ip, h.port), h)
    }
    // Peers of rules that are gone are forgotten (spec: no rules → clear memory).
    yield* Ref.set(memory, next)
  }).pipe(Effect.withSpan("TarpitWatcher.tick"))

  yield* tick.pipe(
    Effect.catchAllCause((cause) => Effect.logError("tarpit watcher: tick failed", cause)),
    Effect.repeat(Schedule.spaced(Duration.seconds(config.tarpit.pollSeconds)))
  )
})
