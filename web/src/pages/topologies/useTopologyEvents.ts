/**
 * One topology's live stream, `GET /topologies/{id}/events` (topology.md §8): like the app's stream
 * (api/stream.tsx), every (re)connect first trades the token for a single-use ticket
 * (`POST /auth/sse-ticket`), and after an error the stream reopens 3 s later with a new one. Frames are
 * named: `snapshot` {topology_id, status, in_flight}, then `mutation.enqueued|applying|applied|failed`,
 * `status` and `decky.<tail>`, each {topic, type, ts, payload}; keepalives are comments.
 */
import { useEffect, useRef, useState } from "react"
import { api, call } from "../../api/client"

export type StreamState = "connecting" | "live"

export interface TopologyEvent {
  readonly name: string
  readonly data: unknown
}

const RECONNECT_MS = 3_000
/** The names the server sends (EventSource has no wildcard listener). */
const NAMES = [
  "snapshot",
  "status",
  "mutation.enqueued",
  "mutation.applying",
  "mutation.applied",
  "mutation.failed",
  "decky.mutation",
  "decky.state",
  "decky.status"
] as const

export const useTopologyEvents = (topologyId: string, onEvent: (e: TopologyEvent) => void) => {
  const [state, setState] = useState<StreamState>("connecting")
  const ref = useRef(onEvent)
  ref.current = onEvent
  useEffect(() => {
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
          const es = new EventSource(
            `/api/v1/topologies/${encodeURIComponent(topologyId)}/events?ticket=${encodeURIComponent(ticket)}`
          )
          source = es
          es.onopen = () => setState("live")
          for (const name of NAMES)
            es.addEventListener(name, (ev: MessageEvent<string>) => {
              let data: unknown
              try {
                data = JSON.parse(ev.data)
              } catch {
                data = undefined
              }
              ref.current({ name, data })
            })
          // A transport error, or the server's own `event: error` ("Stream interrupted"): start again.
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
  }, [topologyId])
  return state
}
