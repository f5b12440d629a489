/**
 * What to do when nothing has happened yet: a command that touches a decky of this fleet, built from where
 * its services really listen (`GET /deckies/status`: in-process deckies offset well-known ports by 10,000
 * without root).
 */
import { useQuery } from "@tanstack/react-query"
import { Link } from "react-router"
import { api, call } from "../api/client"

const PREFERRED = ["redis", "http", "ssh", "ftp", "mysql", "smtp", "telnet"]

const commandFor = (service: string, host: string, port: number): string => {
  switch (service) {
    case "redis":
      return `redis-cli -h ${host} -p ${port} AUTH admin hunter2`
    case "http":
      return `curl -s http://${host}:${port}/`
    case "https":
      return `curl -sk https://${host}:${port}/`
    case "ssh":
      return `ssh -p ${port} root@${host}`
    case "ftp":
      return `lftp -p ${port} -u anonymous,guest ${host}`
    case "mysql":
      return `mariadb -h ${host} -P ${port} -u root -proot`
    case "postgres":
      return `psql -h ${host} -p ${port} -U postgres`
    default:
      return `nc ${host} ${port}`
  }
}

export const TouchHint = () => {
  const status = useQuery({
    queryKey: ["deckies", "status"],
    queryFn: () => call(api.GET("/api/v1/deckies/status"))
  })
  const ports = (status.data?.deckies ?? []).flatMap((d) => d.ports.filter((p) => p.proto === "tcp"))
  const pick =
    PREFERRED.map((s) => ports.find((p) => p.service === s)).find((p) => p !== undefined) ?? ports[0]
  if (status.data !== undefined && status.data.deckies.length === 0)
    return (
      <p className="muted">
        No decky is deployed. Deploy one from the <Link to="/fleet">Fleet</Link> page, or run{" "}
        <code>npx decnet up</code>.
      </p>
    )
  if (pick === undefined) return <p className="muted">Waiting for the first event…</p>
  return (
    <div>
      <p className="muted">Nothing has touched a decky yet. Try it from a terminal on this machine:</p>
      <pre data-testid="touch-hint">{commandFor(pick.service, pick.host, pick.port)}</pre>
      <p className="muted small">The event shows up here within a second or two.</p>
    </div>
  )
}
