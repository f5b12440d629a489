// The smtp differential corpus (test/fidelity/smtp.test.ts): Postfix's error cases, AUTH and scripted
// sessions, each sent on a fresh connection as soon as it opens (Postfix reads what came before its
// greeting as commands, and so must the emulator).
import { HOSTNAME } from "./servers/smtp.js"

export const EHLO = "EHLO client.example\r\n"
export const TXN = `${EHLO}MAIL FROM:<a@sender.org>\r\n`
const plain = (user: string, pass: string) => Buffer.from(`\u0000${user}\u0000${pass}`).toString("base64")

/** Replies that come at once (Postfix has no delay before its 10th error). */
export const PROBES = [
  EHLO,
  "HELO client.example\r\n",
  "EHLO\r\n",
  "HELO\r\n",
  "EHLO a b\r\n",
  "ehlo client.example\r\n",
  "HELP\r\n",
  "FOO\r\n",
  "FOO bar baz\r\n",
  "\r\n",
  "   \r\n",
  "GET / HTTP/1.0\r\n\r\n",
  "POST / HTTP/1.1\r\nHost: x\r\n\r\n",
  "CONNECT example.org:443 HTTP/1.0\r\n\r\n",
  "get / HTTP/1.0\r\n\r\n",
  "USER root\r\n",
  "\u0016\u0003\u0001\u0000\u0005hello",
  "\u0000\u0000\u0000\u0000",
  "MAIL FROM:<a@sender.org>\r\n",
  "RCPT TO:<c@d.org>\r\n",
  "DATA\r\n",
  `${EHLO}RCPT TO:<c@d.org>\r\n`,
  `${EHLO}DATA\r\n`,
  `${EHLO}DATA now\r\n`,
  `${EHLO}MAIL\r\n`,
  `${EHLO}MAIL FROM\r\n`,
  `${EHLO}MAIL FROM:\r\n`,
  `${EHLO}MAIL TO:<a@sender.org>\r\n`,
  `${EHLO}MAIL FROM:<a@sender.org\r\n`,
  `${EHLO}MAIL FROM:a@sender.org\r\n`,
  `${EHLO}MAIL FROM:<>\r\n`,
  `${EHLO}MAIL FROM:<a@sender.org> SIZE=1000\r\n`,
  `${EHLO}MAIL FROM:<a@sender.org> SIZE=99999999\r\n`,
  `${EHLO}MAIL FROM:<a@sender.org> SIZE=x\r\n`,
  `${EHLO}MAIL FROM:<a@sender.org> BODY=8BITMIME\r\n`,
  `${EHLO}MAIL FROM:<a@sender.org> BODY=7BIT SMTPUTF8\r\n`,
  `${EHLO}MAIL FROM:<a@sender.org> FOO=bar\r\n`,
  `${EHLO}MAIL FROM:<a@sender.org> RET=HDRS ENVID=x\r\n`,
  `${TXN}MAIL FROM:<a@sender.org>\r\n`,
  `${TXN}RCPT\r\n`,
  `${TXN}RCPT TO:\r\n`,
  `${TXN}RCPT TO:<>\r\n`,
  `${TXN}RCPT TO:<c@d.org>\r\n`,
  `${TXN}RCPT TO:c@d.org\r\n`,
  `${TXN}RCPT TO:<c@d.org> NOTIFY=NEVER\r\n`,
  `${TXN}RCPT TO:<c@d.org> FOO=bar\r\n`,
  `${TXN}RCPT TO:<c@d.org>\r\nDATA\r\n`,
  `${TXN}RCPT TO:<c@d.org>\r\nRSET\r\nDATA\r\n`,
  `${TXN}DATA\r\n`,
  `${EHLO}RSET\r\nNOOP\r\nNOOP x\r\nRSET x\r\n`,
  `${EHLO}VRFY root\r\nVRFY\r\nEXPN root\r\nEXPN\r\n`,
  `${EHLO}ETRN\r\nETRN example.org\r\n`,
  `${EHLO}BDAT 10 LAST\r\n`,
  `${EHLO}BDAT\r\n`,
  `${EHLO}XCLIENT NAME=x\r\nXFORWARD NAME=x\r\n`,
  `${EHLO}STARTTLS x\r\n`,
  "STARTTLS\r\n",
  `${EHLO}STARTTLS\r\n`,
  "AUTH PLAIN\r\n",
  `${EHLO}AUTH\r\n`,
  `${EHLO}AUTH CRAM-MD5\r\n`,
  `${EHLO}AUTH PLAIN\r\n*\r\n`,
  `${EHLO}AUTH LOGIN\r\n*\r\n`,
  `${EHLO}AUTH PLAIN !!!\r\n`,
  `${EHLO}AUTH LOGIN\r\n!!!\r\n`,
  `${EHLO}AUTH PLAIN a b\r\n`,
  `${EHLO}NOOP\r\nQUIT\r\n`,
  "QUIT\r\n",
  "QUIT now\r\n",
  "quit\r\n",
  `EHLO ${"x".repeat(3000)}\r\n`,
  `${"X".repeat(3000)}\r\n`,
  `${TXN}RCPT TO:<postmaster@${HOSTNAME}>\r\n`,
  `${TXN}RCPT TO:<nobody-here@${HOSTNAME}>\r\n`,
  `${TXN}RCPT TO:<root>\r\nDATA x\r\n`,
  `${TXN}RCPT TO:<root@localhost>\r\n`,
  `${TXN}RCPT TO:<ROOT@${HOSTNAME.toUpperCase()}>\r\n`,
  `${TXN}RCPT TO:<root@${HOSTNAME}> ORCPT=rfc822;x@y\r\n`,
  `${TXN}RCPT TO:<c@[127.0.0.1]>\r\n`,
  `${TXN}RCPT TO:<c@d.org\r\n`,
  `${TXN}RCPT TO: <c@d.org>\r\n`,
  `${TXN}RCPT TO:<c@d.org> <x>\r\n`,
  `${TXN}ETRN example.org\r\n`,
  `${TXN}AUTH PLAIN\r\n`,
  `${EHLO}VRFY c@d.org\r\n`,
  `${EHLO}VRFY nobody-here\r\n`,
  `${EHLO}VRFY <root>\r\n`,
  `${EHLO}VRFY a b\r\n`,
  `${EHLO}VRFY postmaster\r\n`,
  `${EHLO}VRFY root@${HOSTNAME}\r\n`,
  "ETRN example.org\r\n",
  `${EHLO}MAIL FROM:<a@sender.org> BODY=FOO\r\n`,
  `${EHLO}MAIL FROM:<a@sender.org> AUTH=<>\r\n`,
  "MAIL FROM: <a@b.org>\r\n",
  "MAIL FROM:<a b@c.org>\r\n",
  "MAIL FROM:<@a,@b:c@d.org>\r\n",
  "MAIL FROM:<a@[1.2.3.4]>\r\n",
  "MAIL FROM:<a>\r\n",
  "mail from:<a@b.org>\r\n",
  "HELO x\r\nEHLO y\r\n",
  "HELO [1.2.3.4]\r\n",
  `${EHLO}HELP me\r\n`,
  "EHLO x\rNOOP\r\n",
  "NOOP\n",
  "QUIT\n",
  `${EHLO}AUTH PLAIN\r\n!!!\r\n`,
  `${EHLO}AUTH PLAIN =\r\n`,
  `${EHLO}AUTH LOGIN\r\nYWRtaW4=\r\n*\r\n`,
  `${EHLO}AUTH CRAM-MD5 abc\r\n`,
  `${EHLO}BDAT 3 LAST\r\nabc`,
  `${EHLO}BDAT x\r\n`,
  `${EHLO}BDAT 3 FOO\r\nabc`,
  "EHLO x\r\nSTARTTLS\r\nEHLO y\r\n",
  "\u0016\u0003\u0001\r\n",
  "123 abc\r\n",
  "{x}\r\n",
  "\u0000\u0000\r\n",
  "\u00e9\r\n",
  // A scripted client session: mail for a local user is taken and queued (the queue id normalised).
  `${TXN}RCPT TO:<root@${HOSTNAME}>\r\nDATA\r\nSubject: x\r\n\r\nhi\r\n..dot\r\n.\r\nQUIT\r\n`,
  `${TXN}RCPT TO:<root@${HOSTNAME}>\r\nBDAT 3 LAST\r\nabc`,
  `${TXN}RCPT TO:<root@${HOSTNAME}>\r\nBDAT 4\r\nab\r\nBDAT 5 LAST\r\ncd\r\n\r\nRSET\r\n`,
  `${TXN}RCPT TO:<root@${HOSTNAME}>\r\nRCPT TO:<c@d.org>\r\nDATA\r\nhi\r\n.\r\nMAIL FROM:<>\r\nQUIT\r\n`
]

