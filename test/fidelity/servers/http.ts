// Debian's Apache 2.4 as the http emulator's reference (issue 14): `apache2 -X` (one process, in the
// foreground) on a loopback address, with a configuration of its own in a temp folder built like
// Debian's default install (the modules of mods-enabled and their Debian .conf files, security.conf's
// ServerTokens OS / ServerSignature On / TraceEnable Off, KeepAlive On with a 5 s timeout, and
// `<Directory />` Require all denied). Two virtual hosts on two ports: the first serves the emulator's
// `apache_default` page as index.html (Debian's default site), the second denies everything (what the
// emulator answers with fake_app none: the 403 page on every path). Nothing under /etc is changed.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, utimesSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fakeAppPage } from "../../../src/honeypots/http/Pages.js"
import { listening } from "../probe.js"
import { spawnReal } from "./spawn.js"
import type { RealServer, RealServerOptions, StartReal } from "./types.js"

export const APACHE = "/usr/sbin/apache2"
export const MODULES = "/usr/lib/apache2/modules"
/** The decky hostname both sides use: Apache's ServerName, the emulator's --hostname. */
export const HOSTNAME = "web01"
/** Debian's Apache version, the one the emulator's default persona claims. */
export const SERVER_HEADER = "Apache/2.4.71 (Debian)"

/** The emulator's config for the Debian default site. */
export const emulatorConfig: Record<string, unknown> = { fake_app: "apache_default" }
/** The emulator's config for the all-denied site. */
export const deniedConfig: Record<string, unknown> = {}
export const nmapExpect = /http\s+Apache httpd 2\.4\.\d+ \(\(Debian\)\)/

// mods-enabled of a fresh Debian install, less mod_status (it serves /server-status to loopback
// clients, which a remote scanner never sees).
const LOADED = [
  "mpm_event",
  "access_compat",
  "alias",
  "auth_basic",
  "authn_core",
  "authn_file",
  "authz_core",
  "authz_host",
  "authz_user",
  "autoindex",
  "deflate",
  "dir",
  "env",
  "filter",
  "mime",
  "negotiation",
  "reqtimeout",
  "setenvif"
]
const DEBIAN_CONF = ["alias", "autoindex", "deflate", "dir", "mime", "negotiation", "reqtimeout", "setenvif"]

export interface ApacheOptions extends RealServerOptions {
  /** A second port, served by the all-denied virtual host. */
  readonly deniedPort?: number
  /** Extra directives (the https starter's mod_ssl lines). */
  readonly extra?: (dir: string) => string
  /** Extra server-wide directives (after the modules). */
  readonly globals?: (dir: string) => string
  readonly modules?: ReadonlyArray<string>
}

export const apacheConfig = (dir: string, options: ApacheOptions): string => {
  const modules = [...LOADED, ...(options.modules ?? [])]
  const host = options.host.includes(":") ? `[${options.host}]` : options.host
  const lines = [
    `ServerRoot ${dir}`,
    `DefaultRuntimeDir ${dir}`,
    `PidFile ${dir}/apache2.pid`,
    `ErrorLog ${dir}/error.log`,
    "LogLevel warn",
    "User nobody",
    "Group nogroup",
    ...modules.map((m) => `LoadModule ${m.replace(/^mpm_/, "mpm_")}_module ${MODULES}/mod_${m}.so`),
    "StartServers 1",
    "ServerLimit 1",
    "ThreadsPerChild 25",
    "MaxRequestWorkers 25",
    "Timeout 300",
    "KeepAlive On",
    "MaxKeepAliveRequests 100",
    "KeepAliveTimeout 5",
    "HostnameLookups Off",
    ...DEBIAN_CONF.filter((m) => existsSync(`/etc/apache2/mods-available/${m}.conf`)).map(
      (m) => `Include /etc/apache2/mods-available/${m}.conf`
    ),
    "ServerTokens OS",
    "ServerSignature On",
    "TraceEnable Off",
    `ServerName ${HOSTNAME}`,
    ...(options.globals === undefined ? [] : [options.globals(dir)]),
    "<Directory />",
    "  Options FollowSymLinks",
    "  AllowOverride None",
    "  Require all denied",
    "</Directory>",
    `<Directory ${dir}/www/>`,
    "  Options Indexes FollowSymLinks",
    "  AllowOverride None",
    "  Require all granted",
    "</Directory>",
    'LogFormat "%h %l %u %t \\"%r\\" %>s %O \\"%{Referer}i\\" \\"%{User-Agent}i\\"" combined',
    `Listen ${host}:${options.port}`,
    ...(options.deniedPort === undefined ? [] : [`Listen ${host}:${options.deniedPort}`]),
    `<VirtualHost ${host}:${options.port}>`,
    `  ServerName ${HOSTNAME}`,
    `  DocumentRoot ${dir}/www/html`,
    `  CustomLog ${dir}/access.log combined`,
    ...(options.extra === undefined ? [] : [options.extra(dir)]),
    "</VirtualHost>",
    ...(options.deniedPort === undefined
      ? []
      : [
          `<VirtualHost ${host}:${options.deniedPort}>`,
          `  ServerName ${HOSTNAME}`,
          `  DocumentRoot ${dir}/denied`,
          `  CustomLog ${dir}/access.log combined`,
          "</VirtualHost>"
        ])
  ]
  return `${lines.join("\n")}\n`
}

/** Start Apache with `options`; resolves once every port accepts connections. */
export const startApache = async (options: ApacheOptions): Promise<RealServer & { readonly dir: string }> => {
  const dir = mkdtempSync(join(tmpdir(), "decnet-fidelity-apache-"))
  // Apache's children run as nobody: the tree must be readable by it.
  chmodSync(dir, 0o755)
  mkdirSync(join(dir, "www", "html"), { recursive: true, mode: 0o755 })
  mkdirSync(join(dir, "denied"), { mode: 0o755 })
  writeFileSync(
    join(dir, "www", "html", "index.html"),
    fakeAppPage("apache_default", SERVER_HEADER, HOSTNAME) ?? "",
    {
      mode: 0o644
    }
  )
  writeFileSync(join(dir, "denied", "index.html"), "denied\n", { mode: 0o644 })
  // Apache makes the ETag weak (W/"…") for a file modified less than a second before the request; a page
  // installed a minute ago is what a real site serves.
  const installed = new Date(Date.now() - 60_000)
  for (const f of [join(dir, "www", "html", "index.html"), join(dir, "denied", "index.html")])
    utimesSync(f, installed, installed)
  writeFileSync(join(dir, "apache2.conf"), apacheConfig(dir, options))
  const ports = [options.port, ...(options.deniedPort === undefined ? [] : [options.deniedPort])]
  const { stop } = await spawnReal(
    dir,
    APACHE,
    ["-X", "-d", dir, "-f", join(dir, "apache2.conf")],
    {
      answers: async () => (await Promise.all(ports.map((p) => listening(options.host, p)))).every(Boolean),
      timeoutMs: 15_000,
      everyMs: 50,
      failure: () => `apache2 did not start on ${options.host}:${options.port}`
    },
    { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LANG: "C" } }
  )
  return { host: options.host, port: options.port, stop, dir }
}

export const start: StartReal = (options) => startApache(options)
