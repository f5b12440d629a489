/**
 * The live feed: one `/api/v1/stream` EventSource for the whole app (spec api §7.6). Browsers cannot send
 * headers on an EventSource, so every (re)connect first mints a fresh single-use ticket
 * (`POST /auth/sse-ticket`, §5.1); on an error the stream is closed and reopened 3 s later with a new
 * ticket (§8). Frames are `event: message` with `{type: "stats"|"histogram"|"logs", data}`.
 */
import { createContext, type ReactNode, useCallback, useContext, useEffect, useRef, useState } from "react"
import { api, call, type Histogram, type LogRow, type Stats } from "./client"

export type LiveState = "connecting" | "live" | "off"
export type Frame =
  | { readonly type: "stats"; readonly data: Stats }
  | { readonly type: "histogram"; readonly data: Histogram }
  | { readonly type: "logs"; readonly data: ReadonlyArray<LogRow> }

const RECONNECT_MS = 3_000

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

export const LiveProvider = ({ enabled, children }: { enabled: boolean; children: ReactNode }) => {
  const [state, setState] = useState<LiveState>("off")
  const [connects, setConnects] = useState(0)
  const [recent, setRecent] = useState<ReadonlyArray<LogRow>>([])
  const listeners = useRef(new Set<Listener>())

  useEffect(() => {
    if (!enabled) {
      setState("off")
      setRecent([])
      return
    }
    let closed = false
    let source: EventSource | undefined
    let timer: ReturnType<typeof setTimeout> | undefined
    const retry = () => {
      if (closed) return
      setState("connecting")
      timer = setTimeout(connect, RECONNECT_MS)
    }
    const connect = () => {
      if (closed) return
      setState("connecting")
      call(api.POST("/api/v1/auth/sse-ticket"))
        .then(({ ticket }) => {
          if (closed) return
          const es = new EventSource(`/api/v1/stream?ticket=${encodeURIComponent(ticket)}`)
          source = es
          es.onopen = () => {
            setState("live")
            setConnects((n) => n + 1)
          }
          es.onmessage = (ev: MessageEvent<string>) => {
            let frame: unknown
            try {
              frame = JSON.parse(ev.data)
            } catch {
              return
            }
            if (!isFrame(frame)) return
            if (frame.type === "logs") {
              // The server sends rows in ascending id order; the feed shows the newest first.
              const rows = [...frame.data].reverse()
              setRecent((old) => [...rows, ...old].slice(0, RECENT_MAX))
            }
            for (const l of listeners.current) l(frame)
          }
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
  }, [enabled])

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
