/**
 * A minimal SFTP server (draft-ietf-secsh-filexfer-02, what OpenSSH speaks): enough for `sftp put`
 * and OpenSSH 9's scp-over-SFTP (realpath, stat, open-for-write, write, close, an empty directory
 * listing). Uploads stream into the quarantine; a WRITE is answered once its bytes are on disk, so a
 * client that waits for its replies is held to the disk's pace. OPEN and CLOSE (which open and store
 * files) run as fibers of the channel: when it goes, they are interrupted and unfinished uploads
 * are discarded.
 */
import * as path from "node:path"
import { Cause, Effect, FiberSet } from "effect"
import ssh2 from "ssh2"
import { openUpload, storeUpload, Upload } from "./Capture.js"
import { homeOf, logCommands } from "./Commands.js"
import type { SshConnection } from "./Instance.js"

const { STATUS_CODE, OPEN_MODE } = ssh2.utils.sftp

const MAX_HANDLES = 64

/**
 * ssh2's SFTPWrapper has no `exit()`, but OpenSSH's scp (SFTP mode) exits 1 unless the channel
 * reports `exit-status` 0, as sftp-server's does. Reach the protocol object ssh2 keeps on the
 * wrapper, checking every step at runtime (it is not part of the typed API).
 */
const sendExitStatus = (sftp: ssh2.SFTPWrapper, status: number): void => {
  const proto: unknown = Reflect.get(sftp, "_protocol")
  const outgoing: unknown = Reflect.get(sftp, "outgoing")
  if (typeof proto !== "object" || proto === null || typeof outgoing !== "object" || outgoing === null) return
  const exitStatus: unknown = Reflect.get(proto, "exitStatus")
  const id: unknown = Reflect.get(outgoing, "id")
  if (typeof exitStatus === "function" && typeof id === "number")
    Reflect.apply(exitStatus, proto, [id, status])
}

/** Completes when the client half-closes the channel (its last request sent) or the channel closes. */
const ended = (sftp: ssh2.SFTPWrapper): Effect.Effect<"end" | "close"> =>
  Effect.async<"end" | "close">((resume) => {
    const onEnd = () => resume(Effect.succeed("end"))
    const onClose = () => resume(Effect.succeed("close"))
    sftp.once("end", onEnd)
    sftp.once("close", onClose)
    return Effect.sync(() => {
      sftp.off("end", onEnd)
      sftp.off("close", onClose)
    })
  })

type Handle = Upload | "dir" | "dir-done"

