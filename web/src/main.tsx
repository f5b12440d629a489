import { QueryClient, QueryClientProvider } from "@tanstack/react-query"
import { lazy, type ReactNode, StrictMode, Suspense } from "react"
import { createRoot } from "react-dom/client"
import { createBrowserRouter, Navigate, RouterProvider, useLocation } from "react-router"
import { ApiError } from "./api/client"
import { LiveProvider } from "./api/stream"
import { AuthProvider, useAuth } from "./auth"
import { ErrorBoundary } from "./components/ErrorBoundary"
import { Layout, useTheme } from "./components/Layout"
import { Loading } from "./components/ui"
import { LoginPage } from "./pages/Login"
import { NotFoundPage } from "./pages/NotFound"
import { OverviewPage } from "./pages/Overview"
import "./app.css"

// The pages past the overview load on first visit: the first paint needs only the login and overview.
const BountyPage = lazy(() => import("./pages/Bounty").then((m) => ({ default: m.BountyPage })))
const ConfigPage = lazy(() => import("./pages/Config").then((m) => ({ default: m.ConfigPage })))
const CredentialsPage = lazy(() =>
  import("./pages/Credentials").then((m) => ({ default: m.CredentialsPage }))
)
const FleetPage = lazy(() => import("./pages/Fleet").then((m) => ({ default: m.FleetPage })))
const TopologiesPage = lazy(() => import("./pages/Topologies").then((m) => ({ default: m.TopologiesPage })))
const TopologyPage = lazy(() => import("./pages/Topologies").then((m) => ({ default: m.TopologyPage })))
const LogsPage = lazy(() => import("./pages/Logs").then((m) => ({ default: m.LogsPage })))
const WorkersPage = lazy(() => import("./pages/Workers").then((m) => ({ default: m.WorkersPage })))

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      // A 4xx will not get better by asking again; a network blip might.
      retry: (n, e) => !(e instanceof ApiError && e.status < 500) && n < 2,
      refetchOnWindowFocus: false
    }
  }
})

/** Pages need a session; a user who must change the password goes to the form first. */
const RequireAuth = ({ children }: { children: ReactNode }) => {
  const { token, mustChange } = useAuth()
  const location = useLocation()
  if (token === null || mustChange)
    return <Navigate to={`/login?next=${encodeURIComponent(location.pathname + location.search)}`} replace />
  return children
}

const Shell = () => {
  const { token, mustChange } = useAuth()
  useTheme()
  return (
    <LiveProvider enabled={token !== null && !mustChange}>
      <RequireAuth>
        <Layout />
      </RequireAuth>
    </LiveProvider>
  )
}

const page = (name: string, element: ReactNode) => (
  <ErrorBoundary key={name} page={name}>
    <Suspense fallback={<Loading what={`the ${name} page`} />}>{element}</Suspense>
  </ErrorBoundary>
)

const router = createBrowserRouter([
  { path: "/login", element: page("login", <LoginPage />) },
  {
    path: "/",
    element: <Shell />,
    children: [
      { index: true, element: page("overview", <OverviewPage />) },
      { path: "logs", element: page("live logs", <LogsPage />) },
      { path: "fleet", element: page("fleet", <FleetPage />) },
      { path: "topologies", element: page("MazeNET", <TopologiesPage />) },
      { path: "topologies/:id", element: page("topology", <TopologyPage />) },
      { path: "credentials", element: page("credentials", <CredentialsPage />) },
      { path: "bounty", element: page("bounty", <BountyPage />) },
      { path: "workers", element: page("workers", <WorkersPage />) },
      { path: "config", element: page("config", <ConfigPage />) },
      { path: "*", element: page("not found", <NotFoundPage />) }
    ]
  }
])

const root = document.getElementById("root")
if (root !== null)
  createRoot(root).render(
    <StrictMode>
      <QueryClientProvider client={queryClient}>
        <AuthProvider>
          <RouterProvider router={router} />
        </AuthProvider>
      </QueryClientProvider>
    </StrictMode>
  )
