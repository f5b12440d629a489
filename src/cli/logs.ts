// `decnet logs`: the stored events, from the database, newest last. `--follow` keeps printing new rows
// as the ingester commits them: woken by the bus's `system.log`, with a one-second poll when no bus
// answers. Attacker text is printed escaped (a field's ESC or NUL never reaches the terminal raw).
import { Command, Options } from "@effect/cli"
import { Data, Effect, Option } from "effect"

export class LogsCliError extends Data.TaggedError("LogsCliError")<{ readonly message: string }> {}

const fail = (message: string) => Effect.fail(new LogsCliError({ message }))

/** `10m`, `2h`, `1d`, `30s` → milliseconds; or an ISO-8601 time. */
export const parseSince = (raw: string, now: number): Date | undefined => {
  const m = /^(\d+)\s*(s|m|h|d)$/.exec(raw.trim())
  if (m !== null) {
    const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] ?? "s"] ?? 1_000
    return new Date(now - Number(m[1]) * unit)
  }
  const t = Date.parse(raw)
  return Number.isNaN(t) ? undefined : new Date(t)
}

const options = {
  follow: Options.boolean("follow").pipe(
    Options.withAlias("f"),
    Options.withDescription("keep printing new events")
  ),
  decky: Options.text("decky").pipe(Options.optional, Options.withDescription("only this decky")),
  service: Options.text("service").pipe(
    Options.optional,
    Options.withDescription("only this service (ssh, redis, …)")
  ),
  event: Options.text("event").pipe(
    Options.optional,
    Options.withDescription("only this event type (auth, command, …)")
  ),
  since: Options.text("since").pipe(
    Options.optional,
    Options.withDescription("only events since a time: 10m, 2h, 1d, or ISO-8601")
  ),
  limit: Options.integer("limit").pipe(
    Options.withDefault(50),
    Options.withDescription("how many (newest) events")
  ),
  json: Options.boolean("json").pipe(
    Options.withDescription("JSON: an array; with --follow one object per line")
  )
}

export const logs = Command.make("logs", options, (o) =>
  Effect.gen(function* () {
    if (o.limit < 1) return yield* fail(`--limit must be at least 1, got ${o.limit}`)
    const since = Option.isSome(o.since) ? parseSince(o.since.value, Date.now()) : undefined
    if (Option.isSome(o.since) && since === undefined)
      return yield* fail(`--since '${o.since.value}': expected 10m, 2h, 1d, 30s or an ISO-8601 time`)
    const { runLogs } = yield* Effect.promise(() => import("./LogsRun.js"))
    return yield* runLogs({
      follow: o.follow,
      json: o.json,
      limit: o.limit,
      filter: {
        decky: Option.getOrUndefined(o.decky),
        service: Option.getOrUndefined(o.service),
        eventType: Option.getOrUndefined(o.event),
        startTime: since
      }
    })
  })
).pipe(Command.withDescription("show stored events (newest last); --follow for new ones as they are stored"))
