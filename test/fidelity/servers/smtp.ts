// Debian's Postfix 3.7 as the smtp emulator's reference (issue 14): Postfix's own master daemon in the
// foreground (`master -d`), with a main.cf/master.cf of its own in a temp folder (queue and data
// directories there too), one smtpd listening on the loopback address asked for. The configuration is a
// fresh Ubuntu install's (smtpd_banner `… (Ubuntu)`, STARTTLS with a self-signed certificate, the
// default relay restrictions) plus SMTP AUTH PLAIN/LOGIN through Cyrus SASL with an empty user database,
// so every login fails as in the emulator's harvester mode. The client (loopback) is kept out of
// mynetworks, as an attacker is; nothing is ever delivered (every transport is discard:) and no DNS is
// asked. /etc/postfix and the machine's mail system are never touched.
import { spawnSync } from "node:child_process"
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  writeFileSync
} from "node:fs"
import { createConnection } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { selfSigned, spawnReal } from "./spawn.js"
import type { RealServer, RealServerOptions, StartReal } from "./types.js"

export const POSTFIX = "/usr/sbin/postfix"
export const MASTER = "/usr/lib/postfix/sbin/master"
export const POSTCONF = "/usr/sbin/postconf"
/** Cyrus SASL's PLAIN and LOGIN plugins (libsasl2-modules): without them Postfix offers no AUTH. */
export const SASL_PLUGINS = [
  "/usr/lib/x86_64-linux-gnu/sasl2/libplain.so",
  "/usr/lib/x86_64-linux-gnu/sasl2/liblogin.so"
]
/** The hostname both sides claim (the emulator gets it as --hostname). */
export const HOSTNAME = "mail.corp-example.net"

/** The emulator's --config: the harvester persona with its defaults. */
export const emulatorConfig: Record<string, unknown> = {}
/** What nmap -sV must print for the emulator on 25 (Postfix's banner carries no version). */
export const nmapExpect = /smtp\s+Postfix smtpd/

const mainCf = (dir: string, hostname: string) =>
  [
    "compatibility_level = 3.6",
    `queue_directory = ${dir}/queue`,
    `data_directory = ${dir}/data`,
    "mail_owner = postfix",
    "setgid_group = postdrop",
    `myhostname = ${hostname}`,
    "mydestination = $myhostname, localhost.localdomain, localhost",
    // The listener's address comes from master.cf; this only keeps Postfix's interface check quiet.
    "inet_interfaces = loopback-only",
    "inet_protocols = ipv4",
    // The probing client is on loopback: keep it out of mynetworks, as an attacker is.
    "mynetworks = 192.0.2.1/32",
    // A fresh Ubuntu main.cf (postfix's postinst).
    "smtpd_banner = $myhostname ESMTP $mail_name (Ubuntu)",
    "biff = no",
    "append_dot_mydomain = no",
    "readme_directory = no",
    "smtpd_relay_restrictions = permit_mynetworks permit_sasl_authenticated defer_unauth_destination",
    `smtpd_tls_cert_file = ${dir}/cert.pem`,
    `smtpd_tls_key_file = ${dir}/key.pem`,
    "smtpd_tls_security_level = may",
    "alias_maps =",
    "alias_database =",
    // SMTP AUTH as the emulator offers it; the SASL database does not exist, so every login fails.
    "smtpd_sasl_auth_enable = yes",
    "smtpd_sasl_type = cyrus",
    "smtpd_sasl_path = smtpd",
    `cyrus_sasl_config_path = ${dir}/conf/sasl`,
    // Nothing leaves: no delivery, no DNS.
    "default_transport = discard:",
    "relay_transport = discard:",
    "local_transport = discard:",
    "smtp_host_lookup = native",
    "max_idle = 600s",
    // The log, through postlogd, in the temp folder (a log file must be under one of the prefixes).
    `maillog_file_prefixes = ${dir}`,
    `maillog_file = ${dir}/maillog`,
    ""
  ].join("\n")

const masterCf = (host: string, port: number, relayPort: number | undefined) =>
  [
    `${host}:${port} inet n - n - - smtpd`,
    // An open relay for the smtp_relay emulator's reference: the loopback client is trusted.
    ...(relayPort === undefined
      ? []
      : [`${host}:${relayPort} inet n - n - - smtpd -o mynetworks=127.0.0.0/8`]),
    "pickup unix n - n 60 1 pickup",
    "cleanup unix n - n - 0 cleanup",
    "qmgr unix n - n 300 1 qmgr",
    "tlsmgr unix - - n 1000? 1 tlsmgr",
    "rewrite unix - - n - - trivial-rewrite",
    "bounce unix - - n - 0 bounce",
    "defer unix - - n - 0 bounce",
    "trace unix - - n - 0 bounce",
    "verify unix - - n - 1 verify",
    "flush unix n - n 1000? 0 flush",
    "proxymap unix - - n - - proxymap",
    "error unix - - n - - error",
    "retry unix - - n - - error",
    "discard unix - - n - - discard",
    "anvil unix - - n - 1 anvil",
    "scache unix - - n - 1 scache",
    "postlog unix-dgram n - n - 1 postlogd",
    ""
  ].join("\n")

