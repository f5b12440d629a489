import type { Accepted } from "../accepted.js"

// Postfix 3.7.11 (Debian bookworm) configured as a fresh Ubuntu install with STARTTLS and SMTP AUTH, against
// the smtp emulator in harvester mode: every probe of the corpus answers the same bytes (queue ids
// normalised) and ends the same way. Against Postfix relaying for its loopback client, the smtp_relay
// emulator differs only here.
export const accepted: ReadonlyArray<Accepted> = [
  {
    probe: JSON.stringify("MAIL FROM:<a@sender.org>\r\nRCPT TO:<victim@host.example>\r\n"),
    reason:
      "smtp_relay refuses reserved TLDs (invalid, test, localhost, local, example) with 550 5.1.2 Domain not found, " +
      "as a relay checking recipient domains in DNS would (reject_unknown_recipient_domain); the reference Postfix " +
      "asks no DNS (the tests stay on loopback), so it relays them"
  },
  {
    probe: "tls TLSv1.3 resumption",
    reason:
      "Postfix sends one TLS 1.3 NewSessionTicket (SSL_CTX_set_num_tickets(1)), the emulator OpenSSL's default " +
      "two: node:tls has no option for the ticket count. Their lifetime hint (7200 s), the TLS 1.2 ticket and " +
      "everything else ssl-enum-ciphers or testssl.sh report are the same"
  }
]
