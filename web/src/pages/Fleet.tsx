/**
 * The fleet: every decky (`GET /deckies`, every 10 s) joined with what its runtime last saw
 * (`GET /deckies/status`: state, last error, the ports each service really listens on). Admins deploy
 * from an INI, mutate, set the mutation interval, remove deckies and manage their services.
 *
 * URL: `?q=` filters the table, `?decky=<name>` opens that decky, `?deploy=1` opens the deploy dialog.
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query"
import { useEffect, useMemo, useState } from "react"
import { useSearchParams } from "react-router"
import { ApiError, api, call } from "../api/client"
import { useAuth } from "../auth"
import { ago, Empty, ErrorText, Loading, PageHeader } from "../components/ui"
import { DeployDialog } from "./fleet/DeployDialog"
import { LifecycleProgress } from "./fleet/LifecycleProgress"
import { ManageDialog } from "./fleet/ManageDialog"
import { Modal } from "./fleet/Modal"
import { type Decky, type DeckyStatus, intervalText, portsOf, stateClass } from "./fleet/model"
import "./fleet/fleet.css"

const REFRESH_MS = 10_000

interface Operation {
  readonly key: string
  readonly decky: string
  readonly label: string
  readonly message?: string
  readonly ids: ReadonlyArray<string>
}

/** Seconds since the epoch, ticking so that "5 min ago" stays true. */
const useNow = (everyMs: number) => {
  const [now, setNow] = useState(() => Date.now() / 1000)
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now() / 1000), everyMs)
    return () => clearInterval(t)
  }, [everyMs])
  return now
}

const matches = (d: Decky, q: string) => {
  const needle = q.trim().toLowerCase()
  return (
    needle === "" ||
    [d.name, d.ip, d.hostname, d.distro, d.archetype ?? "", ...d.services].some((s) =>
      s.toLowerCase().includes(needle)
    )
  )
}

const ServiceTags = ({ decky, status }: { decky: Decky; status: DeckyStatus | undefined }) => (
  <>
    {decky.services.map((s) => {
      const ports = portsOf(status?.ports, s)
      return (
        <span
          key={s}
          className="tag"
          title={ports.map((p) => `${p.host}:${p.port}/${p.proto} (known as ${p.known})`).join(", ")}
        >
          {s}
          {ports.length > 0 && <span className="muted"> :{ports.map((p) => p.port).join(", :")}</span>}
        </span>
      )
    })}
  </>
)

const StateCell = ({ status }: { status: DeckyStatus | undefined }) => {
  if (status === undefined) return <span className="status-unknown">unknown</span>
  const error = status.last_error ?? undefined
  return (
    <>
      <span className={stateClass(status.state)} title={error} data-testid="decky-state">
        {status.state}
      </span>
      {error !== undefined && <div className="error small decky-error">{error}</div>}
    </>
  )
}

