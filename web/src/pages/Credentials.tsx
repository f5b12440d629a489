/**
 * Captured credentials (`GET /credentials`, spec api §7.4): one row per (attacker, decky, service, secret,
 * principal), newest `last_seen` first. The secret stays hidden until the operator reveals it.
 */
import { Link } from "react-router"
import { api, type CredentialRow, call } from "../api/client"
import { Empty, PageHeader, Secret } from "../components/ui"
import { type Column, type Filter, PagedTable, Stamp } from "./tables/PagedTable"

/** Services whose honeypots capture credentials; the filter also offers those on screen. */
const SERVICES = [
  "ftp",
  "http",
  "https",
  "imap",
  "ldap",
  "mongodb",
  "mssql",
  "mysql",
  "pop3",
  "postgres",
  "rdp",
  "redis",
  "smb",
  "smtp",
  "ssh",
  "telnet",
  "vnc"
]

const utf8 = new TextDecoder("utf-8", { fatal: true })

/**
 * The secret as text: the raw bytes (`secret_b64`) when they are clean UTF-8, else `secret_printable`
 * when it lost nothing (it turns every byte outside 0x20–0x7e into `?`), else the base64 itself.
 */
const secretText = (r: Pick<CredentialRow, "secret_b64" | "secret_printable">): string | null => {
  if (r.secret_b64 !== null && r.secret_b64 !== "") {
    try {
      const text = utf8.decode(Uint8Array.from(atob(r.secret_b64), (c) => c.charCodeAt(0)))
      if (!/[\u0000-\u001f\u007f]/.test(text)) return text
    } catch {
      // not UTF-8 (a hash, a challenge response): fall through
    }
    if (r.secret_printable !== null && !r.secret_printable.includes("?")) return r.secret_printable
    return `base64:${r.secret_b64}`
  }
  return r.secret_printable
}

const columns: ReadonlyArray<Column<CredentialRow>> = [
  { header: "Last seen (UTC)", cell: (r) => <Stamp value={r.last_seen} /> },
  { header: "Decky", cell: (r) => <span className="mono nowrap">{r.decky_name}</span> },
  { header: "Service", cell: (r) => <span className="tag">{r.service}</span> },
  {
    header: "Attacker IP",
    cell: (r) => (
      <Link
        className="mono"
        to={`?attacker_ip=${encodeURIComponent(r.attacker_ip)}`}
        title={`Only credentials from ${r.attacker_ip}`}
      >
        {r.attacker_ip}
      </Link>
    )
  },
  {
    header: "Username",
    cell: (r) =>
      r.principal === null ? (
        <span className="muted">—</span>
      ) : (
        <code className="wrap-any">{r.principal}</code>
      )
  },
  {
    header: "Password / secret",
    className: "wrap-any",
    cell: (r) => (
      <>
        <Secret
          value={secretText(r)}
          label={`password of ${r.principal ?? "(no user)"} on ${r.decky_name}`}
        />
        {r.secret_kind !== "plaintext" && <span className="tag muted">{r.secret_kind}</span>}
      </>
    )
  },
  {
    header: "Outcome",
    cell: (r) => r.outcome ?? <span className="muted">—</span>
  },
  { header: "Attempts", className: "num", cell: (r) => r.attempt_count.toLocaleString() },
  { header: "First seen (UTC)", cell: (r) => <Stamp value={r.first_seen} /> }
]

const filters: ReadonlyArray<Filter<CredentialRow>> = [
  { kind: "select", param: "service", label: "Service", options: SERVICES, seen: (r) => r.service },
  { kind: "text", param: "attacker_ip", label: "Attacker IP", placeholder: "exact address" }
]

export const CredentialsPage = () => (
  <>
    <PageHeader title="Credentials" />
    <PagedTable
      what="credentials"
      queryKey="credentials"
      searchPlaceholder="decky, service, user, password"
      filters={filters}
      columns={columns}
      rowKey={(r) => r.id}
      load={(q) =>
        call(
          api.GET("/api/v1/credentials", {
            params: {
              query: {
                limit: q.limit,
                offset: q.offset,
                search: q.search,
                service: q.service,
                attacker_ip: q.attacker_ip
              }
            }
          })
        )
      }
      empty={
        <Empty title="No credentials captured yet: an attacker's login attempt on ssh, ftp, telnet, mysql, redis… lands here">
          <p>
            Try one yourself against a deployed decky (see the <Link to="/fleet">Fleet</Link> page for its
            address and ports), for example <code>ssh root@&lt;decky&gt;</code> with any password, or{" "}
            <code>redis-cli -h &lt;decky&gt; AUTH admin hunter2</code>. The attempt shows up here within a few
            seconds.
          </p>
        </Empty>
      }
    />
  </>
)
