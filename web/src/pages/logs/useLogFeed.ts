/**
 * The rows of one search and window: pages of 500 from `GET /logs` (newest first) loaded as the table
 * scrolls, plus the events that arrived since. New events never move what the reader is looking at: they
 * wait in `pending` (the "N new events — show" button) unless the list is scrolled to the top.
 *
 * The app's live stream is unfiltered, so a `logs` frame is only a hint when a search is set: the head
 * page is re-read (at most every 1.5 s) and whatever has a higher id than the newest row shown is new.
 * Without a search the frame's rows are the new rows themselves.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from "react"
import { api, call, type LogPage, type LogRow, type paths } from "../../api/client"
import { useFrames } from "../../api/stream"

export const PAGE = 500
const CHECK_GAP_MS = 1_500

export interface FeedQuery {
  readonly search: string
  readonly start: string | undefined
  readonly end: string | undefined
  /** Changing it reloads from the top (the page's Refresh). */
  readonly epoch: number
}

export interface FeedState {
  /** Newest first (timestamp, then id). */
  readonly rows: ReadonlyArray<LogRow>
  /** Matching events on the server, as of the last page or live update. */
  readonly total: number | undefined
  /** The total the first page reported: stays put while live rows come in. */
  readonly firstTotal: number | undefined
  readonly loading: boolean
  /** A page came back short: nothing more to load. */
  readonly exhausted: boolean
  readonly error: unknown
  /** New events not shown yet, newest first; at most one page of them is kept. */
  readonly pending: ReadonlyArray<LogRow>
  readonly pendingCount: number
  /** Highest id shown or pending: anything above it is new. */
  readonly maxId: number
  /** Bumped whenever new rows are shown (the histogram refreshes on it). */
  readonly version: number
}

const EMPTY: FeedState = {
  rows: [],
  total: undefined,
  firstTotal: undefined,
  loading: false,
  exhausted: false,
  error: undefined,
  pending: [],
  pendingCount: 0,
  maxId: 0,
  version: 0
}

type Query = NonNullable<paths["/api/v1/logs"]["get"]["parameters"]["query"]>

export const queryOf = ({ search, start, end }: FeedQuery): Query => ({
  ...(search.trim() === "" ? {} : { search }),
  ...(start === undefined ? {} : { start_time: start }),
  ...(end === undefined ? {} : { end_time: end })
})

export const fetchLogs = (query: FeedQuery, offset: number, limit: number): Promise<LogPage> =>
  call(
    api.GET("/api/v1/logs", {
      params: { query: { ...queryOf(query), limit: String(limit), offset: String(offset) } }
    })
  )

const newestFirst = (a: LogRow, b: LogRow) =>
  a.timestamp === b.timestamp ? b.id - a.id : a.timestamp < b.timestamp ? 1 : -1

/** Both lists as one, each id once, newest first. */
const merge = (a: ReadonlyArray<LogRow>, b: ReadonlyArray<LogRow>): ReadonlyArray<LogRow> => {
  const seen = new Set<number>()
  const out: Array<LogRow> = []
  for (const r of [...a, ...b]) {
    if (seen.has(r.id)) continue
    seen.add(r.id)
    out.push(r)
  }
  return out.sort(newestFirst)
}

const maxIdOf = (rows: ReadonlyArray<LogRow>, floor: number) =>
  rows.reduce((m, r) => Math.max(m, r.id), floor)

/**
 * @param live follow new events (false when the window has a fixed end)
 * @param atTop whether the reader is at the top of the list, where new rows may be shown at once
 */
