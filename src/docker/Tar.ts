/**
 * A minimal, deterministic ustar writer for image build contexts: regular files only, owner 0:0, mtime 0,
 * so the same files always give the same bytes (the decky image's cache key depends on it). Content is
 * streamed, never held whole: the Node binary in the decky context is ~100 MB.
 */
import { Data, Effect, Either, Option, Ref, Stream } from "effect"

export class TarError extends Data.TaggedError("TarError")<{ readonly message: string }> {}

export interface TarEntry<E> {
  /** Path inside the archive, `/`-separated, relative (e.g. `Dockerfile`, `opt/decnet/decky.js`). */
  readonly name: string
  /** Permission bits (default 0o644). */
  readonly mode?: number
  /** Exact byte count of `content`; a mismatch fails the stream (the file changed while being read). */
  readonly size: number
  readonly content: Stream.Stream<Uint8Array, E>
}

const BLOCK = 512
const encoder = new TextEncoder()

/** `n` as zero-padded octal in a `width`-byte field ending in NUL. */
const octal = (n: number, width: number): string => n.toString(8).padStart(width - 1, "0")

const put = (buf: Uint8Array, offset: number, text: string): void => {
  buf.set(encoder.encode(text), offset)
}

/** Split a long name into ustar's prefix (155) + name (100) at a `/`; None when it cannot fit. */
const splitName = (name: string): Option.Option<readonly [prefix: string, name: string]> => {
  if (encoder.encode(name).length <= 100) return Option.some(["", name])
  for (let i = name.length - 1; i > 0; i--) {
    if (name[i] !== "/") continue
    const prefix = name.slice(0, i)
    const rest = name.slice(i + 1)
    if (encoder.encode(prefix).length <= 155 && encoder.encode(rest).length <= 100 && rest.length > 0)
      return Option.some([prefix, rest])
  }
  return Option.none()
}

/** The 512-byte ustar header of a regular file. */
export const tarHeader = (name: string, size: number, mode = 0o644): Either.Either<Uint8Array, string> => {
  const parts = splitName(name)
  if (Option.isNone(parts)) return Either.left(`tar: the name '${name}' is too long for ustar`)
  if (!Number.isSafeInteger(size) || size < 0 || size >= 8 ** 11)
    return Either.left(`tar: '${name}' has an impossible size (${size} bytes)`)
  const [prefix, short] = parts.value
  const h = new Uint8Array(BLOCK)
  put(h, 0, short)
  put(h, 100, `${octal(mode & 0o7777, 8)}\0`)
  put(h, 108, `${octal(0, 8)}\0`) // uid
  put(h, 116, `${octal(0, 8)}\0`) // gid
  put(h, 124, `${octal(size, 12)}\0`)
  put(h, 136, `${octal(0, 12)}\0`) // mtime: fixed, for reproducible contexts
  put(h, 148, "        ") // checksum field counts as spaces while summing
  put(h, 156, "0") // regular file
  put(h, 257, "ustar\0")
  put(h, 263, "00")
  put(h, 265, "root")
  put(h, 297, "root")
  put(h, 345, prefix)
  let sum = 0
  for (const b of h) sum += b
  put(h, 148, `${octal(sum, 7)}\0 `)
  return Either.right(h)
}

const padding = (size: number): Uint8Array => new Uint8Array((BLOCK - (size % BLOCK)) % BLOCK)

/** One entry: header, content (checked against `size`), padding to the block. */
const entryStream = <E>(entry: TarEntry<E>): Stream.Stream<Uint8Array, E | TarError> => {
  const header = tarHeader(entry.name, entry.size, entry.mode)
  if (Either.isLeft(header)) return Stream.fail(new TarError({ message: header.left }))
  return Stream.unwrap(
    Effect.map(Ref.make(0), (seen) =>
      Stream.make(header.right).pipe(
        Stream.concat(
          entry.content.pipe(
            Stream.tap((chunk) =>
              Ref.updateAndGet(seen, (n) => n + chunk.length).pipe(
                Effect.flatMap((n) =>
                  n > entry.size
                    ? Effect.fail(
                        new TarError({
                          message: `tar: '${entry.name}' grew past ${entry.size} bytes while read`
                        })
                      )
                    : Effect.void
                )
              )
            )
          )
        ),
        Stream.concat(
          Stream.fromEffect(
            Effect.flatMap(Ref.get(seen), (n) =>
              n === entry.size
                ? Effect.succeed(padding(entry.size))
                : Effect.fail(
                    new TarError({ message: `tar: '${entry.name}' has ${n} bytes, expected ${entry.size}` })
                  )
            )
          )
        )
      )
    )
  )
}

/** A ustar archive of `entries`, in order, ending with the two zero blocks. */
export const tarStream = <E>(entries: ReadonlyArray<TarEntry<E>>): Stream.Stream<Uint8Array, E | TarError> =>
  Stream.concat(
    Stream.flatten(Stream.fromIterable(entries.map(entryStream))),
    Stream.make(new Uint8Array(2 * BLOCK))
  )

/** An in-memory file entry (a Dockerfile, a small script). */
export const tarText = (name: string, text: string, mode?: number): TarEntry<never> => {
  const bytes = encoder.encode(text)
  return { name, size: bytes.length, content: Stream.make(bytes), ...(mode === undefined ? {} : { mode }) }
}