export const FleetPage = () => {
  const { isAdmin } = useAuth()
  const queryClient = useQueryClient()
  const [params, setParams] = useSearchParams()
  const q = params.get("q") ?? ""
  const selected = params.get("decky")
  const deployOpen = isAdmin && params.get("deploy") === "1"
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

  const deckies = useQuery({
    queryKey: ["deckies", "list"],
    queryFn: () => call(api.GET("/api/v1/deckies")),
    refetchInterval: REFRESH_MS
  })
  const status = useQuery({
    queryKey: ["deckies", "status"],
    queryFn: () => call(api.GET("/api/v1/deckies/status")),
    refetchInterval: REFRESH_MS
  })
  const mode = useQuery({
    queryKey: ["system", "deployment-mode"],
    queryFn: () => call(api.GET("/api/v1/system/deployment-mode")),
    staleTime: 30_000
  })
  const now = useNow(15_000)

  const [operations, setOperations] = useState<ReadonlyArray<Operation>>([])
  const [confirmRemove, setConfirmRemove] = useState<string | null>(null)

  const mutate = useMutation({
    mutationFn: (name: string) =>
      call(api.POST("/api/v1/deckies/{decky_name}/mutate", { params: { path: { decky_name: name } } })),
    onSuccess: (r, name) => {
      setOperations((old) => [
        {
          key: `${name}:${r.lifecycle_ids.join(",")}:${Date.now()}`,
          decky: name,
          label: `Mutate ${name}`,
          ids: r.lifecycle_ids
        },
        ...old
      ])
      return queryClient.invalidateQueries({ queryKey: ["deckies"] })
    }
  })
  const remove = useMutation({
    mutationFn: (name: string) =>
      call(api.DELETE("/api/v1/deckies/{decky_name}", { params: { path: { decky_name: name } } })),
    onSuccess: (_r, name) => {
      setConfirmRemove(null)
      if (selected === name) setParam("decky", null)
      return queryClient.invalidateQueries({ queryKey: ["deckies"] })
    }
  })

  const statusByName = useMemo(
    () => new Map((status.data?.deckies ?? []).map((s) => [s.name, s] as const)),
    [status.data]
  )
  const all = deckies.data ?? []
  const shown = all.filter((d) => matches(d, q))
  const selectedDecky = selected === null ? undefined : all.find((d) => d.name === selected)
  const runtime = status.data === undefined ? "…" : (status.data.runtime ?? "none (nothing deployed)")
  const modeText =
    mode.data === undefined
      ? "…"
      : `${mode.data.mode} (${mode.data.role}${mode.data.mode === "swarm" ? `, ${mode.data.swarm_host_count} hosts` : ""})`

  const mutateError = mutate.error !== null && (
    <p className="error" role="alert">
      Mutate {mutate.variables}:{" "}
      {mutate.error instanceof ApiError ? mutate.error.detail : mutate.error.message}
    </p>
  )

  const startRemove = (name: string) => {
    remove.reset()
    setConfirmRemove(name)
  }

  return (
    <>
      <PageHeader title="Fleet">
        <span className="muted small" data-testid="fleet-mode">
          Mode: <strong>{modeText}</strong> · Runtime: <strong>{runtime}</strong>
        </span>
        {isAdmin && !deployOpen && (
          <button type="button" className="primary" onClick={() => setParam("deploy", "1")}>
            Deploy
          </button>
        )}
      </PageHeader>
      <ErrorText error={deckies.error ?? status.error ?? mode.error} />
      {mutateError}

      {operations.length > 0 && (
        <section className="card operations" aria-label="Operations">
          {operations.map((op) => (
            <div key={op.key} className="operation">
              <div>
                {op.message !== undefined && <p className="small muted">{op.message}</p>}
                <LifecycleProgress ids={op.ids} label={op.label} />
              </div>
              <button
                type="button"
                className="link"
                aria-label={`Dismiss ${op.label}`}
                onClick={() => setOperations((old) => old.filter((o) => o.key !== op.key))}
              >
                dismiss
              </button>
            </div>
          ))}
        </section>
      )}

      {deckies.isLoading ? (
        <Loading what="the fleet" />
      ) : deckies.data === undefined ? null : all.length === 0 ? (
        <Empty title="No deckies deployed">
          <p>A decky is a fake host with honeypot services; the fleet has none yet.</p>
          {isAdmin ? (
            <p>
              Use the <strong>Deploy</strong> button above to deploy one from an INI (a sample is filled in),
              or run <code>npx decnet deploy --runtime inprocess --deckies 1 --services ssh,http</code> while{" "}
              <code>decnet up</code> runs.
            </p>
          ) : (
            <p>An admin can deploy deckies from this page.</p>
          )}
        </Empty>
      ) : (
        <>
          <div className="row fleet-toolbar">
            <label className="inline">
              Filter deckies
              <input
                type="search"
                value={q}
                placeholder="name, IP, service, archetype"
                onChange={(e) => setParam("q", e.target.value)}
              />
            </label>
            <span className="muted small">
              {shown.length === all.length
                ? `${all.length} ${all.length === 1 ? "decky" : "deckies"}`
                : `${shown.length} of ${all.length} deckies`}
              {deckies.isFetching ? " · refreshing…" : ""}
            </span>
          </div>
          {shown.length === 0 ? (
            <Empty title={`No decky matches “${q}”`}>
              <button type="button" onClick={() => setParam("q", null)}>
                Clear the filter
              </button>
            </Empty>
          ) : (
            <table className="fleet-table" aria-label="Deckies">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>IP</th>
                  <th>Services</th>
                  <th>Distro</th>
                  <th>Archetype</th>
                  <th>State</th>
                  <th>Last mutation</th>
                  <th>Interval</th>
                  {isAdmin && <th>Actions</th>}
                </tr>
              </thead>
              <tbody>
                {shown.map((d) => {
                  const st = statusByName.get(d.name)
                  return (
                    <tr key={d.name} className={d.name === selected ? "selected" : undefined}>
                      <td className="nowrap">
                        <button
                          type="button"
                          className="link mono"
                          title={`Details of ${d.name}`}
                          onClick={() => setParam("decky", d.name)}
                        >
                          {d.name}
                        </button>
                      </td>
                      <td className="mono nowrap">{d.ip}</td>
                      <td>
                        <ServiceTags decky={d} status={st} />
                      </td>
                      <td>{d.distro}</td>
                      <td>{d.archetype ?? <span className="muted">—</span>}</td>
                      <td>
                        <StateCell status={st} />
                      </td>
                      <td
                        title={d.last_mutated > 0 ? new Date(d.last_mutated * 1000).toISOString() : undefined}
                      >
                        {d.last_mutated > 0 ? ago(Math.max(0, now - d.last_mutated)) : "never"}
                      </td>
                      <td className="nowrap">
                        {d.mutate_interval === null ? (
                          <span className="muted">fleet default</span>
                        ) : (
                          <span title={intervalText(d.mutate_interval)}>{d.mutate_interval} min</span>
                        )}
                      </td>
                      {isAdmin && (
                        <td className="actions">
                          <button
                            type="button"
                            aria-label={`Manage ${d.name}`}
                            onClick={() => setParam("decky", d.name)}
                          >
                            Manage
                          </button>
                          <button
                            type="button"
                            aria-label={`Mutate ${d.name}`}
                            disabled={mutate.isPending && mutate.variables === d.name}
                            onClick={() => mutate.mutate(d.name)}
                          >
                            Mutate
                          </button>
                          <button
                            type="button"
                            className="danger"
                            aria-label={`Remove ${d.name}`}
                            onClick={() => startRemove(d.name)}
                          >
                            Remove
                          </button>
                        </td>
                      )}
                    </tr>
                  )
                })}
              </tbody>
            </table>
          )}
        </>
      )}

      {selected !== null && deckies.data !== undefined && selectedDecky === undefined && (
        <p className="notice">
          No decky named <code>{selected}</code> in the fleet.{" "}
          <button type="button" className="link" onClick={() => setParam("decky", null)}>
            Clear
          </button>
        </p>
      )}
      {selectedDecky !== undefined && confirmRemove === null && (
        <ManageDialog
          key={selectedDecky.name}
          decky={selectedDecky}
          status={statusByName.get(selectedDecky.name)}
          isAdmin={isAdmin}
          onClose={() => setParam("decky", null)}
          onMutate={() => mutate.mutate(selectedDecky.name)}
          onRemove={() => startRemove(selectedDecky.name)}
          mutating={mutate.isPending}
        >
          {mutate.variables === selectedDecky.name && mutateError}
          {operations
            .filter((op) => op.decky === selectedDecky.name)
            .map((op) => (
              <LifecycleProgress key={op.key} ids={op.ids} label={op.label} />
            ))}
        </ManageDialog>
      )}
      {deployOpen && (
        <DeployDialog
          names={all.map((d) => d.name)}
          onClose={() => setParam("deploy", null)}
          onAccepted={(message, ids) =>
            setOperations((old) => [
              { key: `deploy:${ids.join(",")}:${Date.now()}`, decky: "", label: "Deploy", message, ids },
              ...old
            ])
          }
        />
      )}
      {isAdmin && confirmRemove !== null && (
        <Modal title={`Remove ${confirmRemove}?`} onClose={() => setConfirmRemove(null)}>
          <p>
            This stops every service of <strong className="mono">{confirmRemove}</strong> and removes it from
            the fleet. The events it recorded stay.
          </p>
          <ErrorText error={remove.error} />
          <div className="actions">
            <button
              type="button"
              className="danger"
              disabled={remove.isPending}
              onClick={() => remove.mutate(confirmRemove)}
            >
              Remove
            </button>
            <button type="button" onClick={() => setConfirmRemove(null)}>
              Cancel
            </button>
          </div>
        </Modal>
      )}
    </>
  )
}
