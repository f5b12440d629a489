/**
 * Server-sent events from the API, through one client (`useEventStream`): browsers cannot send headers on
 * an EventSource, so every (re)connect first mints a fresh single-use ticket (`POST /auth/sse-ticket`,
 * spec api §5.1) and opens `path?ticket=…`; on an error (a transport error, or the server's own
 * `event: error`) the stream is closed and reopened 3 s later with a new ticket (§8).
 *
 * Two streams use it: the app's live feed, one `/api/v1/stream` for the whole app (`LiveProvider`, spec
 * api §7.6: `event: message` frames of `{type: "stats"|"histogram"|"logs", data}`), and a topology's
 * `/api/v1/topologies/{id}/events` on its page (named events, topology.md §8).
 */
import { createContext, type ReactNode, useCallback, useContext, useEffect, useRef, useState } from "react"
import { api, call, type Histogram, type LogRow, type Stats } from "./client"

export type LiveState = "connecting" | "live" | "off"
export type Frame =
  | { readonly type: "stats"; readonly data: Stats }
  | { readonly type: "histogram"; readonly data: Histogram }
  | { readonly type: "logs"; readonly data: ReadonlyArray<LogRow> }

/** How long after an error the stream is opened again (with a new ticket). */
export const RECONNECT_MS = 3_000

/** One frame: its event name (`message` for an unnamed one) and its data as JSON (undefined if it is not). */
export interface StreamEvent {
  readonly name: string
  readonly data: unknown
}

export interface EventStream {
  readonly state: LiveState
  /** Times the stream opened; each used a new ticket. */
  readonly connects: number
  /** Times it failed to open or broke once open, since the component mounted. */
  readonly failures: number
}

/**
 * Keep the stream at `path` (null: none) open while mounted and call `onEvent` for every frame named in
 * `names` (EventSource has no wildcard listener).
 */
export const useEventStream = (
  path: string | null,
  names: ReadonlyArray<string>,
  onEvent: (e: StreamEvent) => void
): EventStream => {
  const [state, setState] = useState<LiveState>("off")
  const [connects, setConnects] = useState(0)
  const [failures, setFailures] = useState(0)
  const ref = useRef(onEvent)
  ref.current = onEvent
  const nameKey = names.join(" ")
  useEffect(() => {
    if (path === null) {
      setState("off")
      return
    }
    let closed = false
    let source: EventSource | undefined
    let timer: ReturnType<typeof setTimeout> | undefined
    const retry = () => {
      if (closed) return
      setState("connecting")
      setFailures((n) => n + 1)
      timer = setTimeout(connect, RECONNECT_MS)
    }
    const connect = () => {
      if (closed) return
      setState("connecting")
      call(api.POST("/api/v1/auth/sse-ticket"))
        .then(({ ticket }) => {
          if (closed) return
          const es = new EventSource(`${path}?ticket=${encodeURIComponent(ticket)}`)
          source = es
          es.onopen = () => {
            setState("live")
            setConnects((n) => n + 1)
          }
          for (const name of nameKey.split(" "))
            es.addEventListener(name, (ev: MessageEvent<string>) => {
              let data: unknown
              try {
                data = JSON.parse(ev.data)
              } catch {
                data = undefined
              }
              ref.current({ name, data })
            })
          es.onerror = () => {
            es.close()
            if (source === es) source = undefined
            retry()
          }
        })
        .catch(retry)
    }
    connect()
    return () => {
      closed = true
      if (timer !== undefined) clearTimeout(timer)
      source?.close()
    }
  }, [path, nameKey])
  return { state, connects, failures }
}

type Listener = (f: Frame) => void
/** The newest rows the stream delivered since the app started, newest first (the overview's feed). */
export const RECENT_MAX = 200

interface Live {
  readonly state: LiveState
  readonly recent: ReadonlyArray<LogRow>
  readonly subscribe: (l: Listener) => () => void
  /** Times the stream was (re)opened: each one used a new ticket. */
  readonly connects: number
}

const LiveContext = createContext<Live>({ state: "off", recent: [], subscribe: () => () => {}, connects: 0 })

const isFrame = (v: unknown): v is Frame =>
  typeof v === "object" &&
  v !== null &&
  "type" in v &&
  "data" in v &&
  (v.type === "stats" || v.type === "histogram" || v.type === "logs")

const MESSAGE = ["message"] as const

export const LiveProvider = ({ enabled, children }: { enabled: boolean; children: ReactNode }) => {
  const [recent, setRecent] = useState<ReadonlyArray<LogRow>>([])
  const listeners = useRef(new Set<Listener>())
  useEffect(() => {
    if (!enabled) setRecent([])
  }, [enabled])
  const { state, connects } = useEventStream(enabled ? "/api/v1/stream" : null, MESSAGE, ({ data }) => {
    if (!isFrame(data)) return
    if (data.type === "logs") {
      // The server sends rows in ascending id order; the feed shows the newest first.
      const rows = [...data.data].reverse()
      setRecent((old) => [...rows, ...old].slice(0, RECENT_MAX))
    }
    for (const l of listeners.current) l(data)
  })

  const subscribe = useCallback((l: Listener) => {
    listeners.current.add(l)
    return () => {
      listeners.current.delete(l)
    }
  }, [])
  return (
    <LiveContext.Provider value={{ state, recent, subscribe, connects }}>{children}</LiveContext.Provider>
  )
}

export const useLive = () => useContext(LiveContext)

/** Call `onFrame` for every frame of the app's stream while the component is mounted. */
export const useFrames = (onFrame: (f: Frame) => void) => {
  const { subscribe } = useLive()
  const ref = useRef(onFrame)
  ref.current = onFrame
  useEffect(() => subscribe((f) => ref.current(f)), [subscribe])
}
