/** Events over time: the histogram buckets (`{time: "YYYY-MM-DD HH:MM:SS" UTC, count}`) as uPlot bars. */
import { useEffect, useRef } from "react"
import uPlot from "uplot"
import "uplot/dist/uPlot.min.css"
import type { Histogram } from "../api/client"

const epochOf = (time: string) => Date.parse(`${time.replace(" ", "T")}Z`) / 1000

const cssVar = (name: string, fallback: string) =>
  getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback

export const EventsChart = ({
  data,
  height = 200,
  label
}: {
  data: Histogram
  height?: number
  label: string
}) => {
  const host = useRef<HTMLDivElement>(null)
  const plot = useRef<uPlot | undefined>(undefined)

  useEffect(() => {
    const el = host.current
    if (el === null) return
    const accent = cssVar("--accent", "#4cc38a")
    const muted = cssVar("--muted", "#8b98a5")
    const grid = cssVar("--border", "#2a3541")
    const axis = { stroke: muted, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } }
    const u = new uPlot(
      {
        width: Math.max(300, el.clientWidth),
        height,
        legend: { show: false },
        cursor: { y: false },
        // Bars start at 0, and times read in UTC as the API stores them.
        // A few buckets still get a readable window (at least 2 h) instead of uPlot's years-wide default.
        scales: {
          x: { time: true },
          y: { range: (_u, _min, max) => [0, Math.max(1, max)] }
        },
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
        axes: [axis, { ...axis, size: 50 }],
        series: [
          {},
          {
            label: "events",
            stroke: accent,
            fill: `${accent}55`,
            paths: uPlot.paths.bars?.({ size: [0.8, 40] }),
            points: { show: false }
          }
        ]
      },
      [[], []],
      el
    )
    plot.current = u
    const ro = new ResizeObserver(() => u.setSize({ width: Math.max(300, el.clientWidth), height }))
    ro.observe(el)
    return () => {
      ro.disconnect()
      u.destroy()
      plot.current = undefined
    }
  }, [height])

  useEffect(() => {
    const rows = [...data].sort((a, b) => (a.time < b.time ? -1 : 1))
    const xs = rows.map((r) => epochOf(r.time))
    const u = plot.current
    if (u === undefined) return
    u.setData([xs, rows.map((r) => r.count)])
    const min = xs[0]
    const max = xs[xs.length - 1]
    if (min === undefined || max === undefined) return
    const pad = Math.max(3600 - (max - min) / 2, (max - min) * 0.04, 60)
    u.setScale("x", { min: min - pad, max: max + pad })
  }, [data])

  return <div ref={host} role="img" aria-label={label} className="chart" />
}
