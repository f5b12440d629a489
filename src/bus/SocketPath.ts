/**
 * Resolves the broker's UNIX socket path (spec/bus.md §1.1): explicit → DECNET_BUS_SOCKET →
 * /run/decnet/bus.sock when /run/decnet is a writable directory (probed, never created) → ~/.decnet/bus.sock.
 */
import { constants } from "node:fs"
import { access, stat } from "node:fs/promises"
import { join } from "node:path"
import { Effect, Option } from "effect"
import { DecnetConfig } from "../config/DecnetConfig.js"

export const RUN_DIR = "/run/decnet"

const writableDir = (dir: string): Effect.Effect<boolean> =>
  Effect.tryPromise(() => stat(dir)).pipe(
    Effect.filterOrFail((s) => s.isDirectory()),
    Effect.zipRight(Effect.tryPromise(() => access(dir, constants.W_OK))),
    Effect.as(true),
    Effect.orElseSucceed(() => false)
  )

export const resolveSocketPath = (
  explicit?: string,
  runDir: string = RUN_DIR
): Effect.Effect<string, never, DecnetConfig> =>
  Effect.gen(function* () {
    if (explicit !== undefined && explicit.length > 0) return explicit
    const { bus, system } = yield* DecnetConfig
    if (Option.isSome(bus.socket)) return bus.socket.value
    if (yield* writableDir(runDir)) return join(runDir, "bus.sock")
    return join(system.home, ".decnet", "bus.sock")
  })
