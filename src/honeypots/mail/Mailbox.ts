/**
 * The bait mailbox shared by imap and pop3 (spec/honeypots.md §11–12): ten messages that look like
 * an admin's inbox full of leaked secrets, followed by the operator's seed messages (re-read while
 * the service runs), and the config keys both services take for it.
 */
import { readdir, readFile, stat } from "node:fs/promises"
import { join } from "node:path"
import { Array as Arr, Duration, Effect, Option, Ref, Schedule, Schema, type Scope } from "effect"
import { DEFAULT_USERS } from "./Accounts.js"
import { parseHeaders } from "./Message.js"

/** The mailbox knobs of imap and pop3 (spread into their config Schemas). */
export const MailboxConfigFields = {
  /** `user:pass,…` accepted logins (the original's IMAP_USERS). */
  users: Schema.optionalWith(Schema.String, { default: () => DEFAULT_USERS }),
  /** A directory of .eml files (or one .eml) appended to INBOX after the built-in bait. */
  email_seed: Schema.optional(Schema.String),
  /** Seconds between re-reads of `email_seed`. */
  email_seed_rescan: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 5 })
} as const

export interface BaitMessage {
  readonly uid: number
  readonly from: string
  readonly to: string
  readonly subject: string
  readonly date: Date
  readonly messageId: string
  readonly raw: Buffer
  readonly seen: boolean
}

interface Draft {
  readonly from: string
  readonly subject: string
  readonly body: string
  readonly daysAgo: number
}

const DRAFTS: ReadonlyArray<Draft> = [
  {
    from: "AWS Notifications <no-reply@aws.amazon.com>",
    subject: "Your new IAM access key",
    daysAgo: 41,
    body: "Hi,\n\nA new access key was created for user deploy-bot.\n\nAccess key ID: AKIAIOSFODNN7EXAMPLE\nSecret access key: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n\nStore it safely.\n"
  },
  {
    from: "Dave Miller <dave.miller@corp.internal>",
    subject: "prod DB connection string",
    daysAgo: 33,
    body: "Here's the URL for the reporting job, please don't paste it in Slack again:\n\nmysql://admin:Sup3rS3cr3t!@10.0.1.5:3306/production\n\n-- Dave\n"
  },
  {
    from: "GitHub <noreply@github.com>",
    subject: "[GitHub] A new personal access token was added to your account",
    daysAgo: 28,
    body: "A personal access token (ci-release) with repo, workflow scopes was recently added.\n\nToken: ghp_16C7e42F292c6912E7710c838347Ae178B4a\n\nIf you did not do this, revoke it immediately.\n"
  },
  {
    from: "IT Helpdesk <helpdesk@corp.internal>",
    subject: "VPN access for new contractors",
    daysAgo: 21,
    body: "VPN gateway: vpn.corp.internal (OpenVPN, UDP 1194)\nShared account: contractor01 / Welcome2024!\nPlease rotate after onboarding.\n"
  },
  {
    from: "Sarah Chen <sarah.chen@corp.internal>",
    subject: "Re: root password for backup server",
    daysAgo: 17,
    body: "root on backup01 (10.0.2.20) is now: Bk!p-2024-root\nThe old one stopped working after the rebuild.\n"
  },
  {
    from: "Stripe <support@stripe.com>",
    subject: "Your live API keys",
    daysAgo: 12,
    body: "Publishable key: pk_live_51HqLxKJ9sT2mXcRvB8nQ0pZ\nSecret key: sk_live_51HqLxKJ9sT2mXcRvB8nQ0pZaYw3EdF6gH7\n"
  },
  {
    from: "Jenkins <jenkins@ci.corp.internal>",
    subject: "Build #1482 failed: deploy-prod",
    daysAgo: 9,
    body: "Console output excerpt:\n+ ssh deploy@10.0.1.12 'sudo systemctl restart app'\nPermission denied (publickey,password).\nDEPLOY_PASSWORD=Depl0y#Prod\n"
  },
  {
    from: "Mark Rossi <mark.rossi@corp.internal>",
    subject: "wifi + printer admin",
    daysAgo: 6,
    body: "Guest wifi: CorpGuest / Summer2024\nPrinter web admin (10.0.3.40): admin / printer123\n"
  },
  {
    from: "Security Team <security@corp.internal>",
    subject: "Quarterly password rotation reminder",
    daysAgo: 3,
    body: "Reminder: service accounts must be rotated by Friday.\nCurrent svc_backup password: Svc#Backup!9 (to be rotated).\n"
  },
  {
    from: "Olivia Park <olivia.park@corp.internal>",
    subject: "SSH key for the bastion",
    daysAgo: 1,
    body: "Bastion: bastion.corp.internal:2222, user ops\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----\n"
  }
]

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"] as const
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"] as const
const pad = (n: number): string => String(n).padStart(2, "0")

/** RFC 5322 §3.3 date-time. */
export const rfc5322Date = (d: Date): string =>
  `${DAYS[d.getUTCDay()]}, ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`

/** IMAP date-time (RFC 3501 §9 `date-time`). */
export const imapDate = (d: Date): string =>
  `${pad(d.getUTCDate())}-${MONTHS[d.getUTCMonth()]}-${d.getUTCFullYear()} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`

