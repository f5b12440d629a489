/**
 * Resolves the broker's UNIX socket path (spec/bus.md §1.1): explicit → DECNET_BUS_SOCKET →
 * /run/decnet/bus.sock when /run/decnet is a writable directory (probed, never created) → ~/.decnet/bus.sock.
 */
import { constants } from "node:fs"
import { access, stat } from "node:fs/promises"
import { homedir } from "node:os"
import { join } from "node:path"
import { Config, Effect, Option } from "effect"

export const RUN_DIR = "/run/decnet"

const writableDir = (dir: string): Effect.Effect<boolean> =>
  Effect.tryPromise(() => stat(dir)).pipe(
    Effect.filterOrFail((s) => s.isDirectory()),
    Effect.zipRight(Effect.tryPromise(() => access(dir, constants.W_OK))),
    Effect.as(true),
    Effect.orElseSucceed(() => false)
  )

export const resolveSocketPath = (explicit?: string, runDir: string = RUN_DIR): Effect.Effect<string> =>
  Effect.gen(function* () {
    if (explicit !== undefined && explicit.length > 0) return explicit
    const fromEnv = yield* Config.option(Config.string("DECNET_BUS_SOCKET")).pipe(
      Effect.orElseSucceed(() => Option.none<string>())
    )
    if (Option.isSome(fromEnv) && fromEnv.value.length > 0) return fromEnv.value
    if (yield* writableDir(runDir)) return join(runDir, "bus.sock")
    return join(homedir(), ".decnet", "bus.sock")
  })
