/**
 * Where the Docker engine listens: the `DOCKER_HOST` grammar (the same URL forms the docker CLI uses),
 * `unix:///path/to/docker.sock` or `tcp://host:port`. Unset means the system socket `/var/run/docker.sock`.
 * DecnetConfig decodes the variable with `parseDockerHost`; the Docker layer takes the typed address.
 */
import { Either, Schema } from "effect"

export const DEFAULT_DOCKER_SOCKET = "/var/run/docker.sock"
/** The engine's conventional plain-HTTP port, used when `tcp://host` names none. */
export const DEFAULT_DOCKER_TCP_PORT = 2375

export const UnixAddress = Schema.TaggedStruct("Unix", { path: Schema.String })
export const TcpAddress = Schema.TaggedStruct("Tcp", { host: Schema.String, port: Schema.Number })
export const DockerAddress = Schema.Union(UnixAddress, TcpAddress)
export type DockerAddress = typeof DockerAddress.Type

export const unixAddress = (path: string): DockerAddress => UnixAddress.make({ path })
export const tcpAddress = (host: string, port: number): DockerAddress => TcpAddress.make({ host, port })

/** The address as a person would type it into DOCKER_HOST; used in every error message. */
export const formatAddress = (a: DockerAddress): string =>
  a._tag === "Unix" ? `unix://${a.path}` : `tcp://${a.host.includes(":") ? `[${a.host}]` : a.host}:${a.port}`

/** What a DOCKER_HOST error says is accepted. */
export const DOCKER_HOST_EXPECTED = "unix:///path/to/docker.sock or tcp://host:port"

/** Parse a DOCKER_HOST value; Left carries the reason it was refused. Never throws. */
export const parseDockerHost = (raw: string): Either.Either<DockerAddress, string> => {
  const value = raw.trim()
  if (value === "") return Either.right(unixAddress(DEFAULT_DOCKER_SOCKET))
  if (value.startsWith("unix://")) {
    const path = value.slice("unix://".length)
    if (path === "") return Either.right(unixAddress(DEFAULT_DOCKER_SOCKET))
    if (!path.startsWith("/")) return Either.left(`expected an absolute socket path after unix://`)
    return Either.right(unixAddress(path))
  }
  if (value.startsWith("tcp://")) {
    let url: URL
    try {
      // WHATWG URL knows no tcp: scheme defaults, so it keeps host and port exactly as written.
      url = new URL(value)
    } catch {
      return Either.left(`not a valid tcp:// URL`)
    }
    const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname
    if (host === "") return Either.left(`tcp:// needs a host`)
    if (url.pathname !== "" && url.pathname !== "/") return Either.left(`a path prefix is not supported`)
    const port = url.port === "" ? DEFAULT_DOCKER_TCP_PORT : Number(url.port)
    if (!Number.isInteger(port) || port < 1 || port > 65535) return Either.left(`port must be 1-65535`)
    return Either.right(tcpAddress(host, port))
  }
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(value)?.[1]
  if (scheme !== undefined) return Either.left(`the ${scheme}:// scheme is not supported`)
  return Either.left(`missing unix:// or tcp:// scheme`)
}