export const serveSftp = (sc: SshConnection, sftp: ssh2.SFTPWrapper): Effect.Effect<void> =>
  Effect.gen(function* () {
    const { quarantine } = sc.instance
    const who = { user: sc.user }
    const home = homeOf(sc.user)
    const handles = new Map<number, Handle>()
    let opening = 0
    let nextHandle = 1
    // Registered before the fiber set, so it runs after the set has interrupted OPEN/CLOSE: handles
    // still open when the channel goes are unfinished uploads, never stored.
    yield* Effect.addFinalizer(() =>
      Effect.forEach([...handles.values()], (h) => (h instanceof Upload ? h.discard() : Effect.void), {
        discard: true
      }).pipe(Effect.zipRight(Effect.sync(() => handles.clear())))
    )
    const ops = yield* FiberSet.make<void, never>()
    const runOp = yield* FiberSet.runtime(ops)<never>()
    const op = (effect: Effect.Effect<void>): void => {
      runOp(
        effect.pipe(
          Effect.catchAllCause((cause) =>
            Cause.isInterruptedOnly(cause) ? Effect.void : Effect.logError("ssh sftp request failed", cause)
          )
        )
      )
    }

    const handleBuf = (n: number) => {
      const b = Buffer.alloc(4)
      b.writeUInt32BE(n)
      return b
    }
    const handleOf = (b: Buffer) => (b.length === 4 ? b.readUInt32BE(0) : -1)
    const abs = (p: string) => path.posix.resolve(home, p === "" ? "." : p)
    const dirAttrs = {
      mode: 0o40755,
      uid: 0,
      gid: 0,
      size: 4096,
      atime: 0,
      mtime: Math.floor(Date.now() / 1000)
    }

    sftp.on("REALPATH", (reqid, p) => {
      const full = abs(p)
      sftp.name(reqid, [{ filename: full, longname: full, attrs: dirAttrs }])
    })
    const stat = (reqid: number, p: string) => {
      const full = abs(p)
      if (["/", "/tmp", "/root", "/var/tmp", "/home", home, "/dev/shm", "/opt"].includes(full))
        sftp.attrs(reqid, dirAttrs)
      else sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE)
    }
    sftp.on("STAT", stat)
    sftp.on("LSTAT", stat)
    sftp.on("OPEN", (reqid, filename, flags) => {
      if (handles.size + opening >= MAX_HANDLES) return sftp.status(reqid, STATUS_CODE.FAILURE)
      if ((flags & OPEN_MODE.WRITE) === 0) return sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE)
      const full = abs(filename)
      opening++
      op(
        Effect.gen(function* () {
          yield* logCommands(sc, [{ cmd: `sftp put ${full}`, pwd: home }])
          const opened = yield* Effect.either(openUpload(quarantine, full))
          if (opened._tag === "Left") {
            yield* Effect.logWarning(`ssh sftp upload ${full} refused: ${opened.left.message}`)
            return sftp.status(reqid, STATUS_CODE.PERMISSION_DENIED)
          }
          const h = nextHandle++
          handles.set(h, opened.right)
          sftp.handle(reqid, handleBuf(h))
        }).pipe(
          Effect.ensuring(
            Effect.sync(() => {
              opening--
            })
          )
        )
      )
    })
    sftp.on("WRITE", (reqid, handle, offset, data) => {
      const u = handles.get(handleOf(handle))
      if (!(u instanceof Upload)) return sftp.status(reqid, STATUS_CODE.FAILURE)
      // Past the cap or the budget the bytes are dropped but still acknowledged, as a full disk
      // would not be admitted to: the upload ends as `file_skipped` at CLOSE.
      u.write(data, offset, () => sftp.status(reqid, STATUS_CODE.OK))
    })
    sftp.on("FSTAT", (reqid, handle) => {
      const u = handles.get(handleOf(handle))
      if (u instanceof Upload)
        sftp.attrs(reqid, { mode: 0o100644, uid: 0, gid: 0, size: u.length, atime: 0, mtime: 0 })
      else sftp.status(reqid, STATUS_CODE.FAILURE)
    })
    sftp.on("CLOSE", (reqid, handle) => {
      const h = handleOf(handle)
      const u = handles.get(h)
      handles.delete(h)
      if (!(u instanceof Upload))
        return sftp.status(reqid, u === undefined ? STATUS_CODE.FAILURE : STATUS_CODE.OK)
      // Answered once stored, so the client's exit means the file is in the quarantine.
      op(
        storeUpload(quarantine, u, sc.events, who).pipe(
          Effect.zipRight(Effect.sync(() => sftp.status(reqid, STATUS_CODE.OK)))
        )
      )
    })
    sftp.on("OPENDIR", (reqid) => {
      if (handles.size + opening >= MAX_HANDLES) return sftp.status(reqid, STATUS_CODE.FAILURE)
      const h = nextHandle++
      handles.set(h, "dir")
      sftp.handle(reqid, handleBuf(h))
    })
    sftp.on("READDIR", (reqid, handle) => {
      const h = handleOf(handle)
      if (handles.get(h) === "dir") {
        handles.set(h, "dir-done")
        return sftp.name(reqid, [
          {
            filename: ".",
            longname: "drwxr-xr-x    2 root     root         4096 Oct 12 09:41 .",
            attrs: dirAttrs
          },
          {
            filename: "..",
            longname: "drwxr-xr-x   19 root     root         4096 Oct 12 09:41 ..",
            attrs: dirAttrs
          }
        ])
      }
      sftp.status(reqid, STATUS_CODE.EOF)
    })
    for (const ev of ["SETSTAT", "FSETSTAT", "MKDIR"] as const)
      sftp.on(ev, (reqid: number) => sftp.status(reqid, STATUS_CODE.OK))
    for (const ev of ["READ", "REMOVE", "RMDIR", "RENAME", "READLINK", "SYMLINK"] as const)
      sftp.on(ev, (reqid: number) =>
        sftp.status(reqid, ev === "READ" ? STATUS_CODE.EOF : STATUS_CODE.PERMISSION_DENIED)
      )

    const how = yield* ended(sftp)
    // Let OPEN/CLOSE in flight finish (a CLOSE is storing a file), then close as sftp-server does.
    yield* FiberSet.awaitEmpty(ops)
    if (how === "end") {
      sendExitStatus(sftp, 0)
      sftp.end()
    }
  }).pipe(Effect.scoped)
