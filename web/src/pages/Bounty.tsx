/**
 * Bounty (`GET /bounty`, spec api §7.3): what attackers gave away, newest first: client fingerprints,
 * leaked addresses, captured files and mail. The payload is shown compactly and expands to its JSON;
 * secret-looking fields stay hidden until revealed. Admins can download a captured ssh/smtp artifact.
 */
import { useState } from "react"
import { api, type BountyRow, call, download } from "../api/client"
import { useAuth } from "../auth"
import { Empty, ErrorText, PageHeader, Secret } from "../components/ui"
import { type Column, type Filter, PagedTable, Stamp } from "./tables/PagedTable"
import { compact, redact } from "./tables/format"

/** Written by the ingester (fingerprint, ip_leak, artifact) and the orchestrator (probe_relay). */
const BOUNTY_TYPES = ["artifact", "fingerprint", "ip_leak", "probe_relay"]
/** Services whose artifacts `GET /artifacts` serves (spec api §7.16). */
const ARTIFACT_SERVICES = new Set(["ssh", "smtp"])

const field = (payload: unknown, key: string): string | undefined => {
  if (typeof payload !== "object" || payload === null || !(key in payload)) return undefined
  const v: unknown = (payload as Record<string, unknown>)[key]
  return typeof v === "string" ? v : undefined
}

const Download = ({ row, storedAs }: { row: BountyRow; storedAs: string }) => {
  const [error, setError] = useState<unknown>(undefined)
  const [busy, setBusy] = useState(false)
  const path = `/api/v1/artifacts/${encodeURIComponent(row.decky)}/${encodeURIComponent(storedAs)}?service=${encodeURIComponent(row.service)}`
  return (
    <>
      <button
        type="button"
        disabled={busy}
        aria-label={`Download ${storedAs}`}
        onClick={() => {
          setBusy(true)
          setError(undefined)
          download(path, storedAs)
            .catch(setError)
            .finally(() => setBusy(false))
        }}
      >
        Download
      </button>
      <ErrorText error={error} />
    </>
  )
}

const Payload = ({ row, isAdmin }: { row: BountyRow; isAdmin: boolean }) => {
  const { shown, secrets } = redact(row.payload)
  const storedAs = field(row.payload, "stored_as")
  return (
    <details className="payload">
      <summary className="mono">{compact(shown)}</summary>
      <pre>{typeof shown === "string" ? shown : JSON.stringify(shown, null, 2)}</pre>
      {secrets.length > 0 && (
        <ul aria-label="Hidden fields">
          {secrets.map((s) => (
            <li key={s.path}>
              <code>{s.path}</code>: <Secret value={s.value} label={`${s.path} of bounty ${row.id}`} />
            </li>
          ))}
        </ul>
      )}
      {isAdmin &&
        row.bounty_type === "artifact" &&
        storedAs !== undefined &&
        ARTIFACT_SERVICES.has(row.service) && <Download row={row} storedAs={storedAs} />}
    </details>
  )
}

const filters: ReadonlyArray<Filter<BountyRow>> = [
  { kind: "select", param: "bounty_type", label: "Type", options: BOUNTY_TYPES, seen: (r) => r.bounty_type }
]

export const BountyPage = () => {
  const { isAdmin } = useAuth()
  const columns: ReadonlyArray<Column<BountyRow>> = [
    { header: "Time (UTC)", cell: (r) => <Stamp value={r.timestamp} /> },
    { header: "Decky", cell: (r) => <span className="mono nowrap">{r.decky}</span> },
    { header: "Service", cell: (r) => <span className="tag">{r.service}</span> },
    { header: "Attacker IP", cell: (r) => <span className="mono">{r.attacker_ip}</span> },
    {
      header: "Type",
      cell: (r) => {
        const sub = field(r.payload, "fingerprint_type") ?? field(r.payload, "kind")
        return (
          <span className="nowrap">
            <strong>{r.bounty_type}</strong>
            {sub !== undefined && <span className="muted small"> · {sub}</span>}
          </span>
        )
      }
    },
    { header: "Payload", className: "wrap-any", cell: (r) => <Payload row={r} isAdmin={isAdmin} /> }
  ]
  return (
    <>
      <PageHeader title="Bounty" />
      <PagedTable
        what="bounty"
        queryKey="bounty"
        searchPlaceholder="decky, service, IP, payload text"
        filters={filters}
        columns={columns}
        rowKey={(r) => r.id}
        load={(q) =>
          call(
            api.GET("/api/v1/bounty", {
              params: {
                query: { limit: q.limit, offset: q.offset, search: q.search, bounty_type: q.bounty_type }
              }
            })
          )
        }
        empty={
          <Empty title="No bounty collected yet: client fingerprints, leaked addresses and captured files or mail land here">
            <p>
              Touch a deployed decky (its address and ports are on the Fleet page): an HTTP request such as{" "}
              <code>curl -A sqlmap http://&lt;decky&gt;/</code> leaves a User-Agent and JA4H fingerprint,{" "}
              <code>-H 'X-Forwarded-For: 8.8.8.8'</code> an ip_leak, and a file uploaded over ssh or ftp an
              artifact.
            </p>
          </Empty>
        }
      />
    </>
  )
}
