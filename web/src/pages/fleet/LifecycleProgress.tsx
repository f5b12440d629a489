import { useEffect, useRef } from "react"
import { ErrorText } from "../../components/ui"
import { useLifecycle } from "./useLifecycle"

/** Per-decky progress of a deploy or mutate: pending → running → succeeded | failed (with the error). */
export const LifecycleProgress = ({
  ids,
  label,
  onDone
}: {
  ids: ReadonlyArray<string>
  label: string
  /** Called once when every row is done, with the number that failed. */
  onDone?: (failed: number) => void
}) => {
  const { rows, done, error } = useLifecycle(ids)
  const failed = rows.filter((r) => r.row?.status === "failed").length
  const reported = useRef(false)
  useEffect(() => {
    if (!done || reported.current) return
    reported.current = true
    onDone?.(failed)
  }, [done, failed, onDone])
  return (
    <section className="lifecycle" aria-label={label} aria-live="polite" data-testid="lifecycle">
      <p className="small">
        <strong>{label}</strong>{" "}
        {done ? (
          <span className={failed > 0 ? "status-failed" : "status-succeeded"}>
            {failed > 0 ? `finished, ${failed} failed` : "finished"}
          </span>
        ) : (
          <span className="muted" aria-busy="true">
            in progress…
          </span>
        )}
      </p>
      <ul>
        {rows.map(({ id, row }) => (
          <li key={id}>
            <span className="mono">{row?.decky_name ?? id}</span>{" "}
            {row === undefined ? (
              <span className="muted">{done ? "unknown" : "waiting…"}</span>
            ) : (
              <>
                <span className={`status-${row.status}`} data-testid="lifecycle-status">
                  {row.status}
                </span>
                {row.error !== null && <span className="error small"> {row.error}</span>}
              </>
            )}
          </li>
        ))}
      </ul>
      <ErrorText error={error} />
    </section>
  )
}
