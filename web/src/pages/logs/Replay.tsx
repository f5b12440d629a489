/**
 * A recorded shell session (admin): all of its asciicast v2 events paged in from
 * `GET /transcripts/{decky}/{sid}`, replayed as text with play/pause, speed and restart, or saved as a
 * `.cast` file any asciinema player can open.
 */
import { useQuery, useQueryClient } from "@tanstack/react-query"
import { useCallback, useEffect, useRef, useState } from "react"
import { api, call, type Ok, saveBlob } from "../../api/client"
import { ErrorText, Loading } from "../../components/ui"
import { Screen } from "./terminal"

type TranscriptPage = Ok<"/api/v1/transcripts/{decky}/{sid}", "get">
/** `[seconds since start, "o" (output) | "i" (input), data]`. */
type CastEvent = readonly [number, string, string]

// openapi-fetch widens the tuple to an array; the server sends only well-formed events, this keeps it so.
const isEvent = (e: ReadonlyArray<string | number>): e is CastEvent =>
  e.length === 3 && typeof e[0] === "number" && typeof e[1] === "string" && typeof e[2] === "string"

interface Cast {
  readonly header: TranscriptPage["header"]
  readonly events: ReadonlyArray<CastEvent>
  readonly truncated: boolean
}

const PAGE = 5_000
/** 10 MB of recording is far fewer events than this; the bound only stops a runaway loop. */
const MAX_PAGES = 1_000
/** Long pauses are shortened to this many seconds (asciinema's idle_time_limit, when the header has none). */
const IDLE_CAP_S = 2
/** Events this close together (in recorded seconds, per 1× speed) are drawn in one step. */
const STEP_S = 1 / 30
const SPEEDS = [1, 2, 8] as const
type Speed = (typeof SPEEDS)[number]

const loadCast = async (decky: string, sid: string): Promise<Cast> => {
  const events: Array<CastEvent> = []
  let header: TranscriptPage["header"] = {}
  let truncated = false
  for (let page = 0; page < MAX_PAGES; page++) {
    const r = await call(
      api.GET("/api/v1/transcripts/{decky}/{sid}", {
        params: { path: { decky, sid }, query: { offset: String(events.length), limit: String(PAGE) } }
      })
    )
    if (page === 0) header = r.header
    truncated = r.truncated
    for (const e of r.events) if (isEvent(e)) events.push(e)
    if (!r.has_more || r.events.length === 0) break
  }
  return { header, events, truncated }
}

const castKey = (decky: string, sid: string) => ["transcript", decky, sid] as const

/** asciicast v2: the header line, then one JSON array per event. */
const saveCast = (cast: Cast, filename: string) => {
  const text = [JSON.stringify(cast.header), ...cast.events.map((e) => JSON.stringify(e))].join("\n") + "\n"
  saveBlob(new Blob([text], { type: "application/x-asciicast" }), filename)
}

const idleCapOf = (header: TranscriptPage["header"]) => {
  const v = header["idle_time_limit"]
  return typeof v === "number" && v > 0 ? v : IDLE_CAP_S
}

