// Differential fidelity, imap (issue 14): Debian's Dovecot 2.3.19 imapd (a stock Debian mail host: STARTTLS
// with a self-signed certificate, plaintext logins allowed, PLAIN and LOGIN; test/fidelity/servers/imap.ts)
// and the imap emulator with the same accounts get the same probes: nmap's own service probes for port 143
// (read from the installed nmap-service-probes), imap-login's error cases (tags, parser errors, literals,
// AUTHENTICATE, the three-bad-commands close), failed logins with Dovecot's delay and per-IP penalty, and
// scripted sessions after login on the same mailbox (the emulator's bait, appended to the real INBOX).
// What a scanner can observe must match: the reply bytes (command timings and UIDVALIDITY normalised), and
// whether the connection was then closed, reset or left open; and the TLS surface ssl-enum-ciphers enumerates
// after STARTTLS and on 993 (tlsScan.ts). Accepted differences: accepted/imap.ts.
import { accepted } from "./accepted/imap.js"
import { dovecotSuite, sortRuns } from "./imapPop3.js"
import { probe } from "./probe.js"
import { emulatorConfig } from "./servers/imap.js"

/** Dovecot's per-command timing, the mailbox's UIDVALIDITY, and the LIST order (readdir's). */
const normalise = (b: Buffer): string =>
  sortRuns(
    b
      .toString("latin1")
      // Dovecot's login process says so when its auth process is slow to answer (a loaded test machine).
      .replace(/\* OK Waiting for authentication process to respond\.\.\r\n/g, "")
      .replace(/\(\d+\.\d{3} \+ \d+\.\d{3}(?: \+ \d+\.\d{3})? secs\)/g, "(T secs)")
      .replace(/UIDVALIDITY \d+/g, "UIDVALIDITY N"),
    "* LIST "
  )

const LOGIN = "a LOGIN admin admin123\r\n"

/** Before login: each on a fresh connection, from 127.0.0.1 (none fails a login). */
const PRE_LOGIN = [
  "a CAPABILITY\r\n",
  "a CAPABILITY extra\r\n",
  "a NOOP\r\n",
  "a noop extra\r\n",
  "a ID NIL\r\n",
  "a ID\r\n",
  'a ID ("name" "nmap")\r\n',
  "a ID foo\r\n",
  "a ID (\r\n",
  "a ENABLE QRESYNC\r\n",
  "a LOGOUT\r\n",
  "a SELECT INBOX\r\n",
  "a FOO\r\n",
  "FOO\r\n",
  "a\r\n",
  "\r\n",
  " a NOOP\r\n",
  "a  NOOP\r\n",
  "a+b NOOP\r\n",
  "* NOOP\r\n",
  "a FOO\r\nb FOO\r\n",
  "a FOO\r\nb FOO\r\nc FOO\r\n",
  "a FOO\r\nb NOOP\r\nc BAR\r\nd BAZ\r\ne NOOP\r\n",
  "LOGIN admin admin123\r\n",
  "a LOGIN\r\n",
  "a LOGIN admin\r\n",
  "a LOGIN admin admin123 extra\r\n",
  'a LOGIN "admin\r\n',
  "a NOOP (\r\n",
  "a NOOP )\r\n",
  "a LOGIN {abc}\r\n",
  "a LOGIN {99999}\r\n",
  "a LOGIN {8193}\r\n",
  "a LOGIN {3}\r\n",
  "a LOGIN a\tb c\r\n",
  "a AUTHENTICATE\r\n",
  "a AUTHENTICATE CRAM-MD5\r\n",
  "a AUTHENTICATE PLAIN\r\n",
  "a AUTHENTICATE PLAIN\r\n*\r\n",
  "a AUTHENTICATE PLAIN\r\n!!!\r\n",
  "a AUTHENTICATE PLAIN !!!\r\n",
  "a AUTHENTICATE LOGIN\r\n",
  "a AUTHENTICATE LOGIN\r\n*\r\n",
  "a AUTHENTICATE LOGIN YWRtaW4=\r\n",
  "a NOOP\rb NOOP\r\n",
  "a NOOP\n",
  "a STARTTLS\r\n",
  "SSH-2.0-OpenSSH_9.2p1\r\n",
  "HELP\r\n",
  "USER root\r\n"
]

/** Logins that succeed (no delay), each sent at once. */
const LOGINS = [
  LOGIN,
  "a AUTHENTICATE PLAIN AGFkbWluAGFkbWluMTIz\r\n",
  "a AUTHENTICATE LOGIN\r\nYWRtaW4=\r\nYWRtaW4xMjM=\r\n",
  "a LOGIN {5}\r\nadmin {8+}\r\nadmin123\r\n",
  `${LOGIN}${"x FOO\r\n".repeat(19)}`,
  `${LOGIN}${"x FOO\r\n".repeat(20)}`
]

