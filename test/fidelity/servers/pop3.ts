// Debian's Dovecot 2.3 pop3d on loopback: the same temp-folder instance as imap's (servers/imap.ts), serving
// POP3 only.
import { startDovecot, USERS } from "./imap.js"
import type { StartReal } from "./types.js"

/** The pop3 emulator's --config (its defaults are the persona). */
export const emulatorConfig: Record<string, unknown> = { users: USERS }

/** nmap names Debian's Dovecot from its two "-ERR Unknown command." replies to GenericLines. */
export const nmapExpect = /Dovecot pop3d/

export const start: StartReal = (options) => startDovecot("pop3", options)
