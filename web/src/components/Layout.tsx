import { useEffect, useState } from "react"
import { NavLink, Outlet } from "react-router"
import { useLive } from "../api/stream"
import { useAuth } from "../auth"

const NAV = [
  ["/", "Overview"],
  ["/logs", "Live logs"],
  ["/fleet", "Fleet"],
  ["/topologies", "MazeNET"],
  ["/credentials", "Credentials"],
  ["/bounty", "Bounty"],
  ["/workers", "Workers"],
  ["/config", "Config"]
] as const

type Theme = "dark" | "light"
const THEME_KEY = "theme"

export const useTheme = () => {
  const [theme, setTheme] = useState<Theme>(() =>
    localStorage.getItem(THEME_KEY) === "light" ? "light" : "dark"
  )
  useEffect(() => {
    document.documentElement.dataset.theme = theme
    localStorage.setItem(THEME_KEY, theme)
  }, [theme])
  return [theme, setTheme] as const
}

const LiveIndicator = () => {
  const { state } = useLive()
  const text = state === "live" ? "Live" : state === "connecting" ? "Connecting…" : "Offline"
  return (
    <output
      className={`live live-${state}`}
      aria-live="polite"
      title="The live event stream (/api/v1/stream)"
    >
      <span className="dot" aria-hidden="true" />
      {text}
    </output>
  )
}

export const Layout = () => {
  const { username, role, logout } = useAuth()
  const [theme, setTheme] = useTheme()
  return (
    <div className="app">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <nav className="sidebar" aria-label="Main">
        <div className="brand">DECNET</div>
        <ul>
          {NAV.map(([to, label]) => (
            <li key={to}>
              <NavLink to={to} end={to === "/"}>
                {label}
              </NavLink>
            </li>
          ))}
        </ul>
        <div className="sidebar-foot">
          <LiveIndicator />
          <div className="who">
            <span>{username}</span>
            {role !== undefined && <span className={`role role-${role}`}>{role}</span>}
          </div>
          <button
            type="button"
            onClick={() => setTheme(theme === "dark" ? "light" : "dark")}
            aria-label={`Switch to the ${theme === "dark" ? "light" : "dark"} theme`}
          >
            {theme === "dark" ? "Light theme" : "Dark theme"}
          </button>
          <button type="button" onClick={() => void logout()}>
            Log out
          </button>
        </div>
      </nav>
      <main id="main" className="content">
        <Outlet />
      </main>
    </div>
  )
}