/** Build the mailbox for `recipient`, with dates relative to `now` so it always looks current. */
export const baitMailbox = (
  recipient: string,
  domain: string,
  now: Date = new Date()
): ReadonlyArray<BaitMessage> =>
  DRAFTS.map((d, i) => {
    const date = new Date(now.getTime() - d.daysAgo * 86_400_000 - ((i * 7919) % 36_000) * 1000)
    const messageId = `<${(date.getTime() / 1000).toString(36)}.${i + 1}@${domain}>`
    const to = `${recipient}@${domain}`
    const headers = [
      `Return-Path: <${/<([^>]+)>/.exec(d.from)?.[1] ?? d.from}>`,
      `Date: ${rfc5322Date(date)}`,
      `From: ${d.from}`,
      `To: ${to}`,
      `Subject: ${d.subject}`,
      `Message-ID: ${messageId}`,
      "MIME-Version: 1.0",
      "Content-Type: text/plain; charset=UTF-8",
      "Content-Transfer-Encoding: 7bit"
    ]
    const raw = Buffer.from(`${headers.join("\r\n")}\r\n\r\n${d.body.replace(/\n/g, "\r\n")}`, "utf8")
    return {
      uid: i + 1,
      from: d.from,
      to,
      subject: d.subject,
      date,
      messageId,
      raw,
      seen: i < DRAFTS.length - 1
    }
  })

/** Split a message at the blank line (RFC 5322 §2.1). */
export const splitMessage = (raw: Buffer): { header: Buffer; text: Buffer } => {
  const i = raw.indexOf("\r\n\r\n")
  return i < 0
    ? { header: raw, text: Buffer.alloc(0) }
    : { header: raw.subarray(0, i + 4), text: raw.subarray(i + 4) }
}

/** Seed messages: at most this many files, each at most this size (bounded like every input). */
const MAX_SEED_FILES = 200
const MAX_SEED_BYTES = 1024 * 1024

/**
 * Extra bait from the operator's `email_seed` (a directory of .eml files or one .eml file),
 * appended after the built-in ten with UIDs from 11. Unreadable entries are skipped.
 */
export const loadSeedMessages = (seedPath: string): Effect.Effect<ReadonlyArray<Buffer>> =>
  Effect.gen(function* () {
    const info = yield* Effect.tryPromise(() => stat(seedPath))
    const files = info.isDirectory()
      ? (yield* Effect.tryPromise(() => readdir(seedPath)))
          .filter((f) => f.toLowerCase().endsWith(".eml"))
          .sort()
          .slice(0, MAX_SEED_FILES)
          .map((f) => join(seedPath, f))
      : [seedPath]
    const loaded = yield* Effect.forEach(files, (f) =>
      Effect.gen(function* () {
        const st = yield* Effect.tryPromise(() => stat(f))
        if (!st.isFile() || st.size > MAX_SEED_BYTES) return Option.none<Buffer>()
        return Option.some(yield* Effect.tryPromise(() => readFile(f)))
      }).pipe(Effect.orElseSucceed(() => Option.none<Buffer>()))
    )
    return Arr.getSomes(loaded)
  }).pipe(Effect.orElseSucceed((): ReadonlyArray<Buffer> => []))

/** A seed .eml as a mailbox entry; envelope fields come from its own headers. */
export const seedMessage = (raw: Buffer, uid: number, fallbackTo: string): BaitMessage => {
  const h = parseHeaders(raw)
  const parsed = Date.parse(h.get("date") ?? "")
  const normalized = Buffer.from(raw.toString("latin1").replace(/\r?\n/g, "\r\n"), "latin1")
  return {
    uid,
    from: h.get("from") ?? "",
    to: h.get("to") ?? fallbackTo,
    subject: h.get("subject") ?? "",
    date: Number.isNaN(parsed) ? new Date() : new Date(parsed),
    messageId: h.get("message-id") ?? `<seed-${uid}@localhost>`,
    raw: normalized,
    seen: false
  }
}

/**
 * The live seed set: loaded at start and re-read every `rescanSeconds` by a scoped fiber, so an
 * operator can drop new bait in without restarting the decky.
 */
export const seedMailbox = (
  seedPath: string | undefined,
  rescanSeconds: number
): Effect.Effect<Ref.Ref<ReadonlyArray<Buffer>>, never, Scope.Scope> =>
  Effect.gen(function* () {
    const ref = yield* Ref.make<ReadonlyArray<Buffer>>([])
    if (seedPath === undefined || seedPath === "") return ref
    const reload = Effect.flatMap(loadSeedMessages(seedPath), (msgs) => Ref.set(ref, msgs))
    yield* reload
    yield* reload.pipe(
      Effect.repeat(Schedule.spaced(Duration.seconds(Math.max(1, rescanSeconds)))),
      Effect.forkScoped
    )
    return ref
  })

/** The built-in bait followed by the seed messages. */
export const fullMailbox = (
  recipient: string,
  domain: string,
  seeds: ReadonlyArray<Buffer>,
  now: Date = new Date()
): ReadonlyArray<BaitMessage> => {
  const base = baitMailbox(recipient, domain, now)
  return [...base, ...seeds.map((raw, i) => seedMessage(raw, base.length + 1 + i, `${recipient}@${domain}`))]
}

/** The mail domain the bait is addressed to: the hostname when it is qualified. */
export const mailDomain = (hostname: string): string =>
  hostname.includes(".") ? hostname : `${hostname}.corp.internal`
