/**
 * The smtp and smtp_relay honeypots' events (spec/honeypots.md §10). Both run the same state machine,
 * so they log the same event types with the same fields, each under its own slug.
 */
import { Schema } from "effect"
import { Attachment } from "../mail/index.js"
import { CredentialEventFields, defineEvents, type EventsOf, Sd } from "../runtime/index.js"

/** A recipient as RCPT gave it: the raw argument, the bare address and its domain. */
const RcptFields = { value: Sd.Text, rcpt_to: Sd.Text, domain: Sd.Text } as const

const smtpEventDefs = {
  /** A client connected (before the banner). */
  connect: {},
  /** EHLO or HELO with a domain. */
  ehlo: { domain: Sd.Text, command: Sd.Literal("EHLO", "HELO") },
  /** WARNING: AUTH PLAIN/LOGIN decoded; the harvester always refuses it, the relay accepts it. */
  auth_attempt: { mechanism: Sd.Literal("PLAIN", "LOGIN"), username: Sd.Text, ...CredentialEventFields },
  /** MAIL FROM accepted: the raw argument, the bare address and its domain. */
  mail_from: { value: Sd.Text, mail_from: Sd.Text, domain: Sd.Text },
  /** Relay mode: the recipient was accepted. */
  rcpt_to: RcptFields,
  /** WARNING, harvester mode: every recipient is refused (`554 5.7.1 … Relay access denied`). */
  rcpt_denied: RcptFields,
  /** Relay mode: the dice said greylist (`rcpt_drop_rate`, `451 4.7.1`). */
  rcpt_greylisted: RcptFields,
  /** Relay mode: not a plausible address (`501 5.1.3`). */
  rcpt_rejected_syntax: { value: Sd.Text, rcpt_to: Sd.Text },
  /** Relay mode: a reserved TLD (invalid, test, localhost, local, example; `550 5.1.2`). */
  rcpt_rejected_tld: RcptFields,
  /** VRFY (always `252`). */
  vrfy: { value: Sd.Text },
  /**
   * The final `.` of a DATA body that fitted the instance's buffer: `body_bytes` is what was kept
   * (at most `max_body_bytes`; `truncated` when more arrived); `msg_id` the queue id in the reply.
   */
  message_accepted: {
    mail_from: Sd.Text,
    rcpt_to: Sd.Text,
    body_bytes: Sd.Int,
    truncated: Sd.Bool,
    msg_id: Sd.Text
  },
  /**
   * WARNING: a DATA body refused with `452 4.3.1 Insufficient system storage` because holding it
   * would have passed the instance's `data_buffer_mb` (`buffer_full`). `received_bytes`: the body's
   * size as received (after dot-unstuffing); none of it was kept.
   */
  message_rejected: {
    mail_from: Sd.Text,
    rcpt_to: Sd.Text,
    reason: Sd.Literal("buffer_full"),
    received_bytes: Sd.Int
  },
  /** An accepted message written to the quarantine, with what an analyst pivots on. */
  message_stored: {
    msg_id: Sd.Text,
    stored_as: Sd.Text,
    sha256: Sd.Text,
    size: Sd.Int,
    truncated: Sd.Bool,
    mail_from: Sd.Text,
    rcpt_to: Sd.Text,
    subject: Sd.Text,
    from_hdr: Sd.Text,
    to_hdr: Sd.Text,
    date_hdr: Sd.Text,
    message_id_hdr: Sd.Text,
    content_type: Sd.Text,
    return_path: Sd.Text,
    x_mailer: Sd.Text,
    dkim_signed: Sd.Bool,
    spf_pass: Sd.Bool,
    attachment_count: Sd.Int,
    attachments_json: Sd.Json(Schema.Array(Attachment)),
    urls_json: Sd.Json(Schema.Array(Schema.String)),
    body_simhash: Sd.Text,
    body_base64_bytes: Sd.Int,
    html_smuggling: Sd.Bool
  },
  /** The first unrecognised command of a connection (the rest are counted on `disconnect`). */
  unknown_command: { command: Sd.Text },
  /** The connection ended, however it ended. */
  disconnect: { unknown_commands: Sd.Int }
} as const

export const smtpEvents = defineEvents("smtp", smtpEventDefs)
export const smtpRelayEvents = defineEvents("smtp_relay", smtpEventDefs)

/** One event of either service (the two unions are the same type). */
export type SmtpEvent = EventsOf<typeof smtpEvents>
