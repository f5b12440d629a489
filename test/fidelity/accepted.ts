// The shape of an accepted difference between an emulator and the real server (issue 14). Each emulator's
// list, with a reason per entry, is in test/fidelity/accepted/<service>.ts; a difference not listed there
// fails that emulator's differential test.
export interface Accepted {
  /** The probe's name: an nmap probe name, or the name one of our probes was given. */
  readonly probe: string
  readonly reason: string
}
