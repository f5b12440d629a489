/**
 * Who is logged in. The token is in localStorage["token"]; the role comes from `GET /config` (spec api
 * §7.14: `role` is the caller's). A login that answers `must_change_password` keeps the user on the
 * change-password form (§4.8): every other route answers 403 until it is done, after which the dashboard
 * logs in again with the new password (§4.7 revokes the old token).
 */
import { useQuery, useQueryClient } from "@tanstack/react-query"
import { createContext, type ReactNode, useCallback, useContext, useEffect, useState } from "react"
import { api, call, onForcedLogout, readToken, writeToken } from "./api/client"

const MUST_CHANGE_KEY = "must_change_password"
const USER_KEY = "username"

interface Auth {
  readonly token: string | null
  readonly username: string | null
  readonly mustChange: boolean
  readonly role: "admin" | "viewer" | undefined
  readonly isAdmin: boolean
  readonly login: (username: string, password: string) => Promise<void>
  readonly changePassword: (oldPassword: string, newPassword: string) => Promise<void>
  readonly logout: () => Promise<void>
  /** Why the user was sent back to the login page, if a 401 did it. */
  readonly expired: boolean
}

const AuthContext = createContext<Auth | undefined>(undefined)

export const AuthProvider = ({ children }: { children: ReactNode }) => {
  const queryClient = useQueryClient()
  const [token, setToken] = useState(readToken)
  const [username, setUsername] = useState(() => localStorage.getItem(USER_KEY))
  const [mustChange, setMustChange] = useState(() => localStorage.getItem(MUST_CHANGE_KEY) === "true")
  const [expired, setExpired] = useState(false)

  const clear = useCallback(() => {
    writeToken(null)
    localStorage.removeItem(MUST_CHANGE_KEY)
    setToken(null)
    setMustChange(false)
    queryClient.clear()
  }, [queryClient])

  useEffect(
    () =>
      onForcedLogout(() => {
        clear()
        setExpired(true)
      }),
    [clear]
  )

  const config = useQuery({
    queryKey: ["config"],
    queryFn: () => call(api.GET("/api/v1/config")),
    enabled: token !== null && !mustChange,
    staleTime: 10_000
  })

  const login = async (user: string, password: string) => {
    const r = await call(api.POST("/api/v1/auth/login", { body: { username: user, password } }))
    writeToken(r.access_token)
    localStorage.setItem(USER_KEY, user)
    if (r.must_change_password) localStorage.setItem(MUST_CHANGE_KEY, "true")
    else localStorage.removeItem(MUST_CHANGE_KEY)
    queryClient.clear()
    setUsername(user)
    setMustChange(r.must_change_password)
    setExpired(false)
    setToken(r.access_token)
  }

  const changePassword = async (oldPassword: string, newPassword: string) => {
    await call(
      api.POST("/api/v1/auth/change-password", {
        body: { old_password: oldPassword, new_password: newPassword }
      })
    )
    // The change revoked every token of this user, this one too: log in again with the new password.
    await login(username ?? "", newPassword)
  }

  const logout = async () => {
    // Revoke the token on the server (its jti goes on the denylist), then forget it here either way.
    await call(api.POST("/api/v1/auth/logout")).catch(() => undefined)
    clear()
  }

  const role = config.data?.role
  return (
    <AuthContext.Provider
      value={{
        token,
        username,
        mustChange,
        role,
        isAdmin: role === "admin",
        login,
        changePassword,
        logout,
        expired
      }}
    >
      {children}
    </AuthContext.Provider>
  )
}

export const useAuth = (): Auth => {
  const a = useContext(AuthContext)
  if (a === undefined) throw new Error("useAuth outside AuthProvider")
  return a
}