/** Scripted client sessions after login: each command once the previous reply is complete. */
const SESSIONS: ReadonlyArray<{ name: string; steps: ReadonlyArray<string> }> = [
  [
    LOGIN,
    "b CAPABILITY",
    "c NOOP",
    "d ID NIL",
    "e NAMESPACE",
    'f LIST "" "*"',
    'g LIST "" ""',
    'h LIST "" "%"',
    'i LIST "" "S*"',
    "j LOGOUT"
  ],
  [
    LOGIN,
    "b FOO",
    "FOO",
    "",
    "c LOGIN a b",
    "d AUTHENTICATE PLAIN",
    "e STARTTLS",
    "f FETCH 1 FLAGS",
    "g CLOSE",
    "h UNSELECT",
    "i CHECK",
    "j ENABLE QRESYNC",
    "k STATUS Nope (MESSAGES)",
    "l SELECT Nope",
    "m FETCH",
    "n LOGOUT"
  ],
  [
    LOGIN,
    "b STATUS INBOX (MESSAGES UNSEEN UIDNEXT)",
    "c STATUS INBOX (UIDVALIDITY RECENT)",
    "d SELECT INBOX",
    "e SEARCH ALL",
    "f UID SEARCH ALL",
    "g FETCH 1:* (FLAGS)",
    "h UID FETCH 1:* (UID RFC822.SIZE)",
    "i FETCH 99 FLAGS",
    "j FETCH 2 (BODY.PEEK[HEADER])",
    "k FETCH 3 (BODY.PEEK[])",
    "l UID FETCH 5 (BODY.PEEK[TEXT])",
    "m FETCH 4 (ENVELOPE)",
    "n FETCH 1:3 ALL",
    "o CHECK",
    "p CLOSE",
    "q LOGOUT"
  ],
  [
    LOGIN,
    "b EXAMINE INBOX",
    "c FETCH 10 (FLAGS INTERNALDATE RFC822.SIZE)",
    "d STORE 1 +FLAGS (\\Deleted)",
    "e EXPUNGE",
    "f IDLE",
    "DONE",
    "g UNSELECT",
    "h LOGOUT"
  ]
].map((steps) => ({
  name: JSON.stringify(steps.map((l) => l.trim()).join(" / ")).slice(0, 70),
  steps: steps.map((l) => (l.endsWith("\r\n") ? l : `${l}\r\n`))
}))

/** Failed logins: each from its own source address, read until 3.5 s of silence (past the failure delay). */
const FAILED = [
  "a LOGIN admin wrong\r\n",
  "a LOGIN nobody wrong\r\nb NOOP\r\n",
  'a LOGIN "" ""\r\n',
  "a AUTHENTICATE PLAIN AGFkbWluAHdyb25n\r\n",
  "a AUTHENTICATE PLAIN =\r\n",
  "a AUTHENTICATE PLAIN AGFkbWlu\r\n",
  "a AUTHENTICATE LOGIN\r\nYWRtaW4=\r\nd3Jvbmc=\r\n",
  "a LOGIN {5}\r\nadmin {5+}\r\nwrong\r\n"
]

/**
 * The penalty: a second failure from the same address waits 4 s before it is even checked, then the
 * failure delay: its answer comes 5.5-6 s after the first (read until 8 s of silence).
 */
const PENALTY = ["a LOGIN admin x1\r\nb LOGIN admin x2\r\nc NOOP\r\n"]

/** Read the emulator's INBOX for admin: flags, internal date and bytes of each message. */
const readBait = async (host: string, port: number) => {
  const o = await probe(
    host,
    port,
    Buffer.from(`${LOGIN}b SELECT INBOX\r\nc FETCH 1:* (FLAGS INTERNALDATE BODY.PEEK[])\r\nd LOGOUT\r\n`),
    500
  )
  const text = o.reply.toString("latin1")
  const out: Array<{ flags: string; date: string; body: string }> = []
  const re = /\* \d+ FETCH \(FLAGS \(([^)]*)\) INTERNALDATE "([^"]+)" BODY\[\] \{(\d+)\}\r\n/g
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const size = Number(m[3])
    out.push({ flags: m[1] ?? "", date: m[2] ?? "", body: text.slice(re.lastIndex, re.lastIndex + size) })
  }
  return out
}

dovecotSuite({
  protocol: "imap",
  nmapPort: 143,
  nmapProbe: "GetRequest",
  starttls: "STARTTLS",
  tlsPort: 993,
  emulatorConfig,
  accepted,
  normalise,
  preLogin: PRE_LOGIN,
  logins: LOGINS,
  sessions: SESSIONS,
  failed: FAILED,
  penalty: PENALTY,
  firstSource: 10,
  readBait
})
