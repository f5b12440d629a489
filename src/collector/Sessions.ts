/**
 * The session aggregator (spec fleet §7, bus.md `attacker.session.ended`): shell `command` events are
 * indexed per attacker IP, and a `session_recorded` event turns the commands of its time window into one
 * `attacker.session.ended` payload, so the TTP tagger and the profiler see a session's commands without
 * reading the database. Bounded: entries expire after the TTL (Clock time of arrival), an IP holds at
 * most MAX_COMMANDS_PER_IP commands and the index at most MAX_SESSION_IPS addresses.
 */
import { Schema } from "effect"
import type { HoneypotEvent } from "../logging/HoneypotEvent.js"
import { UNKNOWN_IP } from "../logging/Rfc5424.js"

/** One command of a session, as consumers read it (uid/user/src/pwd when the line said). */
export const SessionCommand = Schema.Struct({
  /** `<session_id>#<i>`, or `<attacker_ip>-<ts>#<i>` for a session without an id. */
  id: Schema.String,
  command_text: Schema.String,
  /** ISO-8601 time of the command. */
  ts: Schema.String,
  decky: Schema.String,
  service: Schema.String,
  uid: Schema.optional(Schema.String),
  user: Schema.optional(Schema.String),
  src: Schema.optional(Schema.String),
  pwd: Schema.optional(Schema.String)
}).annotations({ identifier: "SessionCommand" })
export type SessionCommand = typeof SessionCommand.Type

/** The `attacker.session.ended` payload (spec bus.md §1.10). */
export const SessionEndedPayload = Schema.Struct({
  session_id: Schema.NullOr(Schema.String),
  /** Always null here: the profiler resolves the attacker later. */
  attacker_uuid: Schema.Null,
  attacker_ip: Schema.String,
  decky_id: Schema.String,
  /** The shell transport (`ssh`, `telnet`). */
  service: Schema.String,
  /** ISO-8601 time the session ended (the `session_recorded` event's time). */
  ended_at: Schema.String,
  duration_s: Schema.NullOr(Schema.Number),
  commands: Schema.Array(SessionCommand),
  /** The session's recording (asciicast) when one was written. */
  shard_path: Schema.NullOr(Schema.String)
}).annotations({ identifier: "SessionEndedPayload" })
export type SessionEndedPayload = typeof SessionEndedPayload.Type

export const MAX_COMMANDS_PER_IP = 1_000
export const MAX_SESSION_IPS = 10_000
/** How often (ms) every IP's list is swept for expired commands, besides the one being added to. */
const SWEEP_EVERY_MS = 60_000

interface Indexed {
  /** Clock time of arrival (ms), for the TTL. */
  readonly at: number
  readonly event: HoneypotEvent
}

/**
 * The bash PROMPT_COMMAND body `CMD uid=0 user=root src=1.2.3.4 pwd=/root cmd=ls -la` (telnet's lacks
 * user and src): `key=value` words, then `cmd=` takes the rest of the line, spaces included.
 */
export const parseCmdMessage = (msg: string): Readonly<Record<string, string>> | undefined => {
  if (!msg.startsWith("CMD ")) return undefined
  const out: Record<string, string> = {}
  // A sticky regex walks the words in place: slicing the rest per word would copy the line once per word.
  const word = /(\w+)=(\S*)\s*/y
  word.lastIndex = 4
  for (;;) {
    const at = word.lastIndex
    const m = word.exec(msg)
    if (m === null) break
    const [, key = "", value = ""] = m
    if (key === "cmd") {
      out.cmd = msg.slice(at + "cmd=".length)
      break
    }
    out[key] = value
  }
  return out
}

const nonEmpty = (s: string | undefined): string | undefined => (s === undefined || s === "" ? undefined : s)

const commandOf = (e: HoneypotEvent, id: string): SessionCommand => {
  const parsed = parseCmdMessage(e.msg) ?? {}
  const pick = (key: string) => nonEmpty(e.fields[key]) ?? nonEmpty(parsed[key])
  const src =
    nonEmpty(parsed.src) ??
    nonEmpty(e.fields.src) ??
    (e.attacker_ip === UNKNOWN_IP ? undefined : e.attacker_ip)
  const uid = pick("uid")
  const user = pick("user")
  const pwd = pick("pwd")
  return {
    id,
    command_text: e.fields.cmd ?? e.fields.command ?? parsed.cmd ?? e.msg,
    ts: e.timestamp.toISOString(),
    decky: e.decky,
    service: e.service,
    ...(uid === undefined ? {} : { uid }),
    ...(user === undefined ? {} : { user }),
    ...(src === undefined ? {} : { src }),
    ...(pwd === undefined ? {} : { pwd })
  }
}