export const useLogFeed = (query: FeedQuery, live: boolean, atTop: () => boolean) => {
  const { search, start, end, epoch } = query
  const q = useMemo<FeedQuery>(() => ({ search, start, end, epoch }), [search, start, end, epoch])
  const [state, setState] = useState<FeedState>(EMPTY)
  // The truth for async work; `state` is its rendered copy.
  const cur = useRef(EMPTY)
  // Bumped by every reset: answers to an older generation are dropped.
  const gen = useRef(0)
  const busy = useRef(false)
  const checkTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined)
  const lastCheck = useRef(0)
  const atTopRef = useRef(atTop)
  atTopRef.current = atTop

  const update = useCallback((g: number, f: (s: FeedState) => FeedState) => {
    if (g !== gen.current) return
    cur.current = f(cur.current)
    setState(cur.current)
  }, [])

  const loadMore = useCallback(() => {
    const s = cur.current
    if (busy.current || s.exhausted || s.error !== undefined) return
    if (s.total !== undefined && s.rows.length >= s.total) return
    const g = gen.current
    busy.current = true
    update(g, (s) => ({ ...s, loading: true }))
    fetchLogs(q, s.rows.length, PAGE)
      .then(
        (page) =>
          update(g, (s) => ({
            ...s,
            rows: merge(s.rows, page.data),
            // The server already counts the pending rows; they are added when shown.
            total: Math.max(0, page.total - s.pendingCount),
            firstTotal: s.firstTotal ?? page.total,
            maxId: maxIdOf(page.data, s.maxId),
            exhausted: page.data.length < PAGE,
            loading: false
          })),
        (error: unknown) => update(g, (s) => ({ ...s, loading: false, error }))
      )
      .finally(() => {
        if (g === gen.current) busy.current = false
      })
  }, [q, update])

  const reset = useCallback(() => {
    gen.current += 1
    busy.current = false
    clearTimeout(checkTimer.current)
    checkTimer.current = undefined
    cur.current = { ...EMPTY, version: cur.current.version }
    setState(cur.current)
    loadMore()
  }, [loadMore])

  useEffect(() => {
    reset()
    return () => clearTimeout(checkTimer.current)
  }, [reset])

  const retry = useCallback(() => {
    update(gen.current, (s) => ({ ...s, error: undefined }))
    loadMore()
  }, [loadMore, update])

  /** Take `fresh` (newest first, all above maxId) standing for `count` new events. */
  const accept = useCallback(
    (g: number, fresh: ReadonlyArray<LogRow>, count: number) =>
      update(g, (s) => {
        if (count <= 0 || s.total === undefined) return s
        const maxId = maxIdOf(fresh, s.maxId)
        if (s.pendingCount === 0 && count === fresh.length && atTopRef.current())
          return { ...s, rows: merge(fresh, s.rows), total: s.total + count, maxId, version: s.version + 1 }
        return {
          ...s,
          pending: merge(fresh, s.pending).slice(0, PAGE),
          pendingCount: s.pendingCount + count,
          maxId
        }
      }),
    [update]
  )

  const check = useCallback(() => {
    checkTimer.current = undefined
    lastCheck.current = Date.now()
    const g = gen.current
    fetchLogs(q, 0, PAGE).then(
      (page) => {
        const s = cur.current
        if (s.total === undefined) return
        const fresh = page.data.filter((r) => r.id > s.maxId)
        // A full head page of new rows may hide more: the totals say how many.
        accept(g, fresh, Math.max(fresh.length, page.total - s.total - s.pendingCount))
      },
      () => {
        // A failed check is retried on the next frame.
      }
    )
  }, [q, accept])

  useFrames((f) => {
    if (f.type !== "logs" || !live) return
    const s = cur.current
    if (s.total === undefined) return
    if (q.search.trim() === "") {
      const fresh = f.data.filter((r) => r.id > s.maxId && (q.start === undefined || r.timestamp >= q.start))
      accept(gen.current, [...fresh].sort(newestFirst), fresh.length)
    } else if (checkTimer.current === undefined)
      checkTimer.current = setTimeout(check, Math.max(0, lastCheck.current + CHECK_GAP_MS - Date.now()))
  })

  /** Show the pending rows (or reload from the top when more arrived than were kept). */
  const showPending = useCallback(() => {
    const s = cur.current
    if (s.pendingCount > s.pending.length) {
      reset()
      update(gen.current, (s) => ({ ...s, version: s.version + 1 }))
      return
    }
    update(gen.current, (s) => ({
      ...s,
      rows: merge(s.pending, s.rows),
      total: (s.total ?? 0) + s.pendingCount,
      pending: [],
      pendingCount: 0,
      version: s.version + 1
    }))
  }, [reset, update])

  return { ...state, loadMore, reset, retry, showPending, live }
}
