// nmap -sV as a scanner's-eye check (issue 14): one scan of a loopback host's ports, parsed from nmap's XML
// output into what its PORT/SERVICE/VERSION columns show, with the scan's own elapsed time.
import { spawn } from "node:child_process"
import { cleanEnv, decnet, type Proc, waitUntil } from "../support/proc.js"

export interface NmapPort {
  readonly port: number
  readonly state: string
  /** nmap's service name ("ssh", "http", "unknown", "tcpwrapped"…), with "ssl/" when it tunnelled TLS. */
  readonly service: string
  readonly product: string
  readonly version: string
  readonly extrainfo: string
  /** "probed" when a probe's reply matched; "table" when nmap only guessed from the port number (its "?"). */
  readonly method: string
  /** What the VERSION column shows: product, version and (extrainfo). */
  readonly shown: string
}

export interface NmapScan {
  readonly ports: ReadonlyArray<NmapPort>
  readonly seconds: number
}

export const NMAP = "/usr/bin/nmap"

const attr = (tag: string, name: string): string => {
  const m = new RegExp(`\\s${name}="([^"]*)"`).exec(tag)
  return (m?.[1] ?? "")
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&")
}

/** Parses `nmap -oX -` output. */
export const parseNmapXml = (xml: string): NmapScan => {
  const ports: Array<NmapPort> = []
  for (const m of xml.matchAll(/<port protocol="tcp" portid="(\d+)">([\s\S]*?)<\/port>/g)) {
    const body = m[2] ?? ""
    const state = attr(/<state [^>]*>/.exec(body)?.[0] ?? "", "state")
    const service = /<service [^>]*>/.exec(body)?.[0] ?? ""
    const tunnel = attr(service, "tunnel")
    const product = attr(service, "product")
    const version = attr(service, "version")
    const extrainfo = attr(service, "extrainfo")
    ports.push({
      port: Number(m[1]),
      state,
      service: `${tunnel === "" ? "" : `${tunnel}/`}${attr(service, "name") || "unknown"}`,
      product,
      version,
      extrainfo,
      method: attr(service, "method"),
      shown: [product, version, extrainfo === "" ? "" : `(${extrainfo})`].filter((s) => s !== "").join(" ")
    })
  }
  const elapsed = /<finished [^>]*elapsed="([\d.]+)"/.exec(xml)
  return { ports, seconds: Number(elapsed?.[1] ?? Number.NaN) }
}

/** `nmap -sV -Pn -n` on loopback `host` (the caller's own servers only), in its own process group. */
export const nmapScan = (host: string, ports: ReadonlyArray<number>, extra: ReadonlyArray<string> = []) =>
  new Promise<NmapScan>((resolve, reject) => {
    if (!host.startsWith("127.")) {
      reject(new Error(`nmapScan scans loopback only, not ${host}`))
      return
    }
    const child = spawn(NMAP, ["-sV", "-Pn", "-n", "-p", ports.join(","), ...extra, "-oX", "-", host], {
      stdio: ["ignore", "pipe", "pipe"],
      detached: true
    })
    let out = ""
    let err = ""
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d
    })
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      err += d
    })
    child.once("error", reject)
    child.once("exit", (code) => {
      if (code === 0) resolve(parseNmapXml(out))
      else reject(new Error(`nmap exited with ${code}: ${err}`))
    })
  })

/** One line per port, as nmap's table shows it. */
export const describeScan = (scan: NmapScan): string =>
  scan.ports
    .map((p) => `${p.port}/tcp ${p.state} ${p.service}${p.method === "probed" ? "" : "?"} ${p.shown}`)
    .join("\n")

/**
 * `decnet honeypot <slug>` on `host` and `ports` (in the catalog's order: smb is 445 then 139), resolved
 * once it says it listens. Readiness is read from its output, never by connecting: a connection is
 * something the emulator counts (TigerVNC's blacklist counts every connection from an address).
 */
export const startEmulator = async (
  slug: string,
  host: string,
  ports: ReadonlyArray<number>,
  config: Record<string, unknown>,
  home: string
): Promise<Proc> => {
  const proc = decnet(
    [
      "honeypot",
      slug,
      "--host",
      host,
      ...ports.flatMap((p) => ["--port", String(p)]),
      "--config",
      JSON.stringify(config)
    ],
    cleanEnv({ HOME: home })
  )
  const up = await waitUntil(
    () => proc.stderr().includes(`${slug} listening on`) || proc.child.exitCode !== null,
    60_000,
    50
  )
  if (up !== true || proc.child.exitCode !== null)
    throw new Error(`decnet honeypot ${slug} did not start:\n${proc.stderr()}`)
  return proc
}
