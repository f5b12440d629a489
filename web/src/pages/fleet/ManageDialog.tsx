/**
 * One decky in detail: its state, services and where they listen. For admins also its actions (mutate
 * now, the mutation interval, remove) and its services (add with a generated config form, configure,
 * save or save-and-apply, remove). Every change invalidates the ["deckies"] queries.
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query"
import { type FormEvent, type ReactNode, useId, useState } from "react"
import { api, call } from "../../api/client"
import { ErrorText } from "../../components/ui"
import {
  type Decky,
  type DeckyStatus,
  INTERVAL,
  INTERVAL_HINT,
  intervalText,
  portsOf,
  stateClass
} from "./model"
import { Modal } from "./Modal"
import { type ServiceConfig, ServiceForm } from "./ServiceForm"

const IntervalForm = ({ decky }: { decky: Decky }) => {
  const queryClient = useQueryClient()
  const hintId = useId()
  const [text, setText] = useState(decky.mutate_interval === null ? "" : intervalText(decky.mutate_interval))
  const [invalid, setInvalid] = useState(false)
  const save = useMutation({
    mutationFn: (value: string | null) =>
      call(
        api.PUT("/api/v1/deckies/{decky_name}/mutate-interval", {
          params: { path: { decky_name: decky.name } },
          body: { mutate_interval: value }
        })
      ),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["deckies"] })
  })
  const submit = (e: FormEvent) => {
    e.preventDefault()
    const value = text.trim()
    const bad = value !== "" && !INTERVAL.test(value)
    setInvalid(bad)
    if (!bad) save.mutate(value === "" ? null : value)
  }
  return (
    <form className="row interval-form" onSubmit={submit} noValidate>
      <label>
        Mutation interval
        <input
          value={text}
          placeholder="e.g. 30m, 2d"
          aria-describedby={hintId}
          aria-invalid={invalid}
          onChange={(e) => {
            setText(e.target.value)
            save.reset()
          }}
        />
      </label>
      <button type="submit" disabled={save.isPending}>
        Set interval
      </button>
      <span id={hintId} className={invalid ? "error small" : "muted small"}>
        {invalid ? "Not an interval. " : ""}
        {INTERVAL_HINT}
      </span>
      <ErrorText error={save.error} />
      {save.isSuccess && (
        <span role="status" className="status-succeeded small">
          {save.data.message}
        </span>
      )}
    </form>
  )
}

interface SaveArgs {
  readonly service: string
  readonly config: ServiceConfig
  readonly apply: boolean
}

const Services = ({
  decky,
  status,
  isAdmin
}: {
  decky: Decky
  status: DeckyStatus | undefined
  isAdmin: boolean
}) => {
  const queryClient = useQueryClient()
  const invalidate = () => queryClient.invalidateQueries({ queryKey: ["deckies"] })
  const [editing, setEditing] = useState<string | null>(null)
  const [adding, setAdding] = useState("")
  const [done, setDone] = useState<string | null>(null)
  const catalog = useQuery({
    queryKey: ["catalog", "services"],
    queryFn: () => call(api.GET("/api/v1/topologies/services")),
    enabled: isAdmin,
    staleTime: 60_000
  })
  const path = (service: string) => ({ path: { decky_name: decky.name, service_name: service } })

  const save = useMutation({
    mutationFn: ({ service, config, apply }: SaveArgs) =>
      apply
        ? call(
            api.POST("/api/v1/deckies/{decky_name}/services/{service_name}/apply", {
              params: path(service),
              body: { config }
            })
          )
        : call(
            api.PUT("/api/v1/deckies/{decky_name}/services/{service_name}/config", {
              params: path(service),
              body: { config }
            })
          ),
    onSuccess: (r) => {
      setDone(r.recreated ? `${r.service_name}: saved and applied` : `${r.service_name}: saved`)
      return invalidate()
    }
  })
  const add = useMutation({
    mutationFn: ({ service, config }: { service: string; config: ServiceConfig }) =>
      call(
        api.POST("/api/v1/deckies/{decky_name}/services", {
          params: { path: { decky_name: decky.name } },
          body: { name: service, config }
        })
      ),
    onSuccess: (_r, { service }) => {
      setAdding("")
      setDone(`${service}: added`)
      return invalidate()
    }
  })
  const remove = useMutation({
    mutationFn: (service: string) =>
      call(api.DELETE("/api/v1/deckies/{decky_name}/services/{service_name}", { params: path(service) })),
    onSuccess: (_r, service) => {
      if (editing === service) setEditing(null)
      setDone(`${service}: removed`)
      return invalidate()
    }
  })
  const busy = save.isPending || add.isPending || remove.isPending
  const addable = (catalog.data?.services ?? []).filter((s) => !decky.services.some((own) => own === s))

  return (
    <section aria-label="Services">
      <h3>Services</h3>
      <table className="services-table">
        <thead>
          <tr>
            <th>Service</th>
            <th>Listens on</th>
            {isAdmin && <th>Actions</th>}
          </tr>
        </thead>
        <tbody>
          {decky.services.map((s) => {
            const ports = portsOf(status?.ports, s)
            return (
              <tr key={s}>
                <td>
                  <span className="tag">{s}</span>
                </td>
                <td className="mono">
                  {ports.length === 0 ? (
                    <span className="muted">—</span>
                  ) : (
                    ports.map((p) => `${p.host}:${p.port}/${p.proto}`).join(", ")
                  )}
                </td>
                {isAdmin && (
                  <td className="actions">
                    <button
                      type="button"
                      aria-expanded={editing === s}
                      aria-label={`Configure ${s}`}
                      onClick={() => {
                        save.reset()
                        setEditing(editing === s ? null : s)
                      }}
                    >
                      Configure
                    </button>
                    <button
                      type="button"
                      className="danger"
                      aria-label={`Remove service ${s}`}
                      disabled={busy}
                      onClick={() => remove.mutate(s)}
                    >
                      Remove service
                    </button>
                  </td>
                )}
              </tr>
            )
          })}
        </tbody>
      </table>
      <ErrorText error={remove.error} />
      {done !== null && (
        <p role="status" className="status-succeeded small">
          {done}
        </p>
      )}
      {isAdmin && editing !== null && decky.services.some((s) => s === editing) && (
        <section className="card service-panel" aria-label={`${editing} settings`}>
          <h3>{editing} settings</h3>
          <ServiceForm
            key={editing}
            service={editing}
            current={decky.service_config[editing]}
            pending={busy}
            error={save.error}
            actions={[
              { label: "Save", run: (config) => save.mutate({ service: editing, config, apply: false }) },
              {
                label: "Save and apply",
                primary: true,
                run: (config) => save.mutate({ service: editing, config, apply: true })
              }
            ]}
          />
        </section>
      )}
      {isAdmin && (
        <section className="card service-panel" aria-label="Add a service">
          <h3>Add a service</h3>
          <label>
            Service to add
            <select
              value={adding}
              onChange={(e) => {
                add.reset()
                setAdding(e.target.value)
              }}
            >
              <option value="">Choose a service…</option>
              {addable.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </label>
          <ErrorText error={catalog.error} />
          {adding !== "" && (
            <ServiceForm
              key={adding}
              service={adding}
              current={undefined}
              pending={busy}
              error={add.error}
              actions={[
                {
                  label: "Add service",
                  primary: true,
                  run: (config) => add.mutate({ service: adding, config })
                }
              ]}
            />
          )}
        </section>
      )}
    </section>
  )
}

export const ManageDialog = ({
  decky,
  status,
  isAdmin,
  onClose,
  onMutate,
  onRemove,
  mutating,
  children
}: {
  decky: Decky
  status: DeckyStatus | undefined
  isAdmin: boolean
  onClose: () => void
  onMutate: () => void
  onRemove: () => void
  mutating: boolean
  /** The progress and errors of this decky's mutations, from the page. */
  children?: ReactNode
}) => (
  <Modal title={isAdmin ? `Manage ${decky.name}` : decky.name} onClose={onClose} wide>
    <dl className="decky-facts">
      <dt>IP</dt>
      <dd className="mono">{decky.ip}</dd>
      <dt>Hostname</dt>
      <dd className="mono">{decky.hostname}</dd>
      <dt>Distro</dt>
      <dd>{decky.distro}</dd>
      <dt>Archetype</dt>
      <dd>{decky.archetype ?? <span className="muted">—</span>}</dd>
      <dt>OS fingerprint</dt>
      <dd>{decky.nmap_os}</dd>
      <dt>State</dt>
      <dd>
        <span className={stateClass(status?.state)}>{status?.state ?? "unknown"}</span>
        {status !== undefined && status.last_error !== null && (
          <span className="error small"> {status.last_error}</span>
        )}
      </dd>
    </dl>
    {isAdmin && (
      <>
        <div className="actions">
          <button type="button" onClick={onMutate} disabled={mutating}>
            Mutate now
          </button>
          <button type="button" className="danger" onClick={onRemove}>
            Remove this decky
          </button>
        </div>
        {children}
        <IntervalForm key={decky.name} decky={decky} />
      </>
    )}
    <Services decky={decky} status={status} isAdmin={isAdmin} />
  </Modal>
)
