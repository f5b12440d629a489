/**
 * The one error every `Docker` operation fails with. `reason` says what kind of failure it was, so a
 * caller can branch (teardown ignores `not-found`, deploy reuses on `conflict`) without parsing text;
 * `message` says what to do about it and is what the CLI prints.
 */
import { Predicate, Schema } from "effect"

export const DockerErrorReason = Schema.Literal(
  /** No engine answered at the configured address (socket missing, connection refused, host down). */
  "unreachable",
  /** The socket exists but this process may not open it, or an authorization plugin refused (HTTP 403). */
  "permission-denied",
  /** HTTP 404: no such container, image or network. */
  "not-found",
  /**
   * HTTP 409 or 403: name in use, container running, image in use; the engine says 403 for a network
   * that still has endpoints, a container already on that network, a predefined network.
   */
  "conflict",
  /** HTTP 400: the engine refused the request as malformed. */
  "bad-request",
  /** Any other engine-side failure (HTTP 5xx, unexpected status). */
  "engine",
  /** The engine answered with a body we could not decode. */
  "decode",
  /** A streamed response (logs, events, progress) broke off or was malformed. */
  "stream",
  /** `buildImage` / `importImage` reported an error in its progress stream. */
  "build-failed",
  /** The request needs an engine API newer than the one we talk to. */
  "unsupported"
)
export type DockerErrorReason = typeof DockerErrorReason.Type

export class DockerError extends Schema.TaggedError<DockerError>()("DockerError", {
  /** The service method that failed, e.g. `inspectContainer` (also the span name suffix). */
  op: Schema.String,
  reason: DockerErrorReason,
  message: Schema.String,
  /** The container, image or network the call was about, when there was one. */
  target: Schema.optional(Schema.String),
  /** HTTP status from the engine, when it answered. */
  status: Schema.optional(Schema.Number),
  cause: Schema.optional(Schema.Defect)
}) {}

/** The text for an engine that does not answer; `address` is the socket path or `tcp://host:port`. */
export const unreachableMessage = (address: string): string =>
  `Docker engine not reachable at ${address} — is dockerd running? (start it, or set DOCKER_HOST)`

export const permissionDeniedMessage = (address: string): string =>
  `permission denied on the Docker engine at ${address} — run as root or as a member of the docker group ` +
  `(or set DOCKER_HOST to an engine you may use)`

export const isNotFound = (e: DockerError): boolean => e.reason === "not-found"
export const isConflict = (e: DockerError): boolean => e.reason === "conflict"

const field = (u: unknown, key: string): unknown => (Predicate.hasProperty(u, key) ? u[key] : undefined)
const text = (u: unknown): string | undefined =>
  typeof u === "string" && u.trim() !== "" ? u.trim() : undefined

/** Socket-level failures that mean "nobody is there" rather than "the engine said no". */
const UNREACHABLE_CODES = new Set([
  "ENOENT",
  "ECONNREFUSED",
  "ENOTSOCK",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT"
])
const LOST_CODES = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED"])

/** The engine's own explanation: dockerode puts the JSON body (`{"message": …}`) on `err.json`. */
const engineMessage = (cause: unknown): string => {
  const json = field(cause, "json")
  const fromJson = text(field(json, "message")) ?? (typeof json === "string" ? text(json) : undefined)
  if (fromJson !== undefined) return fromJson
  const raw = text(field(cause, "message")) ?? String(cause)
  // dockerode's own text is "(HTTP code 404) no such container - <engine text> "; keep the engine text.
  return raw.replace(/^\(HTTP code \d+\) [^-]*- /, "").trim()
}

/**
 * Classify whatever dockerode rejected with. `address` is the engine address as the user wrote it
 * (`unix:///var/run/docker.sock`), so an unreachable engine names where we looked.
 */
export const fromCause = (op: string, address: string, cause: unknown, target?: string): DockerError => {
  const base = target === undefined ? { op, cause } : { op, target, cause }
  const code = field(cause, "code")
  if (typeof code === "string" && UNREACHABLE_CODES.has(code)) {
    return new DockerError({ ...base, reason: "unreachable", message: unreachableMessage(address) })
  }
  if (code === "EACCES" || code === "EPERM") {
    return new DockerError({
      ...base,
      reason: "permission-denied",
      message: permissionDeniedMessage(address)
    })
  }
  if (typeof code === "string" && LOST_CODES.has(code)) {
    return new DockerError({
      ...base,
      reason: "engine",
      message: `the connection to the Docker engine at ${address} was lost during ${op} (${code})`
    })
  }
  const status = field(cause, "statusCode")
  const about = target === undefined ? `docker ${op}` : `docker ${op} ${target}`
  if (typeof status === "number") {
    // An authorization plugin also answers 403 ("authorization denied by plugin <name>: …"): that is a
    // refusal to act on a policy, not a state to wait out.
    const reason: DockerErrorReason =
      status === 404
        ? "not-found"
        : status === 403 && /authorization denied/i.test(engineMessage(cause))
          ? "permission-denied"
          : status === 409 || status === 403
            ? "conflict"
            : status === 400
              ? "bad-request"
              : "engine"
    return new DockerError({
      ...base,
      reason,
      status,
      message: `${about}: ${engineMessage(cause)} (HTTP ${status})`
    })
  }
  return new DockerError({ ...base, reason: "engine", message: `${about}: ${engineMessage(cause)}` })
}

/** A copy with another `op` or `message` (a TaggedError's fields are not all spreadable). */
export const amend = (
  e: DockerError,
  patch: { readonly op?: string; readonly message?: string }
): DockerError =>
  new DockerError({
    op: patch.op ?? e.op,
    reason: e.reason,
    message: patch.message ?? e.message,
    ...(e.target === undefined ? {} : { target: e.target }),
    ...(e.status === undefined ? {} : { status: e.status }),
    ...(e.cause === undefined ? {} : { cause: e.cause })
  })
