// Debian's Dovecot 2.3 (dovecot-imapd / dovecot-pop3d), on loopback with its own configuration in a temp
// folder: one protocol per instance, the persona a stock Debian mail host shows (ssl = yes with a
// self-signed certificate and 10-ssl.conf's ssl_dh, so STARTTLS/STLS are offered with Debian's TLS;
// plaintext logins allowed; PLAIN and LOGIN; the Debian special-use mailboxes). The users and mailboxes
// are the emulator's defaults, so a scripted session sees the same folders. Needs root (Dovecot drops to
// dovenull/dovecot/nobody).
import { spawnSync } from "node:child_process"
import { chmodSync, chownSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { greets, selfSigned, spawnReal } from "./spawn.js"
import type { RealServer, StartReal } from "./types.js"

export const DOVECOT = "/usr/sbin/dovecot"

/** The emulator's default accounts; the real server is given the same. */
export const USERS = "admin:admin123,root:toor,mail:mail,user:user"

/** The imap emulator's --config (its defaults are the persona). */
export const emulatorConfig: Record<string, unknown> = { users: USERS }

/** nmap names Debian's Dovecot from its reply to the GetRequest probe. */
export const nmapExpect = /Dovecot imapd/

/** `nobody`: Dovecot refuses to run mail processes as root. */
const MAIL_UID = 65534
const MAIL_GID = 65534

const config = (dir: string, protocol: "imap" | "pop3", host: string, port: number, imapPort?: number) => {
  const portOf = (p: "imap" | "pop3") => (p === protocol ? port : p === "imap" ? imapPort : undefined)
  const listener = (p: "imap" | "pop3") =>
    portOf(p) === undefined
      ? ""
      : `service ${p}-login {\n  inet_listener ${p} {\n    address = ${host}\n    port = ${portOf(p)}\n  }\n  inet_listener ${p}s {\n    port = 0\n  }\n}\n`
  return `base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${dir}/dovecot.log
instance_name = decnet-fidelity-${protocol}-${port}
listen = ${host}
protocols = ${protocol}${imapPort !== undefined && protocol !== "imap" ? " imap" : ""}
ssl = yes
ssl_cert = <${dir}/cert.pem
ssl_key = <${dir}/key.pem
# Debian's conf.d/10-ssl.conf: the DH group dovecot-core ships (RFC 3526 modp4096).
ssl_dh = </usr/share/dovecot/dh.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = dovenull
default_internal_user = dovecot
passdb {
  driver = passwd-file
  args = ${dir}/users
}
userdb {
  driver = passwd-file
  args = ${dir}/users
}
mail_location = maildir:~/Maildir
namespace inbox {
  inbox = yes
  separator = /
  mailbox Drafts {
    special_use = \\Drafts
  }
  mailbox Junk {
    special_use = \\Junk
  }
  mailbox Trash {
    special_use = \\Trash
  }
  mailbox Sent {
    special_use = \\Sent
  }
  mailbox "Sent Messages" {
    special_use = \\Sent
  }
}
${listener("imap")}${listener("pop3")}`
}

/** Start Dovecot serving `protocol` on host:port (and IMAP on `imapPort`, to fill a mailbox for pop3). */
export const startDovecot = async (
  protocol: "imap" | "pop3",
  { host, port }: { host: string; port: number },
  imapPort?: number
): Promise<RealServer> => {
  const dir = mkdtempSync(join(tmpdir(), `decnet-fidelity-${protocol}-`))
  // The login and mail processes run as other users: they must reach the folder.
  chmodSync(dir, 0o755)
  selfSigned({
    key: join(dir, "key.pem"),
    cert: join(dir, "cert.pem"),
    subject: "/CN=mail.corp.internal",
    days: 30
  })
  const users = USERS.split(",").map((pair) => {
    const [name = "", pass = ""] = pair.split(":")
    const home = join(dir, "home", name)
    const maildir = join(home, "Maildir")
    for (const box of ["", ".Sent", ".Drafts", ".Archive"])
      for (const sub of ["cur", "new", "tmp"]) mkdirSync(join(maildir, box, sub), { recursive: true })
    return `${name}:{PLAIN}${pass}:${MAIL_UID}:${MAIL_GID}::${home}`
  })
  writeFileSync(join(dir, "users"), `${users.join("\n")}\n`)
  spawnSync("chown", ["-R", `${MAIL_UID}:${MAIL_GID}`, join(dir, "home")])
  chownSync(dir, 0, 0)
  const conf = join(dir, "dovecot.conf")
  writeFileSync(conf, config(dir, protocol, host, port, imapPort))
  const { stop } = await spawnReal(dir, DOVECOT, ["-F", "-c", conf], {
    answers: () => greets(host, port, (g) => /^(\* OK|\+OK) /.test(g)),
    timeoutMs: 20_000,
    everyMs: 50,
    failure: () => `dovecot (${protocol}) did not greet on ${host}:${port}`
  })
  return { host, port, stop }
}

export const start: StartReal = (options) => startDovecot("imap", options)
