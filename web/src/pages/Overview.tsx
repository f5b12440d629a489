import { useQuery } from "@tanstack/react-query"
import { useMemo, useState } from "react"
import { Link } from "react-router"
import { api, call, type Histogram, type LogRow, type Stats } from "../api/client"
import { useFrames, useLive } from "../api/stream"
import { EventsChart } from "../components/EventsChart"
import { Empty, ErrorText, Loading, PageHeader } from "../components/ui"
import { TouchHint } from "./TouchHint"

/** Rows of DECNET's own (a mutation, a lifecycle step) carry no attacker. */
const NOT_ATTACKERS = new Set(["Unknown", "0.0.0.0", ""])
const RECENT = 1000

const top = (rows: ReadonlyArray<LogRow>, key: (r: LogRow) => string | null | undefined, n = 8) => {
  const counts = new Map<string, number>()
  for (const r of rows) {
    const k = key(r)
    if (k === null || k === undefined || k === "") continue
    counts.set(k, (counts.get(k) ?? 0) + 1)
  }
  return [...counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, n)
}

const Bars = ({
  title,
  rows,
  empty
}: {
  title: string
  rows: ReadonlyArray<[string, number]>
  empty: string
}) => {
  const max = Math.max(1, ...rows.map((r) => r[1]))
  return (
    <section className="card bars" aria-label={title}>
      <h2>{title}</h2>
      {rows.length === 0 ? (
        <p className="muted">{empty}</p>
      ) : (
        <ul>
          {rows.map(([k, v]) => (
            <li key={k}>
              <span className="mono" title={k}>
                {k}
              </span>
              <span className="bar" style={{ width: `${(100 * v) / max}%` }} />
              <span>{v.toLocaleString()}</span>
            </li>
          ))}
        </ul>
      )}
    </section>
  )
}

export const FeedLine = ({ row }: { row: LogRow }) => (
  <li data-testid="feed-row" data-id={row.id} data-ts={row.timestamp}>
    <span className="muted mono">{row.timestamp.slice(11, 19)}</span>{" "}
    <span className="tag">{row.service}</span> <strong>{row.event_type}</strong>{" "}
    <span className="mono">{row.attacker_ip}</span> → <span className="mono">{row.decky}</span>
  </li>
)

export const OverviewPage = () => {
  const stats = useQuery({ queryKey: ["stats"], queryFn: () => call(api.GET("/api/v1/stats")) })
  const histogram = useQuery({
    queryKey: ["histogram", 15],
    queryFn: () => call(api.GET("/api/v1/logs/histogram", { params: { query: { interval_minutes: "15" } } }))
  })
  const recent = useQuery({
    queryKey: ["logs", "recent", RECENT],
    queryFn: () => call(api.GET("/api/v1/logs", { params: { query: { limit: String(RECENT) } } }))
  })
  const [liveStats, setLiveStats] = useState<Stats | undefined>(undefined)
  const [liveHistogram, setLiveHistogram] = useState<Histogram | undefined>(undefined)
  const feed = useLive().recent

  useFrames((f) => {
    if (f.type === "stats") setLiveStats(f.data)
    else if (f.type === "histogram") setLiveHistogram(f.data)
  })

  const s = liveStats ?? stats.data
  const h = liveHistogram ?? histogram.data ?? []
  // The top lists: the latest 1,000 stored events plus what arrived live since.
  const window = useMemo(() => {
    const seen = new Set<number>()
    const rows: Array<LogRow> = []
    for (const r of [...feed, ...(recent.data?.data ?? [])]) {
      if (seen.has(r.id)) continue
      seen.add(r.id)
      rows.push(r)
    }
    return rows.slice(0, RECENT)
  }, [feed, recent.data])

  const cards: ReadonlyArray<[string, number | undefined]> = [
    ["Events", s?.total_logs],
    ["Attackers", s?.unique_attackers],
    ["Deckies under attack", s?.active_deckies],
    ["Deckies deployed", s?.deployed_deckies]
  ]
  return (
    <>
      <PageHeader title="Overview" />
      <ErrorText error={stats.error ?? histogram.error ?? recent.error} />
      <div className="grid grid-4">
        {cards.map(([label, value]) => (
          <section className="card stat" key={label} aria-label={label}>
            <div className="value" data-testid={`stat-${label}`}>
              {value === undefined ? "…" : value.toLocaleString()}
            </div>
            <div className="label">{label}</div>
          </section>
        ))}
      </div>
      <div className="grid grid-2" style={{ marginTop: 14 }}>
        <section className="card" aria-label="Events over time">
          <h2>Events over time (15-minute buckets, UTC)</h2>
          {h.length === 0 && !histogram.isLoading ? (
            <p className="muted">No events yet.</p>
          ) : (
            <EventsChart data={h} label="Events per 15 minutes" />
          )}
        </section>
        <section className="card" aria-label="Live feed">
          <h2>Live feed</h2>
          {feed.length === 0 ? (
            s !== undefined && s.total_logs === 0 ? (
              <TouchHint />
            ) : (
              <p className="muted">
                Waiting for the next touch… Older events are in <Link to="/logs">Live logs</Link>.
              </p>
            )
          ) : (
            <div className="feed">
              <ul>
                {feed.map((r) => (
                  <FeedLine key={r.id} row={r} />
                ))}
              </ul>
            </div>
          )}
        </section>
      </div>
      {recent.isLoading ? (
        <Loading what="recent events" />
      ) : (
        <div className="grid grid-3" style={{ marginTop: 14 }}>
          <Bars
            title="Top attacker IPs"
            rows={top(window, (r) => (NOT_ATTACKERS.has(r.attacker_ip) ? null : r.attacker_ip))}
            empty="No attackers yet."
          />
          <Bars
            title="Deckies under attack"
            rows={top(window, (r) => r.decky)}
            empty="No decky touched yet."
          />
          <Bars title="Events by service" rows={top(window, (r) => r.service)} empty="No events yet." />
        </div>
      )}
      {window.length > 0 && (
        <p className="muted small">Top lists: the latest {window.length.toLocaleString()} events.</p>
      )}
    </>
  )
}

export const NoEvents = () => (
  <Empty title="No events yet">
    <TouchHint />
  </Empty>
)
