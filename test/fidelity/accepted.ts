// The differences between an emulator and the real server that the differential tests accept, each with
// its reason (issue 14). A difference not listed here fails the test.
export interface Accepted {
  /** The probe's name: an nmap probe name, or the JSON text of one of our probes. */
  readonly probe: string
  readonly reason: string
}

export const ACCEPTED: Readonly<Record<string, ReadonlyArray<Accepted>>> = {
  // Redis 7.0.15 (Debian bookworm's redis-server) with requirepass, against the redis emulator with a password:
  // every probe of the corpus answers the same bytes and ends the same way.
  redis: []
}
