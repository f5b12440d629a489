import { type ReactNode, useEffect, useId, useRef } from "react"

/**
 * A modal <dialog>: opened on mount, `onClose` on Escape or the Close button. Unmount it to close it
 * (its parent decides whether it shows, e.g. from the URL).
 */
export const Modal = ({
  title,
  onClose,
  children,
  wide = false
}: {
  title: string
  onClose: () => void
  children: ReactNode
  wide?: boolean
}) => {
  const ref = useRef<HTMLDialogElement>(null)
  const titleId = useId()
  useEffect(() => {
    const d = ref.current
    // StrictMode mounts twice: open only once, and never close here (a queued close event would land later).
    if (d !== null && !d.open) d.showModal()
  }, [])
  return (
    <dialog
      ref={ref}
      className={wide ? "fleet-dialog wide" : "fleet-dialog"}
      aria-labelledby={titleId}
      onCancel={(e) => {
        e.preventDefault()
        onClose()
      }}
    >
      <header className="fleet-dialog-head">
        <h2 id={titleId}>{title}</h2>
        <button type="button" aria-label="Close" onClick={onClose}>
          ×
        </button>
      </header>
      {children}
    </dialog>
  )
}
