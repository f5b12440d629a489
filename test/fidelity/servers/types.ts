// A real Debian server started for the fidelity tests and the fidelity report (npm run fidelity): on a
// loopback address, with its own configuration in a temp folder, in its own process group.
export interface RealServer {
  readonly host: string
  readonly port: number
  /** Kill the server's process group and remove its temp folder. */
  readonly stop: () => Promise<void>
}

export interface RealServerOptions {
  readonly host: string
  readonly port: number
}

/** Starts one real server; resolves once it answers on host:port. */
export type StartReal = (options: RealServerOptions) => Promise<RealServer>
