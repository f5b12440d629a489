/**
 * Staging an edit of a deployed topology as a mutation (`POST /topologies/{id}/mutations`, topology.md §8):
 * add or remove a LAN; add a decky to a LAN, attach it to another LAN, detach it from one, change its
 * services, remove it. (`update_lan` is not offered: on a deployed LAN it can only move the LAN's map
 * coordinates, which this page's fixed layout does not use.)
 *
 * The form offers only what the op can take (detach: the decky's LANs other than its home; remove a LAN:
 * one that is no decky's home and not the DMZ; attach: a LAN the decky is not on), and checks a new name
 * and the services before sending: an op the reconciler refuses fails in the queue and degrades the
 * topology, so the page says so first, under the field.
 *
 * The edit is made against the version the operator was looking at when they started it, and is sent with
 * that `expected_version`. If the topology moved on meanwhile the server answers 409; the page then says so
 * with the current version, keeps the edit as it was, and offers to send it again on the latest version.
 * An edit is never dropped without the operator asking.
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query"
import { type FormEvent, useId, useState } from "react"
import { ApiError, api, call } from "../../api/client"
import { ErrorText } from "../../components/ui"
import { Field } from "./Field"
import {
  conflictVersion,
  type DeckyView,
  deckyViews,
  type LanRow,
  parseServices,
  servicesOf,
  type TopologyDetail,
  truthy
} from "./model"

export const OPS = [
  "add_lan",
  "remove_lan",
  "add_decky",
  "attach_decky",
  "detach_decky",
  "update_decky",
  "remove_decky"
] as const
export type StagedOp = (typeof OPS)[number]

const OP_LABEL: Record<StagedOp, string> = {
  add_lan: "Add a LAN",
  remove_lan: "Remove a LAN",
  add_decky: "Add a decky",
  attach_decky: "Attach a decky to a LAN",
  detach_decky: "Detach a decky from a LAN",
  update_decky: "Change a decky's services",
  remove_decky: "Remove a decky"
}

interface Draft {
  readonly op: StagedOp
  readonly name: string
  readonly lan: string
  readonly decky: string
  readonly services: string
}
const EMPTY: Draft = { op: "add_lan", name: "", lan: "", decky: "", services: "" }

/** The fields checked when the edit is sent. */
type Errors = Partial<Record<"name" | "services", string>>

const isOp = (s: string): s is StagedOp => OPS.some((o) => o === s)

const needs = (op: StagedOp) => ({
  name: op === "add_lan" || op === "add_decky",
  lan: op === "remove_lan" || op === "add_decky" || op === "attach_decky" || op === "detach_decky",
  decky: op === "attach_decky" || op === "detach_decky" || op === "update_decky" || op === "remove_decky",
  services: op === "add_decky" || op === "update_decky"
})

const payloadOf = (d: Draft): Record<string, unknown> => {
  switch (d.op) {
    case "add_lan":
      return { name: d.name.trim() }
    case "remove_lan":
      return { name: d.lan }
    case "add_decky":
      return { name: d.name.trim(), lan: d.lan, services: parseServices(d.services) }
    case "attach_decky":
    case "detach_decky":
      return { decky: d.decky, lan: d.lan }
    case "update_decky":
      return { decky: d.decky, services: parseServices(d.services) }
    case "remove_decky":
      return { decky: d.decky }
  }
}

/** The deckies and LANs the op can take, from the topology as shown. */
const choicesOf = (
  op: StagedOp,
  decky: string,
  views: ReadonlyArray<DeckyView>,
  lans: ReadonlyArray<LanRow>
): { deckies: ReadonlyArray<string>; lans: ReadonlyArray<string> } => {
  const view = views.find((v) => v.decky.name === decky)
  const homes = new Set(views.flatMap((v) => (v.home === undefined ? [] : [v.home.id])))
  const on = (l: LanRow) => view?.lans.some((x) => x.id === l.id) === true
  const lanChoices =
    op === "remove_lan"
      ? lans.filter((l) => !homes.has(l.id) && !truthy(l.is_dmz))
      : op === "attach_decky"
        ? lans.filter((l) => !on(l))
        : op === "detach_decky"
          ? (view?.lans.slice(1) ?? [])
          : lans
  const deckyChoices = op === "detach_decky" ? views.filter((v) => v.lans.length >= 2) : views
  return { deckies: deckyChoices.map((v) => v.decky.name), lans: lanChoices.map((l) => l.name) }
}

const missing = (d: Draft): string | undefined => {
  const n = needs(d.op)
  if (n.name && d.name.trim() === "") return "Name it first"
  if (n.decky && d.decky === "") return "Choose a decky first"
  if (n.lan && d.lan === "") return "Choose a LAN first"
  return undefined
}

const LAN_HINT: Partial<Record<StagedOp, string>> = {
  remove_lan: "A LAN no decky calls home (not the DMZ); deckies that visit it are detached from it",
  attach_decky: "A LAN the decky is not on; it gets the next free address there",
  detach_decky: "One of the decky's LANs other than its home LAN"
}

