// Query-string helpers shared by the read routes (spec api §6, §7.2).
import { Effect, Either, Schema } from "effect"
import { UtcDateTime } from "../db/Columns.js"
import { Texts, Unprocessable } from "./Errors.js"

const ABSENT = new Set(["", "null", "NULL", "undefined"])

/** A string filter, or undefined for `null`, `NULL`, `undefined` and "" (spec §6). */
export const present = (value: string | undefined): string | undefined =>
  value === undefined || ABSENT.has(value) ? undefined : value

const decodeTime = Schema.decodeUnknownEither(UtcDateTime)

/** A `start_time`/`end_time` bound (ISO `YYYY-MM-DD HH:MM:SS` recommended, naive = UTC); 422 when not a time. */
export const timeBound = (value: string | undefined): Effect.Effect<Date | undefined, Unprocessable> => {
  const text = present(value)
  if (text === undefined) return Effect.succeed(undefined)
  const decoded = decodeTime(text)
  return Either.isRight(decoded)
    ? Effect.succeed(decoded.right)
    : Effect.fail(new Unprocessable({ detail: Texts.invalid }))
}

/** The log filter of `/logs`, `/logs/histogram` and `/stream`. */
export const logFilter = (q: {
  readonly search?: string | undefined
  readonly start_time?: string | undefined
  readonly end_time?: string | undefined
}) =>
  Effect.gen(function* () {
    return {
      search: present(q.search),
      startTime: yield* timeBound(q.start_time),
      endTime: yield* timeBound(q.end_time)
    }
  })

/** No filter at all (the cached variants of §6). */
export const unfiltered = (f: {
  readonly search: string | undefined
  readonly startTime: Date | undefined
  readonly endTime: Date | undefined
}) => f.search === undefined && f.startTime === undefined && f.endTime === undefined
