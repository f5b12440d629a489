// Differential fidelity, pop3 (issue 14): Debian's Dovecot 2.3.19 pop3d (a stock Debian mail host: STLS with
// a self-signed certificate, plaintext logins allowed, PLAIN and LOGIN; test/fidelity/servers/pop3.ts) and
// the pop3 emulator with the same accounts get the same probes: nmap's own service probes for port 110 (read
// from the installed nmap-service-probes), pop3-login's error cases (unknown commands and the three-in-a-row
// close, USER/PASS order, AUTH, APOP), failed logins with Dovecot's delay and per-IP penalty, and scripted
// sessions after login on the same mailbox (the emulator's bait, appended to the real INBOX over IMAP).
// What a scanner can observe must match: the reply bytes (the UIDVALIDITY half of each UIDL normalised),
// and whether the connection was then closed, reset or left open; and the TLS surface ssl-enum-ciphers
// enumerates after STLS and on 995 (tlsScan.ts). Accepted differences: accepted/pop3.ts.
import { accepted } from "./accepted/pop3.js"
import { dovecotSuite } from "./imapPop3.js"
import { probe } from "./probe.js"
import { emulatorConfig } from "./servers/pop3.js"

/** The UIDVALIDITY half of Dovecot's UIDL (%08Xu%08Xv): the mailbox's creation time. */
const normalise = (b: Buffer): string =>
  b
    .toString("latin1")
    .replace(/\* OK Waiting for authentication process to respond\.\.\r\n/g, "")
    .replace(/^(\+OK )?(\d+ [0-9a-f]{8})[0-9a-f]{8}$/gm, "$1$2V")

const LOGIN = "USER admin\r\nPASS admin123\r\n"

/** Before login: each on a fresh connection, from 127.0.0.1 (none fails a login). */
const PRE_LOGIN = [
  "CAPA\r\n",
  "capa extra\r\n",
  "NOOP\r\n",
  "STAT\r\n",
  "FOO\r\n",
  "\r\n",
  " USER admin\r\n",
  "FOO\r\nBAR\r\n",
  "FOO\r\nBAR\r\nBAZ\r\n",
  "FOO\r\nCAPA\r\nFOO\r\nUSER a\r\nFOO\r\n",
  "USER a\r\nFOO\r\nFOO\r\nFOO\r\n",
  "USER\r\n",
  "USER admin extra\r\n",
  "PASS x\r\n",
  "PASS x\r\nPASS x\r\nPASS x\r\nNOOP\r\n",
  "APOP a b\r\n",
  "AUTH\r\n",
  "AUTH FOO\r\n",
  "AUTH FOO\r\nAUTH FOO\r\nAUTH FOO\r\nFOO\r\n",
  "AUTH PLAIN\r\n",
  "AUTH PLAIN\r\n*\r\n",
  "AUTH PLAIN\r\n!!\r\n",
  "AUTH PLAIN !!\r\n",
  "AUTH LOGIN\r\n",
  "AUTH LOGIN\r\nYWRtaW4=\r\n",
  "AUTH LOGIN\r\nYWRtaW4=\r\n*\r\n",
  "AUTH LOGIN YWRtaW4=\r\n",
  "XCLIENT ADDR=1.2.3.4\r\n",
  "STLS\r\n",
  "QUIT\r\n",
  "QUIT x\r\n",
  "GET / HTTP/1.0\r\n\r\n",
  "SSH-2.0-OpenSSH_9.2p1\r\n",
  "HELP\r\n",
  "a1 CAPABILITY\r\n"
]

/** Logins that succeed (no delay), each sent at once, and the bad-command limit after login. */
const LOGINS = [
  LOGIN,
  "user admin\r\npass admin123\r\n",
  "AUTH PLAIN AGFkbWluAGFkbWluMTIz\r\n",
  "AUTH PLAIN\r\nAGFkbWluAGFkbWluMTIz\r\n",
  "AUTH LOGIN\r\nYWRtaW4=\r\nYWRtaW4xMjM=\r\n",
  `${LOGIN}${"FOO\r\n".repeat(20)}`,
  `${LOGIN}${"FOO\r\n".repeat(21)}`,
  `${LOGIN}${"FOO\r\n".repeat(20)}NOOP\r\n${"FOO\r\n".repeat(5)}`
]

