/**
 * One labelled field of the MazeNET forms (the generate dialog, staging an edit): the label, the control
 * (given its id and the ARIA attributes that tie it to the hint and the error), a hint, and an error that
 * says what is wrong with it (`aria-invalid`, announced).
 */
import { type ReactNode, useId } from "react"

export interface ControlProps {
  readonly id: string
  readonly "aria-invalid": boolean
  readonly "aria-describedby": string | undefined
}

export const Field = ({
  label,
  error,
  hint,
  children
}: {
  label: string
  error: string | undefined
  hint?: string | undefined
  children: (props: ControlProps) => ReactNode
}) => {
  const id = useId()
  const errId = `${id}-error`
  const hintId = `${id}-hint`
  const describedBy = [error === undefined ? "" : errId, hint === undefined ? "" : hintId]
    .filter((s) => s !== "")
    .join(" ")
  return (
    <div className="gen-field">
      <label htmlFor={id}>{label}</label>
      {children({
        id,
        "aria-invalid": error !== undefined,
        "aria-describedby": describedBy === "" ? undefined : describedBy
      })}
      {hint !== undefined && (
        <span id={hintId} className="muted small">
          {hint}
        </span>
      )}
      {error !== undefined && (
        <span id={errId} className="error small" role="alert">
          {error}
        </span>
      )}
    </div>
  )
}