const Player = ({ cast }: { cast: Cast }) => {
  const { events } = cast
  const screen = useRef(new Screen())
  const out = useRef<HTMLPreElement>(null)
  const [idx, setIdx] = useState(0)
  const [text, setText] = useState("")
  const [playing, setPlaying] = useState(true)
  const [speed, setSpeed] = useState<Speed>(1)
  const idleCap = idleCapOf(cast.header)
  const finished = idx >= events.length

  /** Draw events `from` (inclusive) to `to` (exclusive). */
  const advance = useCallback(
    (from: number, to: number) => {
      for (const [, kind, data] of events.slice(from, to)) if (kind === "o") screen.current.feed(data)
      setText(screen.current.text())
      setIdx(to)
    },
    [events]
  )

  useEffect(() => {
    const next = events[idx]
    if (!playing || next === undefined) return
    const prevT = events[idx - 1]?.[0] ?? 0
    const delay = (Math.min(Math.max(0, next[0] - prevT), idleCap) / speed) * 1000
    const timer = setTimeout(() => {
      let to = idx
      while (to < events.length && (events[to]?.[0] ?? 0) <= next[0] + STEP_S * speed) to++
      advance(idx, to)
    }, delay)
    return () => clearTimeout(timer)
  }, [events, idx, playing, speed, idleCap, advance])

  useEffect(() => {
    const el = out.current
    if (el !== null && text !== "") el.scrollTop = el.scrollHeight
  }, [text])

  const restart = () => {
    screen.current.reset()
    setText("")
    setIdx(0)
    setPlaying(true)
  }

  const duration = events[events.length - 1]?.[0] ?? 0
  const at = events[idx - 1]?.[0] ?? 0
  const inputs = events.filter((e) => e[1] === "i").length

  return (
    <div className="replay">
      <div className="row">
        <button
          type="button"
          className="primary"
          onClick={() => (finished ? restart() : setPlaying((p) => !p))}
        >
          {playing && !finished ? "Pause" : "Play"}
        </button>
        <button type="button" onClick={restart}>
          Restart
        </button>
        <button type="button" disabled={finished} onClick={() => advance(idx, events.length)}>
          Skip to end
        </button>
        <fieldset className="row logs-speed" aria-label="Replay speed">
          {SPEEDS.map((s) => (
            <button key={s} type="button" aria-pressed={speed === s} onClick={() => setSpeed(s)}>
              {s}×
            </button>
          ))}
        </fieldset>
        <span className="muted small" role="status">
          {at.toFixed(1)} s / {duration.toFixed(1)} s · {idx.toLocaleString()} of{" "}
          {events.length.toLocaleString()} events
        </span>
      </div>
      {cast.truncated && <p className="notice small">The recording hit its size cap; the end is missing.</p>}
      <pre
        ref={out}
        className="terminal"
        role="log"
        aria-live="off"
        aria-label="Session replay"
        data-testid="replay"
      >
        {text}
      </pre>
      <p className="muted small">
        Shows the terminal output with escape sequences removed.{" "}
        {inputs > 0 && `${inputs.toLocaleString()} input events (keystrokes) are in the .cast download.`}
      </p>
    </div>
  )
}

export const SessionReplay = ({ decky, sid }: { decky: string; sid: string }) => {
  const queryClient = useQueryClient()
  const [open, setOpen] = useState(false)
  const [saveError, setSaveError] = useState<unknown>(undefined)
  const [saving, setSaving] = useState(false)
  const cast = useQuery({
    queryKey: castKey(decky, sid),
    queryFn: () => loadCast(decky, sid),
    enabled: open,
    staleTime: Number.POSITIVE_INFINITY
  })

  const download = () => {
    setSaving(true)
    setSaveError(undefined)
    queryClient
      .fetchQuery({
        queryKey: castKey(decky, sid),
        queryFn: () => loadCast(decky, sid),
        staleTime: Number.POSITIVE_INFINITY
      })
      .then((c) => saveCast(c, `${decky}-${sid}.cast`), setSaveError)
      .finally(() => setSaving(false))
  }

  return (
    <section aria-label="Session recording" className="logs-section">
      <h3>Session recording</h3>
      <div className="row">
        {!open && (
          <button type="button" className="primary" onClick={() => setOpen(true)}>
            Replay session
          </button>
        )}
        <button type="button" onClick={download} disabled={saving}>
          {saving ? "Preparing…" : "Download .cast"}
        </button>
        <span className="muted small mono">{sid}</span>
      </div>
      <ErrorText error={saveError ?? cast.error} />
      {open && cast.isLoading && <Loading what="the recording" />}
      {open && cast.data !== undefined && <Player cast={cast.data} />}
    </section>
  )
}