/** Scripted client sessions after login: each command once the previous reply is complete. */
const SESSIONS: ReadonlyArray<{ name: string; steps: ReadonlyArray<string> }> = [
  ["USER admin", "PASS admin123", "CAPA", "STAT", "LIST", "UIDL", "LIST 3", "UIDL 3", "NOOP", "QUIT"],
  ["USER admin", "PASS admin123", "RETR 1", "TOP 2 0", "TOP 4 2", "RETR 10", "QUIT"],
  [
    "USER admin",
    "PASS admin123",
    "LIST 99",
    "LIST x",
    "LIST 1 2",
    "LIST 0",
    "RETR",
    "TOP 1",
    "TOP 1 x",
    "TOP",
    "UIDL 11",
    "QUIT"
  ],
  [
    "USER admin",
    "PASS admin123",
    "USER x",
    "PASS y",
    "AUTH PLAIN",
    "STLS",
    "APOP a b",
    "LAST",
    "FOO",
    "RSET",
    "QUIT"
  ],
  // No QUIT after DELE: the real server would expunge the bait.
  ["USER admin", "PASS admin123", "DELE 2", "DELE 2", "RETR 2", "LIST", "STAT", "RSET", "STAT"]
].map((steps) => ({
  name: JSON.stringify(steps.join(" / ")).slice(0, 70),
  steps: steps.map((l) => `${l}\r\n`)
}))

/** Failed logins: each from its own source address, read until 3.5 s of silence (past the failure delay). */
const FAILED = [
  "USER admin\r\nPASS wrong\r\n",
  "USER nobody\r\nPASS wrong\r\nNOOP\r\n",
  "USER admin\r\nPASS\r\n",
  "USER\r\nPASS admin123\r\n",
  "USER admin\r\nPASS admin admin123\r\n",
  "AUTH PLAIN AGFkbWluAHdyb25n\r\n",
  "AUTH PLAIN =\r\n",
  "AUTH LOGIN\r\nYWRtaW4=\r\nd3Jvbmc=\r\n"
]

/**
 * The penalty: a second failure from the same address waits 4 s before it is even checked, then the
 * failure delay: its answer comes 5.5-6 s after the first (read until 8 s of silence).
 */
const PENALTY = ["USER admin\r\nPASS x1\r\nPASS x2\r\nCAPA\r\n"]

/** Read the emulator's INBOX for admin over POP3: each message's bytes, dot-stuffing undone. */
const readBait = async (host: string, port: number) => {
  const retr = Array.from({ length: 10 }, (_, i) => `RETR ${i + 1}\r\n`).join("")
  const o = await probe(host, port, Buffer.from(`${LOGIN}${retr}QUIT\r\n`), 500)
  const text = o.reply.toString("latin1")
  const out: Array<{ flags: string; body: string }> = []
  const re = /\+OK \d+ octets\r\n([\s\S]*?)\r\n\.\r\n/g
  for (let m = re.exec(text); m !== null; m = re.exec(text))
    out.push({ flags: "\\Seen", body: `${(m[1] ?? "").replace(/^\./gm, "")}\r\n` })
  return out
}

dovecotSuite({
  protocol: "pop3",
  nmapPort: 110,
  nmapProbe: "GenericLines",
  starttls: "STLS",
  tlsPort: 995,
  emulatorConfig,
  accepted,
  normalise,
  preLogin: PRE_LOGIN,
  logins: LOGINS,
  sessions: SESSIONS,
  failed: FAILED,
  penalty: PENALTY,
  firstSource: 60,
  readBait
})