/** Replies Postfix (and so the emulator) delays: failed logins, and every reply past the 10th error. */
export const SLOW_PROBES = [
  `${EHLO}AUTH PLAIN ${plain("admin", "admin")}\r\nNOOP\r\n`,
  `${EHLO}AUTH LOGIN\r\n${Buffer.from("admin").toString("base64")}\r\n${Buffer.from("pw").toString("base64")}\r\n`,
  `${EHLO}AUTH LOGIN ${Buffer.from("admin").toString("base64")}\r\n${Buffer.from("pw").toString("base64")}\r\n`,
  `${EHLO}AUTH PLAIN\r\n${plain("root", "toor")}\r\n`,
  // smtpd_junk_command_limit: past 100 NOOPs each is an error, past 10 errors each reply waits.
  "NOOP\r\n".repeat(112)
]

/** 22 unknown commands at once (Postfix's hard error limit is 20). */
export const ERRORS = Array.from({ length: 22 }, (_, i) => `FOO${i}\r\n`).join("")

/** Postfix's queue ids (and the emulator's) are random: only their place in the reply is compared. */
export const normalise = (reply: Buffer) =>
  reply.toString("latin1").replace(/queued as [0-9A-Za-z]+/g, "queued as QUEUEID")

/**
 * An open relay's sessions (smtp_relay, rcpt_drop_rate 0, against Postfix relaying for its loopback
 * client): spam runs that hand over a message for other domains, and the checks around them.
 */