const saslConf = (dir: string) =>
  [
    "pwcheck_method: auxprop",
    "auxprop_plugin: sasldb",
    "mech_list: PLAIN LOGIN",
    `sasldb_path: ${dir}/sasldb2`,
    ""
  ].join("\n")

/** The uid of the postfix user (the data directory must be its own). */
const postfixUid = (): number => {
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((l) => l.startsWith("postfix:"))
  const uid = Number(line?.split(":")[2])
  if (!Number.isInteger(uid)) throw new Error("no postfix user in /etc/passwd")
  return uid
}

/**
 * Resolves once the server has sent its greeting. A new smtpd process takes a while to start (TLS and
 * SASL set-up; more than the differential probe's 300 ms of patience on a busy machine), so the starter
 * has master start several at once and keeps them (max_idle): each then serves up to 100 probes.
 */
const greets = (host: string, port: number) =>
  new Promise<boolean>((resolve) => {
    const s = createConnection({ host, port })
    s.setTimeout(2_000, () => {
      s.destroy()
      resolve(false)
    })
    s.once("data", (d: Buffer) => {
      s.end("QUIT\r\n")
      resolve(d.toString("latin1").startsWith("220 "))
    })
    s.once("error", () => resolve(false))
  })

export const start: StartReal = async (options: RealServerOptions): Promise<RealServer> =>
  startPostfix({ ...options, hostname: HOSTNAME })

/** A running Postfix, with the tail of its log (for a failing test's message). */
export interface Postfix extends RealServer {
  readonly log: () => string
}

export const startPostfix = async (
  options: RealServerOptions & {
    readonly hostname: string
    /** A second smtpd on this port that relays for loopback clients (smtp_relay's reference). */
    readonly relayPort?: number
  }
): Promise<Postfix> => {
  for (const file of [POSTFIX, MASTER, ...SASL_PLUGINS])
    if (!existsSync(file)) throw new Error(`${file} is not installed`)
  const dir = mkdtempSync(join(tmpdir(), "decnet-fidelity-postfix-"))
  // The daemons run as postfix once they have dropped privileges: the folder must be theirs to enter.
  chmodSync(dir, 0o755)
  const conf = join(dir, "conf")
  for (const sub of ["conf", "conf/sasl", "queue", "data"]) mkdirSync(join(dir, sub))
  chownSync(join(dir, "data"), postfixUid(), -1)
  writeFileSync(join(conf, "main.cf"), mainCf(dir, options.hostname))
  writeFileSync(join(conf, "master.cf"), masterCf(options.host, options.port, options.relayPort))
  writeFileSync(join(conf, "sasl", "smtpd.conf"), saslConf(dir))
  selfSigned({
    key: join(dir, "key.pem"),
    cert: join(dir, "cert.pem"),
    subject: `/CN=${options.hostname}`,
    days: 30
  })
  // `postfix check` creates the queue's directories with their owners (it reads only the -c folder).
  const check = spawnSync(POSTFIX, ["-c", conf, "check"], { encoding: "utf8" })
  if (check.status !== 0) throw new Error(`postfix check failed: ${check.stderr}`)
  // master stays in the foreground (-s: its stdout is the log); detached, it and every daemon it forks share one process group.
  const log = () =>
    existsSync(join(dir, "maillog")) ? readFileSync(join(dir, "maillog"), "utf8").slice(-8_000) : ""
  const ports = [options.port, ...(options.relayPort === undefined ? [] : [options.relayPort])]
  const { stop } = await spawnReal(dir, MASTER, ["-c", conf, "-s"], {
    answers: async () =>
      (await greets(options.host, options.port)) &&
      (
        await Promise.all(
          ports.flatMap((port) => Array.from({ length: 5 }, () => greets(options.host, port)))
        )
      ).every((ok) => ok),
    timeoutMs: 20_000,
    everyMs: 100,
    failure: () => `postfix did not answer on ${options.host}:${options.port}\n${log()}`
  })
  return { host: options.host, port: options.port, stop, log }
}