/** A labelled select of names, with a first "none chosen" option. */
const Choose = ({
  label,
  hint,
  none,
  options,
  value,
  onChange
}: {
  label: string
  hint: string | undefined
  none: string
  options: ReadonlyArray<string>
  value: string
  onChange: (value: string) => void
}) => (
  <Field label={label} error={undefined} hint={hint}>
    {(p) => (
      <select {...p} value={value} onChange={(e) => onChange(e.target.value)}>
        <option value="">{none}</option>
        {options.map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </select>
    )}
  </Field>
)

interface Conflict {
  readonly expected: number
  readonly current: number | undefined
}

export const StageEdit = ({
  detail,
  onQueued
}: {
  detail: TopologyDetail
  onQueued: (mutationId: string, op: StagedOp) => void
}) => {
  const id = useId()
  const queryClient = useQueryClient()
  const topologyId = detail.topology.id
  const [draft, setDraft] = useState<Draft>(EMPTY)
  const [errors, setErrors] = useState<Errors>({})
  /** The version the edit was started on; undefined until the first change. */
  const [base, setBase] = useState<number | undefined>(undefined)
  const [conflict, setConflict] = useState<Conflict | null>(null)
  const [queued, setQueued] = useState<string | null>(null)
  const shownVersion = detail.topology.version
  const catalog = useQuery({
    queryKey: ["topologies", "services"],
    queryFn: () => call(api.GET("/api/v1/topologies/services")),
    staleTime: 60_000
  })
  const views = deckyViews(detail)
  const servicesNow = (decky: string): ReadonlyArray<string> => {
    const v = views.find((x) => x.decky.name === decky)
    return v === undefined ? [] : servicesOf(v.decky)
  }

  const send = useMutation({
    mutationFn: ({ d, version }: { d: Draft; version: number }) =>
      call(
        api.POST("/api/v1/topologies/{topology_id}/mutations", {
          params: { path: { topology_id: topologyId } },
          body: { op: d.op, payload: payloadOf(d), expected_version: version }
        })
      ),
    onSuccess: (r, { d }) => {
      setConflict(null)
      // The whole id: ids are time-ordered, so any prefix is shared by the mutations of the same minute.
      setQueued(`${OP_LABEL[d.op]} is queued (mutation ${r.mutation_id}).`)
      setDraft((old) => ({ ...EMPTY, op: old.op }))
      setBase(undefined)
      onQueued(r.mutation_id, d.op)
    },
    onError: (e, { version }) => {
      if (e instanceof ApiError && e.status === 409 && /version conflict/i.test(e.detail)) {
        setConflict({ expected: version, current: conflictVersion(e.detail) })
        // The map and the version shown catch up; the edit itself stays as typed.
        void queryClient.invalidateQueries({ queryKey: ["topology", topologyId] })
      }
    }
  })

  /** A draft whose choices still hold: a LAN or decky the op cannot take is cleared; choosing a decky to
   * change fills in its services. */
  const settle = (d: Draft, patch: Partial<Draft>): Draft => {
    const c = choicesOf(d.op, d.decky, views, detail.lans)
    const decky = c.deckies.includes(d.decky) ? d.decky : ""
    const lan = c.lans.includes(d.lan) ? d.lan : ""
    const services =
      d.op === "update_decky" && (patch.op !== undefined || patch.decky !== undefined)
        ? servicesNow(decky).join(", ")
        : d.services
    return { ...d, decky, lan, services }
  }
  const change = (patch: Partial<Draft>) => {
    if (base === undefined) setBase(shownVersion)
    setQueued(null)
    setErrors({})
    setDraft((d) => settle({ ...d, ...patch }, patch))
  }
  const version = base ?? shownVersion
  const problem = missing(draft)

  /** What the server would refuse only once the reconciler runs it (a failed op degrades the topology). */
  const check = (d: Draft): Errors => {
    const e: Errors = {}
    const name = d.name.trim()
    if (d.op === "add_lan" && detail.lans.some((l) => l.name === name))
      e.name = `A LAN named '${name}' already exists`
    if (d.op === "add_decky" && detail.deckies.some((x) => x.name === name))
      e.name = `A decky named '${name}' already exists`
    const services = parseServices(d.services)
    const known = catalog.data?.services
    const unknown = known === undefined ? [] : services.filter((s) => !known.includes(s))
    if (unknown.length > 0)
      e.services = `Unknown service${unknown.length > 1 ? "s" : ""}: ${unknown.join(", ")}`
    else if (d.op === "update_decky") {
      const current = servicesNow(d.decky)
      if (services.length === 0) e.services = "Name at least one service"
      else if ([...services].sort().join(",") === [...current].sort().join(","))
        e.services = "These are its services already"
    }
    return e
  }

  const submit = (e: FormEvent) => {
    e.preventDefault()
    if (problem !== undefined) return
    const found = check(draft)
    setErrors(found)
    if (found.name !== undefined || found.services !== undefined) return
    send.mutate({ d: draft, version })
  }

  /** Fetch the latest topology, rebase the edit on its version and send it again. */
  const reapply = async () => {
    const latest = await queryClient.fetchQuery({
      queryKey: ["topology", topologyId],
      queryFn: () =>
        call(api.GET("/api/v1/topologies/{topology_id}", { params: { path: { topology_id: topologyId } } })),
      staleTime: 0
    })
    setBase(latest.topology.version)
    send.mutate({ d: draft, version: latest.topology.version })
  }

  const n = needs(draft.op)
  const choices = choicesOf(draft.op, draft.decky, views, detail.lans)
  const lanHint =
    choices.lans.length === 0 && (draft.op !== "detach_decky" || draft.decky !== "")
      ? draft.op === "remove_lan"
        ? "Every LAN is the DMZ or a decky's home: remove its deckies first"
        : draft.op === "detach_decky"
          ? "This decky is on its home LAN only"
          : "This decky is on every LAN already"
      : LAN_HINT[draft.op]
  const otherError =
    send.error !== null && !(send.error instanceof ApiError && /version conflict/i.test(send.error.detail))
  return (
    <form className="stage-form" onSubmit={submit} aria-labelledby={`${id}-title`} noValidate>
      <h2 id={`${id}-title`}>Stage an edit</h2>
      <p className="muted small">
        Queued as a mutation; the reconciler applies it to the running topology. Made against version{" "}
        <strong data-testid="edit-base-version">{version}</strong>
        {base !== undefined && base !== shownVersion
          ? ` (the topology is now at version ${shownVersion})`
          : ""}
        .
      </p>
      <div className="stage-grid">
        <Field label="Edit" error={undefined}>
          {(p) => (
            <select
              {...p}
              value={draft.op}
              onChange={(e) => {
                const op = e.target.value
                if (isOp(op)) change({ op })
              }}
            >
              {OPS.map((o) => (
                <option key={o} value={o}>
                  {OP_LABEL[o]} ({o})
                </option>
              ))}
            </select>
          )}
        </Field>
        {n.name && (
          <Field label={draft.op === "add_lan" ? "New LAN name" : "New decky name"} error={errors.name}>
            {(p) => (
              <input
                {...p}
                type="text"
                value={draft.name}
                maxLength={64}
                onChange={(e) => change({ name: e.target.value })}
              />
            )}
          </Field>
        )}
        {n.decky && (
          <Choose
            label="Decky"
            hint={
              draft.op === "detach_decky" && choices.deckies.length === 0
                ? "No decky is on more than one LAN"
                : undefined
            }
            none="choose a decky…"
            options={choices.deckies}
            value={draft.decky}
            onChange={(decky) => change({ decky })}
          />
        )}
        {n.lan && (
          <Choose
            label="LAN"
            hint={lanHint}
            none={
              draft.op === "detach_decky" && draft.decky === "" ? "choose a decky first…" : "choose a LAN…"
            }
            options={choices.lans}
            value={draft.lan}
            onChange={(lan) => change({ lan })}
          />
        )}
        {n.services && (
          <Field
            label="Services"
            error={errors.services}
            hint={
              draft.op === "update_decky"
                ? "Replaces its services (comma-separated)"
                : "Comma-separated; empty: none"
            }
          >
            {(p) => (
              <input
                {...p}
                type="text"
                value={draft.services}
                placeholder="ssh, http"
                onChange={(e) => change({ services: e.target.value })}
              />
            )}
          </Field>
        )}
      </div>
      {conflict !== null && (
        <div className="conflict" role="alert" data-testid="version-conflict">
          <p>
            <strong>Version conflict.</strong> This edit was made on version {conflict.expected}, but the
            topology
            {conflict.current === undefined ? " has changed since" : ` is now at version ${conflict.current}`}
            : someone else changed it. Nothing was applied, and your edit is kept as you made it.
          </p>
          <div className="actions">
            <button
              type="button"
              className="primary"
              disabled={send.isPending}
              onClick={() => void reapply()}
            >
              Re-apply on the latest version
            </button>
            <button
              type="button"
              onClick={() => {
                setConflict(null)
                setDraft(EMPTY)
                setErrors({})
                setBase(undefined)
              }}
            >
              Discard this edit
            </button>
          </div>
        </div>
      )}
      {otherError && <ErrorText error={send.error} />}
      {queued !== null && (
        <p className="small status-ok" role="status">
          {queued}
        </p>
      )}
      <div className="actions">
        <button
          type="submit"
          className="primary"
          disabled={send.isPending || problem !== undefined}
          title={problem}
          aria-busy={send.isPending}
        >
          Queue the edit
        </button>
      </div>
    </form>
  )
}
