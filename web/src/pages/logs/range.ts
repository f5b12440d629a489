/**
 * The page's time window. The URL holds either a preset (`?range=1h`) or a custom `?from=`/`?to=` (the
 * `datetime-local` values, read as UTC); the API wants naive-UTC `YYYY-MM-DD HH:MM:SS` stamps compared to
 * the timestamp column. A relative preset is resolved against one anchor time, so the rows already
 * loaded and the pages still to come describe the same window.
 */
import { utcStamp } from "../../components/ui"

export const PRESETS = [
  { key: "15m", label: "15 min", minutes: 15 },
  { key: "1h", label: "1 h", minutes: 60 },
  { key: "24h", label: "24 h", minutes: 1440 },
  { key: "7d", label: "7 d", minutes: 10_080 },
  { key: "all", label: "All", minutes: undefined }
] as const

export type PresetKey = (typeof PRESETS)[number]["key"]
export const DEFAULT_PRESET: PresetKey = "all"

export type Range =
  | { readonly kind: "preset"; readonly key: PresetKey }
  | { readonly kind: "custom"; readonly from: string | undefined; readonly to: string | undefined }

const LOCAL = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/

/** A `datetime-local` value (`YYYY-MM-DDTHH:MM[:SS]`), or undefined when absent or malformed. */
const localValue = (v: string | null): string | undefined => (v !== null && LOCAL.test(v) ? v : undefined)

const isPreset = (v: string | null): v is PresetKey => PRESETS.some((p) => p.key === v)

export const readRange = (params: URLSearchParams): Range => {
  const from = localValue(params.get("from"))
  const to = localValue(params.get("to"))
  if (from !== undefined || to !== undefined) return { kind: "custom", from, to }
  const key = params.get("range")
  return { kind: "preset", key: isPreset(key) ? key : DEFAULT_PRESET }
}

/** `2024-05-01T10:00` → `2024-05-01 10:00:00`. */
export const stampOfLocal = (v: string) => `${v.replace("T", " ")}${v.length === 16 ? ":00" : ""}`
const msOfStamp = (stamp: string) => Date.parse(`${stamp.replace(" ", "T")}Z`)

export interface Window {
  /** Inclusive bounds for `start_time`/`end_time`; undefined = unbounded. */
  readonly start: string | undefined
  readonly end: string | undefined
}

export const resolveRange = (range: Range, anchorMs: number): Window => {
  if (range.kind === "custom")
    return {
      start: range.from === undefined ? undefined : stampOfLocal(range.from),
      end: range.to === undefined ? undefined : stampOfLocal(range.to)
    }
  const minutes = PRESETS.find((p) => p.key === range.key)?.minutes
  return {
    start: minutes === undefined ? undefined : utcStamp(new Date(anchorMs - minutes * 60_000)),
    end: undefined
  }
}

const STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10_080, 43_200, 525_600]

/**
 * Histogram bucket width (minutes) for a window: the smallest round step giving at most ~200 buckets
 * (so about 30–200 of them; a window under 30 minutes gets 1-minute buckets).
 */
export const intervalFor = (window: Window, anchorMs: number, oldest: string | undefined): number => {
  const from = window.start ?? oldest
  if (from === undefined) return 60
  const to = window.end === undefined ? anchorMs : msOfStamp(window.end)
  const minutes = Math.max(1, (to - msOfStamp(from)) / 60_000)
  return STEPS.find((s) => minutes / s <= 200) ?? 525_600
}

/** How the window reads to a person. */
export const describeWindow = (range: Range, window: Window): string => {
  if (range.kind === "preset" && range.key === "all") return "all time"
  if (window.start !== undefined && window.end !== undefined) return `${window.start} – ${window.end} UTC`
  if (window.start !== undefined) return `since ${window.start} UTC`
  if (window.end !== undefined) return `until ${window.end} UTC`
  return "all time"
}
