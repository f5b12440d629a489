import type { Accepted } from "../accepted.js"

// vsftpd 3.0.3 (Debian bookworm; anonymous_enable=YES, local_enable=YES through PAM, write_enable=NO)
// against the ftp emulator's vsftpd 3.0.3 persona (emulatorConfig in test/fidelity/servers/ftp.ts):
// every probe of the corpus answers the same bytes and ends the same way.
export const accepted: ReadonlyArray<Accepted> = []
