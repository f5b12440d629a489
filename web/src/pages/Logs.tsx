/**
 * Live logs: every stored event for a search and time window (both in the URL), as a histogram and a
 * virtualised table that pages in as it scrolls and takes new events from the live stream without moving
 * the reader. A row opens in a dialog (`?id=`) with its fields and, for admins, its evidence.
 */
import { keepPreviousData, useQuery, useQueryClient } from "@tanstack/react-query"
import { type FormEvent, useCallback, useEffect, useRef, useState } from "react"
import { Link, useSearchParams } from "react-router"
import { api, call } from "../api/client"
import { useLive } from "../api/stream"
import { useAuth } from "../auth"
import { EventsChart } from "../components/EventsChart"
import { Empty, ErrorText, Loading, PageHeader } from "../components/ui"
import { LogDetail } from "./logs/LogDetail"
import { LogTable } from "./logs/LogTable"
import { describeWindow, intervalFor, PRESETS, type PresetKey, readRange, resolveRange } from "./logs/range"
import { SearchHelp } from "./logs/SearchHelp"
import { fetchLogs, queryOf, useLogFeed } from "./logs/useLogFeed"
import { TouchHint } from "./TouchHint"
import "./logs/logs.css"

/** The histogram follows new rows at most this often. */
const HISTOGRAM_REFRESH_MS = 3_000

const idOf = (v: string | null) => (v !== null && /^\d{1,15}$/.test(v) ? Number(v) : undefined)