export const RELAY_PROBES = [
  `${TXN}RCPT TO:<victim@target.org>\r\n`,
  `${TXN}RCPT TO:<victim@target.org>\r\nRCPT TO:<boss@target.org>\r\nDATA\r\nFrom: a@sender.org\r\nSubject: invoice\r\n\r\nPay here.\r\n.\r\nQUIT\r\n`,
  `${TXN}RCPT TO:<victim@target.org>\r\nBDAT 12 LAST\r\nSubject: x\r\n`,
  `${TXN}RCPT TO:<nobody-here@${HOSTNAME}>\r\nRCPT TO:<victim@target.org> NOTIFY=NEVER\r\n`,
  `${TXN}RCPT TO:<c@d.org\r\nRCPT TO:<>\r\n`,
  `${EHLO}VRFY victim@target.org\r\nVRFY nobody-here\r\nVRFY root\r\n`,
  `${EHLO}MAIL FROM:<>\r\nRCPT TO:<victim@target.org>\r\nDATA\r\n..\r\n.\r\nRSET\r\n`,
  "MAIL FROM:<a@sender.org>\r\nRCPT TO:<victim@target.org>\r\nDATA\r\nhi\r\n.\r\n",
  "MAIL FROM:<a@sender.org>\r\nRCPT TO:<victim@host.example>\r\n"
]
