/**
 * The events as a virtualised <table> (rows laid out as CSS grids): only the rows in view are in the DOM, and the
 * next page is asked for when the reader nears the end. Rows take focus; Enter or a click opens one,
 * the arrow keys move between them.
 */
import { useVirtualizer } from "@tanstack/react-virtual"
import { type KeyboardEvent, type RefObject, useEffect } from "react"
import type { LogRow } from "../../api/client"
import { summaryOf } from "./fields"

const ROW_PX = 30
/** Ask for the next page this many rows before the end. */
const PREFETCH_ROWS = 100

const COLUMNS = ["Time (UTC)", "Decky", "Service", "Event type", "Attacker IP", "Message"] as const

export const LogTable = ({
  rows,
  hasMore,
  loading,
  scrollRef,
  selectedId,
  onLoadMore,
  onOpen
}: {
  rows: ReadonlyArray<LogRow>
  hasMore: boolean
  loading: boolean
  scrollRef: RefObject<HTMLDivElement | null>
  selectedId: number | undefined
  onLoadMore: () => void
  onOpen: (id: number) => void
}) => {
  const count = rows.length + (hasMore ? 1 : 0)
  const virtual = useVirtualizer({
    count,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_PX,
    overscan: 15,
    getItemKey: (i) => rows[i]?.id ?? "more"
  })
  const items = virtual.getVirtualItems()
  const last = items[items.length - 1]?.index ?? 0

  useEffect(() => {
    if (hasMore && !loading && last >= rows.length - PREFETCH_ROWS) onLoadMore()
  }, [hasMore, loading, last, rows.length, onLoadMore])

  const focusRow = (index: number) => {
    if (index < 0 || index >= rows.length) return
    virtual.scrollToIndex(index, { align: "auto" })
    requestAnimationFrame(() =>
      scrollRef.current?.querySelector<HTMLElement>(`[data-index="${index}"]`)?.focus()
    )
  }

  const onKey = (e: KeyboardEvent<HTMLTableRowElement>, index: number, id: number) => {
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault()
      onOpen(id)
    } else if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault()
      focusRow(index + (e.key === "ArrowDown" ? 1 : -1))
    } else if (e.key === "Home" || e.key === "End") {
      e.preventDefault()
      focusRow(e.key === "Home" ? 0 : rows.length - 1)
    }
  }

  return (
    <div ref={scrollRef} className="vtable logs-table">
      <table aria-label="Log events" aria-rowcount={count + 1}>
        <thead className="vhead">
          <tr className="logs-grid" aria-rowindex={1}>
            {COLUMNS.map((c) => (
              <th key={c} scope="col">
                {c}
              </th>
            ))}
          </tr>
        </thead>
        <tbody style={{ height: virtual.getTotalSize() }}>
          {items.map((item) => {
            const row = rows[item.index]
            const style = { height: item.size, transform: `translateY(${item.start}px)` }
            if (row === undefined)
              return (
                <tr key={item.key} className="logs-more muted" style={style}>
                  <td>{loading ? "Loading more events…" : "Scroll for more"}</td>
                </tr>
              )
            const summary = summaryOf(row)
            return (
              <tr
                key={item.key}
                tabIndex={0}
                aria-rowindex={item.index + 2}
                data-index={item.index}
                data-testid="log-row"
                className={`vrow logs-grid logs-row${row.id === selectedId ? " selected" : ""}`}
                style={style}
                onClick={() => onOpen(row.id)}
                onKeyDown={(e) => onKey(e, item.index, row.id)}
              >
                <td className="mono" title={row.timestamp}>
                  {row.timestamp.slice(0, 19)}
                </td>
                <td title={row.decky}>{row.decky}</td>
                <td>
                  <span className="tag">{row.service}</span>
                </td>
                <td title={row.event_type}>{row.event_type}</td>
                <td className="mono">{row.attacker_ip}</td>
                <td title={summary}>{summary}</td>
              </tr>
            )
          })}
        </tbody>
      </table>
    </div>
  )
}
