import { type ReactNode, useState } from "react"
import { ApiError } from "../api/client"

/** An error as a person reads it: the server's `detail` when there is one. */
export const ErrorText = ({ error }: { error: unknown }) => {
  if (error === null || error === undefined) return null
  const text =
    error instanceof ApiError ? error.detail : error instanceof Error ? error.message : String(error)
  return (
    <p className="error" role="alert">
      {text}
    </p>
  )
}

export const Empty = ({ title, children }: { title: string; children?: ReactNode }) => (
  <div className="empty">
    <h3>{title}</h3>
    {children}
  </div>
)

export const Loading = ({ what }: { what: string }) => (
  <p className="muted" aria-busy="true">
    Loading {what}…
  </p>
)

/** A secret, hidden until the operator chooses to reveal it. */
export const Secret = ({ value, label }: { value: string | null | undefined; label: string }) => {
  const [shown, setShown] = useState(false)
  if (value === null || value === undefined || value === "") return <span className="muted">—</span>
  return (
    <span className="secret">
      <code>{shown ? value : "••••••••"}</code>
      <button
        type="button"
        className="link"
        aria-label={`${shown ? "Hide" : "Reveal"} ${label}`}
        onClick={() => setShown((s) => !s)}
      >
        {shown ? "hide" : "reveal"}
      </button>
    </span>
  )
}

export const ago = (seconds: number | null | undefined): string => {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "never"
  if (seconds < 60) return `${Math.round(seconds)} s ago`
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`
  if (seconds < 86_400) return `${(seconds / 3600).toFixed(1)} h ago`
  return `${(seconds / 86_400).toFixed(1)} d ago`
}

/** `YYYY-MM-DD HH:MM:SS` (naive UTC, as the API stores it) for a Date. */
export const utcStamp = (d: Date) => d.toISOString().slice(0, 19).replace("T", " ")

export const PageHeader = ({ title, children }: { title: string; children?: ReactNode }) => (
  <header className="page-header">
    <h1>{title}</h1>
    <div className="actions">{children}</div>
  </header>
)
