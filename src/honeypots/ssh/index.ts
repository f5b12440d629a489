/**
 * ssh honeypot (spec/honeypots.md §1): an OpenSSH 8.9p1 / Ubuntu 22.04 persona on the ssh2
 * library. Every password, keyboard-interactive and public-key try is an `auth_attempt`; a login
 * lands in the fake shell (pty → recorded asciicast, exec → one command); scp/SFTP uploads stream
 * into the quarantine. Auth.ts, Session.ts and Sftp.ts hold the protocol; Transport.ts one connection.
 */
import { Effect } from "effect"
import { defineHoneypot, serveTcp } from "../runtime/index.js"
import { SshConfig } from "./Config.js"
import { sshEvents } from "./Events.js"
import { makeSshInstance } from "./Instance.js"
import { handleConnection } from "./Transport.js"

export { SshConfig } from "./Config.js"
export { type SshEvent, sshEvents } from "./Events.js"

export const sshHoneypot = defineHoneypot({
  slug: "ssh",
  description: "OpenSSH server (Ubuntu 22.04 persona) with a fake interactive shell",
  ports: { tcp: [22], udp: [] },
  config: SshConfig,
  events: sshEvents,
  run: (options) =>
    Effect.gen(function* () {
      const instance = yield* makeSshInstance(options.config)
      const listener = yield* serveTcp({
        ...options.address(),
        events: sshEvents,
        handler: (conn, events) => handleConnection(instance, conn, events)
      })
      return [listener]
    })
})