export const LogsPage = () => {
  const [params, setParams] = useSearchParams()
  const { isAdmin } = useAuth()
  const live = useLive()
  const queryClient = useQueryClient()
  const q = params.get("q") ?? ""
  const range = readRange(params)
  const rangeKey = range.kind === "preset" ? range.key : `${range.from ?? ""}/${range.to ?? ""}`
  const selectedId = idOf(params.get("id"))

  // A relative window is measured from one moment, re-taken when the search or range changes (or on
  // Refresh), so it does not slide under rows already loaded.
  const anchorKey = `${q}\n${rangeKey}`
  const [anchor, setAnchor] = useState({ key: anchorKey, at: Date.now() })
  if (anchor.key !== anchorKey) setAnchor({ key: anchorKey, at: Date.now() })
  const win = resolveRange(range, anchor.at)
  const query = { search: q, start: win.start, end: win.end, epoch: anchor.at }
  const following = win.end === undefined

  const scrollRef = useRef<HTMLDivElement>(null)
  const atTop = useCallback(() => (scrollRef.current?.scrollTop ?? 0) < 8, [])
  const feed = useLogFeed(query, following, atTop)

  const hasMore =
    !feed.exhausted && feed.error === undefined && (feed.total === undefined || feed.rows.length < feed.total)
  const empty = feed.total !== undefined && feed.rows.length === 0 && !hasMore

  // Without a lower bound the histogram's buckets are sized from the oldest matching event: the last row
  // when all are loaded, else the one at offset total - 1.
  const lastLoaded = hasMore ? undefined : feed.rows[feed.rows.length - 1]?.timestamp
  const firstTotal = feed.firstTotal ?? 0
  const oldest = useQuery({
    queryKey: ["logs", "oldest", q, win.end, firstTotal],
    enabled: win.start === undefined && lastLoaded === undefined && firstTotal > 0,
    queryFn: () => fetchLogs(query, firstTotal - 1, 1).then((p) => p.data[0]?.timestamp ?? null)
  })
  const oldestStamp = win.start === undefined ? (lastLoaded ?? oldest.data ?? undefined) : undefined
  const interval = intervalFor(win, anchor.at, oldestStamp)
  const histogram = useQuery({
    queryKey: ["logs", "histogram", q, win.start, win.end, interval],
    enabled: win.start !== undefined || oldestStamp !== undefined,
    placeholderData: keepPreviousData,
    queryFn: () =>
      call(
        api.GET("/api/v1/logs/histogram", {
          params: { query: { ...queryOf(query), interval_minutes: String(interval) } }
        })
      )
  })
  const histogramTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined)
  useEffect(() => {
    if (feed.version === 0 || histogramTimer.current !== undefined) return
    histogramTimer.current = setTimeout(() => {
      histogramTimer.current = undefined
      void queryClient.invalidateQueries({ queryKey: ["logs", "histogram"] })
    }, HISTOGRAM_REFRESH_MS)
  }, [feed.version, queryClient])
  useEffect(() => () => clearTimeout(histogramTimer.current), [])

  const filtered = q.trim() !== "" || win.start !== undefined || win.end !== undefined
  // Is the store empty, or only this search/window?
  const anyEvents = useQuery({
    queryKey: ["logs", "any"],
    enabled: filtered && empty,
    queryFn: () => fetchLogs({ search: "", start: undefined, end: undefined, epoch: 0 }, 0, 1)
  })

  const edit = (f: (p: URLSearchParams) => void, replace = false) =>
    setParams(
      (old) => {
        const p = new URLSearchParams(old)
        f(p)
        return p
      },
      { replace }
    )
  const setSearch = (search: string) =>
    edit((p) => {
      if (search.trim() === "") p.delete("q")
      else p.set("q", search)
      p.delete("id")
    })
  const setPreset = (key: PresetKey) =>
    edit((p) => {
      p.set("range", key)
      p.delete("from")
      p.delete("to")
    })
  const [rangeError, setRangeError] = useState<string | undefined>(undefined)
  const applyCustom = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault()
    const data = new FormData(e.currentTarget)
    const from = String(data.get("from") ?? "")
    const to = String(data.get("to") ?? "")
    if (from !== "" && to !== "" && from > to) {
      setRangeError("“From” must be before “To”.")
      return
    }
    setRangeError(undefined)
    edit((p) => {
      p.delete("range")
      for (const [k, v] of [
        ["from", from],
        ["to", to]
      ] as const)
        if (v === "") p.delete(k)
        else p.set(k, v)
    })
  }
  const submitSearch = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault()
    setSearch(String(new FormData(e.currentTarget).get("q") ?? ""))
  }
  const open = (id: number) => edit((p) => p.set("id", String(id)))
  const close = () => edit((p) => p.delete("id"), true)
  const showNew = () => {
    feed.showPending()
    scrollRef.current?.scrollTo({ top: 0 })
  }
  const refresh = () => {
    setAnchor({ key: anchorKey, at: Date.now() })
    void queryClient.invalidateQueries({ queryKey: ["logs"] })
  }

  const selected =
    selectedId === undefined
      ? undefined
      : (feed.rows.find((r) => r.id === selectedId) ?? feed.pending.find((r) => r.id === selectedId))

  const body = () => {
    if (feed.total === undefined) return feed.error === undefined ? <Loading what="events" /> : null
    if (!empty)
      return (
        <LogTable
          rows={feed.rows}
          hasMore={hasMore}
          loading={feed.loading}
          scrollRef={scrollRef}
          selectedId={selectedId}
          onLoadMore={feed.loadMore}
          onOpen={open}
        />
      )
    if (filtered && anyEvents.data === undefined)
      return anyEvents.error === null ? <Loading what="events" /> : <ErrorText error={anyEvents.error} />
    if (!filtered || anyEvents.data?.total === 0)
      return (
        <Empty title="No events yet">
          <p>
            Events appear here as soon as something touches a decky (the <Link to="/">Overview</Link> page has
            the same hint), and this page shows them live.
          </p>
          <TouchHint />
          <p className="muted small">
            To follow them from a terminal instead: <code>npx decnet logs --follow</code>
          </p>
        </Empty>
      )
    return (
      <Empty title={q.trim() === "" ? "No events in this time range" : "No events match this search"}>
        <p>
          {q.trim() === "" ? (
            "Nothing was logged "
          ) : (
            <>
              Nothing matches <code>{q}</code>{" "}
            </>
          )}
          {describeWindow(range, win) === "all time" ? "at all." : `${describeWindow(range, win)}.`}
        </p>
        <div className="row">
          {q.trim() !== "" && (
            <button type="button" className="primary" onClick={() => setSearch("")}>
              Clear search
            </button>
          )}
          {(range.kind === "custom" || range.key !== "all") && (
            <button type="button" onClick={() => setPreset("all")}>
              Search all time
            </button>
          )}
        </div>
      </Empty>
    )
  }

  return (
    <>
      <PageHeader title="Live logs">
        <span className="muted small" role="status">
          {!following
            ? "Live updates off: the range has a fixed end"
            : live.state === "live"
              ? "Following new events"
              : "Live stream reconnecting…"}
        </span>
        <button type="button" onClick={refresh}>
          Refresh
        </button>
      </PageHeader>

      <section className="card logs-controls" aria-label="Search and time range">
        <search className="logs-searchbox">
          <form className="row logs-search" onSubmit={submitSearch}>
            <label className="inline" htmlFor="logs-q">
              Search
            </label>
            <input
              id="logs-q"
              key={q}
              name="q"
              type="search"
              defaultValue={q}
              maxLength={512}
              placeholder="service:ssh attacker_ip:1.2.3.4 free text"
              spellCheck={false}
              autoComplete="off"
            />
            <button type="submit" className="primary">
              Search
            </button>
            {q !== "" && (
              <button type="button" onClick={() => setSearch("")}>
                Clear
              </button>
            )}
          </form>
          <SearchHelp onUse={setSearch} />
        </search>
        <div className="row logs-range">
          <fieldset className="row logs-presets" aria-label="Time range">
            {PRESETS.map((p) => (
              <button
                key={p.key}
                type="button"
                aria-pressed={range.kind === "preset" && range.key === p.key}
                onClick={() => setPreset(p.key)}
              >
                {p.label}
              </button>
            ))}
          </fieldset>
          <form className="row" key={rangeKey} onSubmit={applyCustom} aria-label="Custom time range">
            <label className="inline">
              From (UTC)
              <input
                type="datetime-local"
                name="from"
                step={1}
                defaultValue={range.kind === "custom" ? range.from : undefined}
              />
            </label>
            <label className="inline">
              To (UTC)
              <input
                type="datetime-local"
                name="to"
                step={1}
                defaultValue={range.kind === "custom" ? range.to : undefined}
              />
            </label>
            <button type="submit">Apply range</button>
          </form>
        </div>
        {rangeError !== undefined && <p className="error">{rangeError}</p>}
      </section>

      <section className="card logs-histogram" aria-label="Events over time">
        <h2>
          Events over time · {describeWindow(range, win)} · {interval}-minute buckets
        </h2>
        <ErrorText error={histogram.error ?? oldest.error} />
        {empty ? (
          <p className="muted">Nothing to chart.</p>
        ) : (
          <EventsChart data={histogram.data ?? []} height={140} label="Matching events over time" />
        )}
      </section>

      <div className="row logs-status">
        {feed.total !== undefined && (
          <span role="status" data-testid="log-count">
            {feed.rows.length.toLocaleString()} of {feed.total.toLocaleString()} events
          </span>
        )}
        {feed.pendingCount > 0 && (
          <button type="button" className="primary" onClick={showNew}>
            {feed.pendingCount.toLocaleString()} new events — show
          </button>
        )}
      </div>
      {feed.error !== undefined && (
        <div className="row">
          <ErrorText error={feed.error} />
          <button type="button" onClick={feed.retry}>
            Retry
          </button>
        </div>
      )}
      {body()}

      {selectedId !== undefined && (
        <LogDetail
          key={selectedId}
          id={selectedId}
          row={selected}
          waiting={feed.total === undefined || feed.loading}
          isAdmin={isAdmin}
          onClose={close}
          onSearch={setSearch}
        />
      )}
    </>
  )
}
