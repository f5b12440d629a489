/**
 * One event in a modal <dialog>: every column, the decoded `fields`, the raw RFC 5424 line, and for an
 * admin the evidence it points at (a quarantined upload or message, a shell session recording).
 */
import { useEffect, useRef, useState } from "react"
import { download, type LogRow } from "../../api/client"
import { ErrorText } from "../../components/ui"
import { fieldsOf, showValue, textField } from "./fields"
import { SessionReplay } from "./Replay"

const SEVERITY = ["emergency", "alert", "critical", "error", "warning", "notice", "info", "debug"] as const
/** Services whose captures `GET /artifacts` serves (spec api §7.16). */
const CAPTURING = new Set(["ssh", "ftp", "smtp"])

const Value = ({ value }: { value: unknown }) => {
  const { text, block } = showValue(value)
  return block ? <pre className="logs-pre">{text}</pre> : <span className="mono">{text}</span>
}

const Artifact = ({ row, storedAs }: { row: LogRow; storedAs: string }) => {
  const [error, setError] = useState<unknown>(undefined)
  const [busy, setBusy] = useState(false)
  const service = CAPTURING.has(row.service) ? row.service : "ssh"
  const save = () => {
    setBusy(true)
    setError(undefined)
    download(
      `/api/v1/artifacts/${encodeURIComponent(row.decky)}/${encodeURIComponent(storedAs)}?service=${service}`,
      storedAs
    )
      .catch(setError)
      .finally(() => setBusy(false))
  }
  return (
    <section aria-label="Captured artifact" className="logs-section">
      <h3>Captured artifact</h3>
      <div className="row">
        <button type="button" className="primary" onClick={save} disabled={busy}>
          {busy ? "Downloading…" : "Download artifact"}
        </button>
        <span className="muted small mono">{storedAs}</span>
      </div>
      <p className="muted small">Attacker-supplied bytes: open them only in an isolated environment.</p>
      <ErrorText error={error} />
    </section>
  )
}

export const LogDetail = ({
  id,
  row,
  waiting,
  isAdmin,
  onClose,
  onSearch
}: {
  id: number
  /** The row, when it is among those loaded. */
  row: LogRow | undefined
  /** Rows are still loading: the row may yet turn up. */
  waiting: boolean
  isAdmin: boolean
  onClose: () => void
  onSearch: (search: string) => void
}) => {
  const ref = useRef<HTMLDialogElement>(null)
  useEffect(() => {
    // Unmounting removes the dialog from the document, and with it from the top layer.
    const d = ref.current
    if (d !== null && !d.open) d.showModal()
  }, [])

  const fields = row === undefined ? undefined : fieldsOf(row)
  const storedAs = textField(fields, "stored_as")
  const sid = row?.event_type === "session_recorded" ? textField(fields, "sid") : undefined
  const columns: ReadonlyArray<[string, string | number | null]> =
    row === undefined
      ? []
      : [
          ["Time (UTC)", row.timestamp],
          ["Decky", row.decky],
          ["Service", row.service],
          ["Event type", row.event_type],
          ["Attacker IP", row.attacker_ip],
          ["Attacker port", row.attacker_port],
          ["Severity", `${row.severity} (${SEVERITY[row.severity]})`],
          ["Message", row.msg],
          ["Trace ID", row.trace_id],
          ["Span ID", row.span_id]
        ]

  return (
    <dialog ref={ref} className="logs-dialog" aria-labelledby="log-detail-title" onClose={onClose}>
      <header className="page-header">
        <h2 id="log-detail-title">Event #{id}</h2>
        <form method="dialog">
          <button type="submit" aria-label="Close event details">
            Close
          </button>
        </form>
      </header>
      {row === undefined ? (
        <p className="muted">
          {waiting
            ? "Loading…"
            : "This event is not among the rows loaded for the current search and time range. Clear the search, widen the range, or scroll further to load more."}
        </p>
      ) : (
        <>
          <table aria-label="Event columns" className="logs-kv">
            <tbody>
              {columns.map(([k, v]) => (
                <tr key={k}>
                  <th scope="row">{k}</th>
                  <td>{v === null || v === "" ? <span className="muted">—</span> : <Value value={v} />}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <div className="row small">
            <button type="button" className="link" onClick={() => onSearch(`attacker_ip:${row.attacker_ip}`)}>
              Events from this attacker
            </button>
            <button type="button" className="link" onClick={() => onSearch(`decky:${row.decky}`)}>
              Events on this decky
            </button>
          </div>
          <section aria-label="Fields" className="logs-section">
            <h3>Fields</h3>
            {fields === undefined ? (
              <pre className="logs-pre">{row.fields}</pre>
            ) : Object.keys(fields).length === 0 ? (
              <p className="muted">No structured fields.</p>
            ) : (
              <table aria-label="Event fields" className="logs-kv">
                <tbody>
                  {Object.entries(fields).map(([k, v]) => (
                    <tr key={k}>
                      <th scope="row" className="mono">
                        {k}
                      </th>
                      <td>
                        <Value value={v} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>
          <section aria-label="Raw line" className="logs-section">
            <h3>Raw line</h3>
            <pre className="logs-pre">{row.raw_line}</pre>
          </section>
          {isAdmin && storedAs !== undefined && <Artifact row={row} storedAs={storedAs} />}
          {isAdmin && sid !== undefined && <SessionReplay decky={row.decky} sid={sid} />}
        </>
      )}
    </dialog>
  )
}