const SECONDS = /^\d+(?:\.\d+)?$/

export interface SessionAggregator {
  /**
   * Feed one kept event at Clock time `now` (ms). A `session_recorded` event gives the payload to publish;
   * its commands leave the index, so each command belongs to one session.
   */
  readonly add: (event: HoneypotEvent, now: number) => SessionEndedPayload | undefined
  /** Commands currently indexed (all IPs). */
  readonly size: () => number
}

export const makeSessionAggregator = (ttlSec: number): SessionAggregator => {
  const ttlMs = ttlSec * 1000
  // Map order = least recently touched first, for the MAX_SESSION_IPS eviction.
  const byIp = new Map<string, Array<Indexed>>()
  let count = 0
  let sweptAt = 0

  const expire = (ip: string, list: Array<Indexed>, now: number) => {
    let drop = 0
    while (drop < list.length && now - (list[drop]?.at ?? now) > ttlMs) drop++
    if (drop > 0) {
      list.splice(0, drop)
      count -= drop
    }
    if (list.length === 0) byIp.delete(ip)
  }

  const sweep = (now: number) => {
    if (now - sweptAt < SWEEP_EVERY_MS) return
    sweptAt = now
    for (const [ip, list] of byIp) expire(ip, list, now)
  }

  const index = (e: HoneypotEvent, now: number) => {
    const list = byIp.get(e.attacker_ip) ?? []
    byIp.delete(e.attacker_ip)
    byIp.set(e.attacker_ip, list)
    list.push({ at: now, event: e })
    count++
    if (list.length > MAX_COMMANDS_PER_IP) {
      list.shift()
      count--
    }
    expire(e.attacker_ip, list, now)
    while (byIp.size > MAX_SESSION_IPS) {
      const first = byIp.entries().next()
      if (first.done === true) break
      count -= first.value[1].length
      byIp.delete(first.value[0])
    }
  }

  const ended = (e: HoneypotEvent, now: number): SessionEndedPayload => {
    const sid = nonEmpty(e.fields.sid)
    const rawDuration = e.fields.duration_s
    const duration = rawDuration !== undefined && SECONDS.test(rawDuration) ? Number(rawDuration) : null
    const endMs = e.timestamp.getTime()
    const startMs = duration === null ? Number.NEGATIVE_INFINITY : endMs - duration * 1000
    const list = byIp.get(e.attacker_ip)
    const taken: Array<HoneypotEvent> = []
    if (list !== undefined) {
      expire(e.attacker_ip, list, now)
      const keep: Array<Indexed> = []
      for (const entry of list) {
        const t = entry.event.timestamp.getTime()
        if (entry.event.decky === e.decky && t >= startMs && t <= endMs) taken.push(entry.event)
        else keep.push(entry)
      }
      count -= list.length - keep.length
      if (keep.length === 0) byIp.delete(e.attacker_ip)
      else byIp.set(e.attacker_ip, keep)
    }
    const commands = taken.map((c, i) =>
      commandOf(c, sid === undefined ? `${e.attacker_ip}-${c.timestamp.toISOString()}#${i}` : `${sid}#${i}`)
    )
    return {
      session_id: sid ?? null,
      attacker_uuid: null,
      attacker_ip: e.attacker_ip,
      decky_id: e.decky,
      service: nonEmpty(e.fields.service) ?? e.service,
      ended_at: e.timestamp.toISOString(),
      duration_s: duration,
      commands,
      shard_path: nonEmpty(e.fields.path) ?? null
    }
  }

  return {
    add: (event, now) => {
      sweep(now)
      if (event.attacker_ip === UNKNOWN_IP) return undefined
      if (event.event_type === "command") {
        index(event, now)
        return undefined
      }
      return event.event_type === "session_recorded" ? ended(event, now) : undefined
    },
    size: () => count
  }
}
