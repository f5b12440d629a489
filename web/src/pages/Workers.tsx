/**
 * Workers (`GET /workers`, spec api §7.15): the last heartbeat of every known worker, refreshed every 5 s.
 * Admins can ask a worker to stop (a bus control message), start its systemd unit, or start them all.
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query"
import { useState } from "react"
import { api, call, type Ok, type Worker } from "../api/client"
import { useAuth } from "../auth"
import { ago, Empty, ErrorText, Loading, PageHeader } from "../components/ui"
import { compact } from "./tables/format"
import "./tables/tables.css"

type Action = "stop" | "start"
interface RowResult {
  readonly text: string
  readonly error: boolean
}

const act = (name: string, action: Action) =>
  call(
    action === "stop"
      ? api.POST("/api/v1/workers/{name}/stop", { params: { path: { name } } })
      : api.POST("/api/v1/workers/{name}/start", { params: { path: { name } } })
  )

const BusDown = () => (
  <div className="banner" role="alert">
    <strong>The message bus is down.</strong> Heartbeats and stop requests cannot get through, so the statuses
    below are stale and Stop cannot work. Check that the broker runs (<code>systemctl status decnet-bus</code>
    , or <code>decnet bus</code>) and that the API can reach its socket (<code>DECNET_BUS_SOCKET</code>, else{" "}
    <code>/run/decnet/bus.sock</code> or <code>~/.decnet/bus.sock</code>; <code>DECNET_BUS_ENABLED</code> must
    not be <code>false</code>).
  </div>
)

const StartAllResult = ({ r }: { r: Ok<"/api/v1/workers/start-all", "post"> }) =>
  r.started.length + r.already_running.length + r.failed.length === 0 ? (
    <p className="notice">No decnet-*.service unit is installed on this host: nothing to start.</p>
  ) : (
    <ul className="small" aria-label="Start all result">
      <li>Started: {r.started.join(", ") || "none"}</li>
      <li>Already running: {r.already_running.join(", ") || "none"}</li>
      {r.failed.length > 0 && (
        <li className="error">
          Failed:{" "}
          {r.failed.map((f) => (
            <span key={f.name}>
              {f.name} ({f.reason}){" "}
            </span>
          ))}
        </li>
      )}
    </ul>
  )

const Extra = ({ w }: { w: Worker }) =>
  Object.keys(w.extra).length === 0 ? (
    <span className="muted">—</span>
  ) : (
    <span className="mono small" title={JSON.stringify(w.extra, null, 2)}>
      {compact(w.extra, 100)}
    </span>
  )

export const WorkersPage = () => {
  const { isAdmin } = useAuth()
  const qc = useQueryClient()
  const workers = useQuery({
    queryKey: ["workers"],
    queryFn: () => call(api.GET("/api/v1/workers")),
    refetchInterval: 5000
  })
  const [results, setResults] = useState<Readonly<Record<string, RowResult>>>({})
  const row = useMutation({
    mutationFn: ({ name, action }: { name: string; action: Action }) => act(name, action),
    onMutate: ({ name }) => setResults((r) => ({ ...r, [name]: { text: "…", error: false } })),
    onSuccess: (_, { name, action }) =>
      setResults((r) => ({ ...r, [name]: { text: `${action} requested`, error: false } })),
    onError: (e, { name }) =>
      setResults((r) => ({
        ...r,
        [name]: { text: e instanceof Error ? e.message : String(e), error: true }
      })),
    onSettled: () => qc.invalidateQueries({ queryKey: ["workers"] })
  })
  const startAll = useMutation({
    mutationFn: () => call(api.POST("/api/v1/workers/start-all")),
    onSettled: () => qc.invalidateQueries({ queryKey: ["workers"] })
  })
  const pending = row.isPending ? row.variables : undefined
  const data = workers.data

  return (
    <>
      <PageHeader title="Workers">
        {isAdmin && (
          <button
            type="button"
            className="primary"
            disabled={startAll.isPending}
            onClick={() => startAll.mutate()}
          >
            {startAll.isPending ? "Starting…" : "Start all"}
          </button>
        )}
      </PageHeader>
      {data?.bus_connected === false && <BusDown />}
      {startAll.data !== undefined && <StartAllResult r={startAll.data} />}
      <ErrorText error={startAll.error} />
      <ErrorText error={workers.error} />
      {data === undefined ? (
        workers.isPending && <Loading what="workers" />
      ) : data.workers.length === 0 ? (
        <Empty title="No workers known">
          <p>The API reports no worker names; check that this dashboard talks to a current DECNET API.</p>
        </Empty>
      ) : (
        <div className="table-wrap">
          <table aria-label="workers">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Status</th>
                <th scope="col">Last heartbeat</th>
                <th scope="col">Installed</th>
                <th scope="col">Extra</th>
                {isAdmin && <th scope="col">Actions</th>}
              </tr>
            </thead>
            <tbody>
              {data.workers.map((w) => {
                const result = results[w.name]
                return (
                  <tr key={w.name}>
                    <th scope="row" className="mono">
                      {w.name}
                    </th>
                    <td className={`status-${w.status}`}>{w.status}</td>
                    <td
                      title={
                        w.last_heartbeat_ts === null
                          ? "No heartbeat since the API started"
                          : new Date(w.last_heartbeat_ts * 1000).toISOString()
                      }
                    >
                      {ago(w.seconds_since)}
                    </td>
                    <td title={`decnet-${w.name}.service unit file ${w.installed ? "present" : "absent"}`}>
                      {w.installed ? "yes" : "no"}
                    </td>
                    <td className="wrap-any">
                      <Extra w={w} />
                    </td>
                    {isAdmin && (
                      <td>
                        <div className="row">
                          {(["stop", "start"] as const).map((action) => (
                            <button
                              key={action}
                              type="button"
                              className={action === "stop" ? "danger" : undefined}
                              aria-label={`${action === "stop" ? "Stop" : "Start"} ${w.name}`}
                              disabled={pending?.name === w.name}
                              title={
                                action === "stop"
                                  ? "Ask the worker to stop over the bus"
                                  : `systemctl start decnet-${w.name}.service`
                              }
                              onClick={() => row.mutate({ name: w.name, action })}
                            >
                              {action === "stop" ? "Stop" : "Start"}
                            </button>
                          ))}
                        </div>
                        {result !== undefined && (
                          <output className={`row-result ${result.error ? "error" : "muted"}`}>
                            {result.text}
                          </output>
                        )}
                      </td>
                    )}
                  </tr>
                )
              })}
            </tbody>
          </table>
        </div>
      )}
      {data?.workers.every((w) => w.status === "unknown") && (
        <p className="notice" data-testid="no-heartbeats">
          No worker has sent a heartbeat yet. Under <code>npx decnet up</code> the collector, the ingester and
          the mutator run inside that one process and need no heartbeat; workers installed as systemd units (
          <code>decnet-&lt;name&gt;.service</code>) show up here once they run.
        </p>
      )}
      <p className="muted small">
        Refreshed every 5 s. A worker is ok within 90 s of its last heartbeat (one every 30 s), stale after,
        and unknown when none was heard since the API started.
      </p>
    </>
  )
}
