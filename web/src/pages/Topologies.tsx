/**
 * MazeNET (topology.md §10): the topologies (`GET /topologies`), generating one (`POST /topologies`), and a
 * topology's page (`/topologies/{id}`): its map, deckies and mutations, live over its SSE stream
 * (`/topologies/{id}/events`, refetching on every event; polling only while that stream is down), deploy /
 * teardown / delete for admins, and staging live edits as mutations against the version shown.
 *
 * URL: `/topologies?generate=1` opens the generate dialog; `/topologies?status=active` filters the list.
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query"
import { useMemo, useState } from "react"
import { Link, useNavigate, useParams, useSearchParams } from "react-router"
import { api, call } from "../api/client"
import { RECONNECT_MS, useEventStream } from "../api/stream"
import { useAuth } from "../auth"
import { Empty, ErrorText, Loading, PageHeader } from "../components/ui"
import { Modal } from "./fleet/Modal"
import { GenerateDialog } from "./topologies/GenerateDialog"
import {
  DELETABLE,
  DEPLOYABLE,
  deckyViews,
  fmtTime,
  LIVE,
  type MutationRow,
  servicesOf,
  stateClass,
  TEARABLE,
  TOPOLOGY_EVENTS,
  type TopologyDetail,
  type TopologyStatus
} from "./topologies/model"
import { StageEdit } from "./topologies/StageEdit"
import { MapLegend, TopologyMap } from "./topologies/TopologyMap"
import "./fleet/fleet.css"
import "./topologies/topologies.css"

const STATUSES: ReadonlyArray<TopologyStatus> = [
  "pending",
  "deploying",
  "active",
  "degraded",
  "failed",
  "tearing_down",
  "torn_down"
]
const isStatus = (s: string | null): s is TopologyStatus => STATUSES.some((x) => x === s)
/** While the topology's stream is down, the page polls as often as the stream retries. */
const POLL_MS = RECONNECT_MS

const Status = ({ status }: { status: string }) => (
  <span className={`tstatus ${stateClass(status)}`} data-testid="topology-status">
    {status.replace("_", " ")}
  </span>
)

