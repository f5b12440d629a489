/**
 * Staging an edit of a deployed topology as a mutation (`POST /topologies/{id}/mutations`, topology.md §8):
 * add a LAN, add a decky to a LAN, attach a decky to another LAN, detach it, remove it. The edit is made
 * against the version the operator was looking at when they started it, and is sent with that
 * `expected_version`. If the topology moved on meanwhile the server answers 409; the page then says so
 * with the current version, keeps the edit as it was, and offers to send it again on the latest version.
 * An edit is never dropped without the operator asking.
 */
import { useMutation, useQueryClient } from "@tanstack/react-query"
import { type FormEvent, useId, useState } from "react"
import { ApiError, api, call } from "../../api/client"
import { ErrorText } from "../../components/ui"
import { conflictVersion, type TopologyDetail } from "./model"

export const OPS = ["add_lan", "add_decky", "attach_decky", "detach_decky", "remove_decky"] as const
export type StagedOp = (typeof OPS)[number]

const OP_LABEL: Record<StagedOp, string> = {
  add_lan: "Add a LAN",
  add_decky: "Add a decky",
  attach_decky: "Attach a decky to a LAN",
  detach_decky: "Detach a decky from a LAN",
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

const isOp = (s: string): s is StagedOp => OPS.some((o) => o === s)

const needs = (op: StagedOp) => ({
  name: op === "add_lan" || op === "add_decky",
  lan: op === "add_decky" || op === "attach_decky" || op === "detach_decky",
  decky: op === "attach_decky" || op === "detach_decky" || op === "remove_decky",
  services: op === "add_decky"
})

const payloadOf = (d: Draft): Record<string, unknown> => {
  switch (d.op) {
    case "add_lan":
      return { name: d.name.trim() }
    case "add_decky":
      return {
        name: d.name.trim(),
        lan: d.lan,
        services: d.services
          .split(/[,\s]+/)
          .map((s) => s.trim())
          .filter((s) => s !== "")
      }
    case "attach_decky":
    case "detach_decky":
      return { decky: d.decky, lan: d.lan }
    case "remove_decky":
      return { decky: d.decky }
  }
}

const missing = (d: Draft): string | undefined => {
  const n = needs(d.op)
  if (n.name && d.name.trim() === "") return "a name"
  if (n.lan && d.lan === "") return "a LAN"
  if (n.decky && d.decky === "") return "a decky"
  return undefined
}

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
  /** The version the edit was started on; undefined until the first change. */
  const [base, setBase] = useState<number | undefined>(undefined)
  const [conflict, setConflict] = useState<Conflict | null>(null)
  const [queued, setQueued] = useState<string | null>(null)
  const shownVersion = detail.topology.version

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
      setQueued(`${OP_LABEL[d.op]} is queued (mutation ${r.mutation_id.slice(0, 8)}).`)
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

  const change = (patch: Partial<Draft>) => {
    if (base === undefined) setBase(shownVersion)
    setQueued(null)
    setDraft((d) => ({ ...d, ...patch }))
  }
  const version = base ?? shownVersion
  const problem = missing(draft)

  const submit = (e: FormEvent) => {
    e.preventDefault()
    if (problem !== undefined) return
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
  const lans = detail.lans.map((l) => l.name)
  const deckies = detail.deckies.map((d) => d.name)
  const otherError =
    send.error !== null && !(send.error instanceof ApiError && /version conflict/i.test(send.error.detail))
  return (
    <form className="stage-form" onSubmit={submit} aria-labelledby={`${id}-title`}>
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
        <div className="gen-field">
          <label htmlFor={`${id}-op`}>Edit</label>
          <select
            id={`${id}-op`}
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
        </div>
        {n.name && (
          <div className="gen-field">
            <label htmlFor={`${id}-name`}>{draft.op === "add_lan" ? "New LAN name" : "New decky name"}</label>
            <input
              id={`${id}-name`}
              type="text"
              value={draft.name}
              maxLength={64}
              onChange={(e) => change({ name: e.target.value })}
            />
          </div>
        )}
        {n.decky && (
          <div className="gen-field">
            <label htmlFor={`${id}-decky`}>Decky</label>
            <select
              id={`${id}-decky`}
              value={draft.decky}
              onChange={(e) => change({ decky: e.target.value })}
            >
              <option value="">choose a decky…</option>
              {deckies.map((d) => (
                <option key={d} value={d}>
                  {d}
                </option>
              ))}
            </select>
          </div>
        )}
        {n.lan && (
          <div className="gen-field">
            <label htmlFor={`${id}-lan`}>LAN</label>
            <select id={`${id}-lan`} value={draft.lan} onChange={(e) => change({ lan: e.target.value })}>
              <option value="">choose a LAN…</option>
              {lans.map((l) => (
                <option key={l} value={l}>
                  {l}
                </option>
              ))}
            </select>
          </div>
        )}
        {n.services && (
          <div className="gen-field">
            <label htmlFor={`${id}-services`}>Services</label>
            <input
              id={`${id}-services`}
              type="text"
              value={draft.services}
              placeholder="ssh, http"
              onChange={(e) => change({ services: e.target.value })}
            />
          </div>
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
          title={problem === undefined ? undefined : `Choose ${problem} first`}
          aria-busy={send.isPending}
        >
          Queue the edit
        </button>
      </div>
    </form>
  )
}
