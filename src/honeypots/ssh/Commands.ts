/** The `command` events of one connection (shell lines, exec commands, transfers), bounded per connection. */
import { Effect } from "effect"
import { emitCommand, type ShellCommand } from "../shell/index.js"
import type { SshConnection } from "./Instance.js"

const MAX_COMMAND_EVENTS = 2000

export const homeOf = (user: string): string => (user === "root" ? "/root" : `/home/${user}`)

/** `command` events for `cmds`, up to the connection's bound. */
export const logCommands = (sc: SshConnection, cmds: ReadonlyArray<ShellCommand>): Effect.Effect<void> =>
  Effect.forEach(
    cmds,
    (c) =>
      sc.commandEvents++ < MAX_COMMAND_EVENTS
        ? emitCommand(sc.events, c, { uid: sc.user === "root" ? 0 : 1000, user: sc.user })
        : Effect.void,
    { discard: true }
  )
