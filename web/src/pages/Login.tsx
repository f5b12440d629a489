import { type FormEvent, useState } from "react"
import { Navigate, useNavigate, useSearchParams } from "react-router"
import { useAuth } from "../auth"
import { ErrorText } from "../components/ui"

const MIN_PASSWORD = 12
const MAX_PASSWORD = 72

export const LoginPage = () => {
  const { token, mustChange, login, changePassword, expired, logout } = useAuth()
  const [params] = useSearchParams()
  const navigate = useNavigate()
  const next = params.get("next") ?? "/"
  const [username, setUsername] = useState("")
  const [password, setPassword] = useState("")
  const [newPassword, setNewPassword] = useState("")
  const [confirm, setConfirm] = useState("")
  const [error, setError] = useState<unknown>(undefined)
  const [busy, setBusy] = useState(false)

  if (token !== null && !mustChange) return <Navigate to={next.startsWith("/") ? next : "/"} replace />

  const run = async (e: FormEvent, f: () => Promise<void>) => {
    e.preventDefault()
    setBusy(true)
    setError(undefined)
    try {
      await f()
    } catch (err) {
      setError(err)
    } finally {
      setBusy(false)
    }
  }

  if (token !== null && mustChange) {
    const mismatch = confirm !== "" && confirm !== newPassword
    return (
      <div className="login">
        <form
          className="card"
          aria-label="Change password"
          onSubmit={(e) =>
            void run(e, async () => {
              await changePassword(password, newPassword)
              navigate(next.startsWith("/") ? next : "/", { replace: true })
            })
          }
        >
          <h1>Choose a new password</h1>
          <p>
            This account still has its bootstrap password. Choose a new one ({MIN_PASSWORD}–{MAX_PASSWORD}{" "}
            characters) before you go on.
          </p>
          <label>
            Current password
            <input
              type="password"
              autoComplete="current-password"
              value={password}
              onChange={(e) => setPassword(e.target.value)}
              required
              maxLength={MAX_PASSWORD}
            />
          </label>
          <label>
            New password
            <input
              type="password"
              autoComplete="new-password"
              value={newPassword}
              onChange={(e) => setNewPassword(e.target.value)}
              required
              minLength={MIN_PASSWORD}
              maxLength={MAX_PASSWORD}
            />
          </label>
          <label>
            Repeat the new password
            <input
              type="password"
              autoComplete="new-password"
              value={confirm}
              onChange={(e) => setConfirm(e.target.value)}
              required
              aria-invalid={mismatch}
            />
          </label>
          {mismatch && <p className="error">The two new passwords differ.</p>}
          <ErrorText error={error} />
          <div className="row">
            <button type="submit" className="primary" disabled={busy || mismatch}>
              Change password
            </button>
            <button type="button" onClick={() => void logout()}>
              Cancel
            </button>
          </div>
        </form>
      </div>
    )
  }

  return (
    <div className="login">
      <form
        className="card"
        aria-label="Log in"
        onSubmit={(e) => void run(e, () => login(username, password))}
      >
        <h1>DECNET</h1>
        {expired && <p className="notice">Your session ended. Log in again.</p>}
        <label>
          User name
          <input
            autoComplete="username"
            value={username}
            onChange={(e) => setUsername(e.target.value)}
            required
          />
        </label>
        <label>
          Password
          <input
            type="password"
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            required
            maxLength={MAX_PASSWORD}
          />
        </label>
        <ErrorText error={error} />
        <button type="submit" className="primary" disabled={busy}>
          Log in
        </button>
        <p className="muted small">
          First start? <code>decnet up</code> printed the admin user name and its one-time password.
        </p>
      </form>
    </div>
  )
}