export const TopologiesPage = () => {
  const { isAdmin } = useAuth()
  const navigate = useNavigate()
  const [params, setParams] = useSearchParams()
  const raw = params.get("status")
  const status = isStatus(raw) ? raw : undefined
  const generateOpen = isAdmin && params.get("generate") === "1"
  const setParam = (key: string, value: string | null) =>
    setParams(
      (old) => {
        const next = new URLSearchParams(old)
        if (value === null || value === "") next.delete(key)
        else next.set(key, value)
        return next
      },
      { replace: true }
    )
  const list = useQuery({
    queryKey: ["topologies", "list", status ?? "all"],
    queryFn: () =>
      call(
        api.GET("/api/v1/topologies", { params: { query: { limit: "500", ...(status ? { status } : {}) } } })
      ),
    refetchInterval: 10_000
  })
  const rows = list.data?.data ?? []
  return (
    <>
      <PageHeader title="MazeNET">
        <label className="inline">
          Status
          <select value={status ?? ""} onChange={(e) => setParam("status", e.target.value)}>
            <option value="">any</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s.replace("_", " ")}
              </option>
            ))}
          </select>
        </label>
        {isAdmin && (
          <button type="button" className="primary" onClick={() => setParam("generate", "1")}>
            Generate
          </button>
        )}
      </PageHeader>
      <p className="muted small">
        A topology is a network of deckies: a DMZ and LANs behind it, joined by bridge deckies, some of which
        route. Generate one, deploy it, then change it live with mutations.
      </p>
      <ErrorText error={list.error} />
      {list.isLoading ? (
        <Loading what="the topologies" />
      ) : list.data === undefined ? null : rows.length === 0 ? (
        <Empty title={status === undefined ? "No topologies yet" : `No ${status.replace("_", " ")} topology`}>
          {isAdmin ? (
            <p>
              Use <strong>Generate</strong> above (a depth of 1 or 2 is a good start), or run{" "}
              <code>npx decnet topology generate --name maze --depth 2</code>.
            </p>
          ) : (
            <p>An admin can generate one from this page.</p>
          )}
        </Empty>
      ) : (
        <table className="topology-table" aria-label="Topologies">
          <thead>
            <tr>
              <th>Name</th>
              <th>Status</th>
              <th>Version</th>
              <th>Mode</th>
              <th>Created (UTC)</th>
              <th>Status since (UTC)</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((t) => (
              <tr key={t.id}>
                <td>
                  <Link to={`/topologies/${encodeURIComponent(t.id)}`} className="mono">
                    {t.name}
                  </Link>
                </td>
                <td>
                  <Status status={t.status} />
                </td>
                <td>{t.version}</td>
                <td>{t.mode}</td>
                <td className="nowrap">{fmtTime(t.created_at)}</td>
                <td className="nowrap">{fmtTime(t.status_changed_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {list.data !== undefined && list.data.total > rows.length && (
        <p className="muted small">
          Showing the newest {rows.length} of {list.data.total}.
        </p>
      )}
      {generateOpen && (
        <GenerateDialog
          onClose={() => setParam("generate", null)}
          onCreated={(t) => navigate(`/topologies/${encodeURIComponent(t.id)}`)}
        />
      )}
    </>
  )
}

const payloadText = (p: unknown): string => {
  if (typeof p !== "object" || p === null) return ""
  return Object.entries(p)
    .map(
      ([k, v]) =>
        `${k}=${Array.isArray(v) ? v.join(",") : typeof v === "object" ? JSON.stringify(v) : String(v)}`
    )
    .join(" ")
}

const Mutations = ({ rows }: { rows: ReadonlyArray<MutationRow> }) =>
  rows.length === 0 ? (
    <p className="muted small">No mutation yet. Edits of a deployed topology queue here.</p>
  ) : (
    <table className="mutation-table" aria-label="Mutations">
      <thead>
        <tr>
          <th>Requested (UTC)</th>
          <th>Edit</th>
          <th>Payload</th>
          <th>State</th>
          <th>Reason</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((m) => (
          <tr key={m.id} data-testid="mutation-row">
            <td className="nowrap">{fmtTime(m.requested_at)}</td>
            <td className="mono">{m.op}</td>
            <td className="mono small">{payloadText(m.payload)}</td>
            <td>
              <span className={stateClass(m.state)}>{m.state}</span>
            </td>
            <td className="small">{m.reason ?? <span className="muted">—</span>}</td>
          </tr>
        ))}
      </tbody>
    </table>
  )

const Deckies = ({ detail }: { detail: TopologyDetail }) => {
  const views = deckyViews(detail)
  return (
    <table className="topology-deckies" aria-label="Deckies of the topology">
      <thead>
        <tr>
          <th>Decky</th>
          <th>Home LAN</th>
          <th>Also on</th>
          <th>Role</th>
          <th>Services</th>
          <th>State</th>
        </tr>
      </thead>
      <tbody>
        {views.map((v) => (
          <tr key={v.decky.uuid}>
            <td className="mono">{v.decky.name}</td>
            <td className="nowrap">
              {v.home?.name ?? "—"} {v.ip !== null && <span className="muted mono">{v.ip}</span>}
            </td>
            <td>
              {v.lans
                .slice(1)
                .map((l) => l.name)
                .join(", ") || <span className="muted">—</span>}
            </td>
            <td>{v.forwards ? "L3 forwarder" : v.bridge ? "bridge" : "decky"}</td>
            <td>
              {servicesOf(v.decky).map((s) => (
                <span key={s} className="tag">
                  {s}
                </span>
              ))}
            </td>
            <td>
              <span className={stateClass(v.decky.state)}>{v.decky.state}</span>
              {v.decky.last_error !== null && <div className="error small">{v.decky.last_error}</div>}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

type Confirm = "teardown" | "delete"

export const TopologyPage = () => {
  const { id = "" } = useParams()
  const { isAdmin } = useAuth()
  const navigate = useNavigate()
  const queryClient = useQueryClient()
  const [confirm, setConfirm] = useState<Confirm | null>(null)
  const key = useMemo(() => ["topology", id] as const, [id])
  /** Set while deleting: the stream closes, and nothing fetches a topology that is going away (a 404). */
  const [leaving, setLeaving] = useState(false)
  const [lastEvent, setLastEvent] = useState<string | null>(null)
  const refresh = () => queryClient.invalidateQueries({ queryKey: key })
  // The stream says when something changed: every event may change what the page shows (an enqueue with
  // expected_version bumps the version, an applied mutation or a status changes the map), so each one
  // refetches the topology and its mutations. The snapshot that opens every (re)connect does too, which
  // catches up on whatever happened while the stream was down.
  const stream = useEventStream(
    leaving ? null : `/api/v1/topologies/${encodeURIComponent(id)}/events`,
    TOPOLOGY_EVENTS,
    (e) => {
      if (e.name !== "snapshot") setLastEvent(e.name)
      void refresh()
    }
  )
  // The page polls only while the stream is not open (it failed and is reconnecting): then nothing
  // would say that something changed.
  const poll = stream.state === "live" ? false : POLL_MS
  const detail = useQuery({
    queryKey: key,
    enabled: !leaving,
    queryFn: () =>
      call(api.GET("/api/v1/topologies/{topology_id}", { params: { path: { topology_id: id } } })),
    refetchInterval: poll
  })
  const mutations = useQuery({
    queryKey: [...key, "mutations"],
    enabled: !leaving,
    queryFn: () =>
      call(api.GET("/api/v1/topologies/{topology_id}/mutations", { params: { path: { topology_id: id } } })),
    refetchInterval: poll
  })

  const action = useMutation({
    mutationFn: async (what: "deploy" | "teardown" | "delete") => {
      const path = { params: { path: { topology_id: id } } }
      if (what === "deploy") await call(api.POST("/api/v1/topologies/{topology_id}/deploy", path))
      else if (what === "teardown") await call(api.POST("/api/v1/topologies/{topology_id}/teardown", path))
      else await call(api.DELETE("/api/v1/topologies/{topology_id}", path))
      return what
    },
    onMutate: (what) => setLeaving(what === "delete"),
    onError: () => setLeaving(false),
    onSuccess: (what) => {
      setConfirm(null)
      void queryClient.invalidateQueries({ queryKey: ["topologies"] })
      if (what === "delete") {
        // Leave first: removing the query while this page still observes it would fetch it again (a 404).
        navigate("/topologies")
        setTimeout(() => queryClient.removeQueries({ queryKey: key }), 0)
      } else void refresh()
    }
  })

  if (detail.isLoading) return <Loading what="the topology" />
  if (detail.data === undefined)
    return (
      <>
        <PageHeader title="MazeNET · topology" />
        <ErrorText error={detail.error} />
        <p>
          <Link to="/topologies">Back to the topologies</Link>
        </p>
      </>
    )
  const d = detail.data
  const t = d.topology
  const live = LIVE.includes(t.status)
  return (
    <>
      <PageHeader title={`MazeNET · ${t.name}`}>
        <output
          className={`live live-${stream.state === "live" ? "live" : "connecting"}`}
          aria-live="polite"
          data-testid="topology-live"
          title="The topology's event stream (/topologies/{id}/events)"
        >
          <span className="dot" aria-hidden="true" />
          {stream.state === "live"
            ? "Live updates"
            : stream.failures === 0
              ? "Connecting…"
              : `Reconnecting… (refreshing every ${POLL_MS / 1000} s)`}
        </output>
        {isAdmin && DEPLOYABLE.includes(t.status) && (
          <button
            type="button"
            className="primary"
            disabled={action.isPending}
            onClick={() => action.mutate("deploy")}
          >
            Deploy
          </button>
        )}
        {isAdmin && TEARABLE.includes(t.status) && (
          <button type="button" className="danger" onClick={() => setConfirm("teardown")}>
            Teardown
          </button>
        )}
        {isAdmin && DELETABLE.includes(t.status) && (
          <button type="button" className="danger" onClick={() => setConfirm("delete")}>
            Delete
          </button>
        )}
      </PageHeader>
      <p className="topology-facts">
        <Link to="/topologies">← All topologies</Link>
        <span>
          Status <Status status={t.status} />
        </span>
        <span>
          Version <strong data-testid="topology-version">{t.version}</strong>
        </span>
        <span>
          {d.lans.length} LANs · {d.deckies.length} deckies · {t.mode}
        </span>
        <span className="muted">created {fmtTime(t.created_at)} UTC</span>
        {lastEvent !== null && <span className="muted small">last event: {lastEvent}</span>}
      </p>
      {confirm === null && <ErrorText error={action.error} />}
      <section className="card" aria-label="Map">
        <h2>Map</h2>
        <TopologyMap detail={d} />
        <MapLegend />
      </section>
      <div className="topology-columns">
        <section className="card" aria-label="Mutations">
          <h2>Mutations</h2>
          <ErrorText error={mutations.error} />
          <Mutations rows={mutations.data ?? []} />
        </section>
        {isAdmin && (
          <section className="card" aria-label="Stage an edit">
            {live ? (
              <StageEdit detail={d} onQueued={() => void refresh()} />
            ) : (
              <>
                <h2>Stage an edit</h2>
                <p className="muted small">
                  Live edits (mutations) apply to an active or degraded topology; this one is{" "}
                  <strong>{t.status.replace("_", " ")}</strong>.
                  {t.status === "pending" ? " Deploy it first." : ""}
                </p>
              </>
            )}
          </section>
        )}
      </div>
      <section className="card" aria-label="Deckies">
        <h2>Deckies</h2>
        <Deckies detail={d} />
      </section>
      {isAdmin && confirm !== null && (
        <Modal
          title={confirm === "delete" ? `Delete ${t.name}?` : `Tear down ${t.name}?`}
          onClose={() => setConfirm(null)}
        >
          <p>
            {confirm === "delete"
              ? "This deletes the topology with its LANs, deckies and mutations. It cannot be undone."
              : "This stops every decky of the topology and removes its networks. The events they recorded stay."}
          </p>
          <ErrorText error={action.error} />
          <div className="actions">
            <button
              type="button"
              className="danger"
              disabled={action.isPending}
              onClick={() => action.mutate(confirm)}
            >
              {confirm === "delete" ? "Delete" : "Tear down"}
            </button>
            <button type="button" onClick={() => setConfirm(null)}>
              Cancel
            </button>
          </div>
        </Modal>
      )}
    </>
  )
}
