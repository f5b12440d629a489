/** What the mail honeypots (smtp, imap, pop3) share. */
export * from "./Accounts.js"
export * from "./AuthPenalty.js"
export * from "./Listeners.js"
export * from "./Mailbox.js"
export * from "./Message.js"
export * from "./Sasl.js"
