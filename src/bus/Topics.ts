/**
 * Topic builders, pattern validation and NATS-style matching for the DECNET bus (spec/bus.md §1.6, §1.10).
 * Builders reject segments that would corrupt the hierarchy; `matches` fixes the original's quirks
 * (`>` must be last, empty tokens never match).
 */
import { Either } from "effect"
import { BusError } from "./Bus.js"
import { MAX_HEADER } from "./Wire.js"

const BAD_SEGMENT = /[.*>\s]/
/** Anything but printable ASCII without space (0x21–0x7e): topics travel in ASCII frame headers. */
const NOT_PRINTABLE = /[^\x21-\x7e]/

/**
 * The longest topic or pattern: `UNSUB <pattern>` plus its LF must fit a frame header (MAX_HEADER bytes),
 * so every frame that carries one (SUB, UNSUB, PUB, EVT) can be sent.
 */
export const MAX_TOPIC_LENGTH = MAX_HEADER - "UNSUB ".length - 1

const invalid = (op: string, message: string) => new BusError({ op, message })

/** An id-like segment: non-empty printable ASCII, no `.`, `*`, `>` or whitespace. */
export const segment = (value: string, what = "segment"): Either.Either<string, BusError> =>
  value.length === 0
    ? Either.left(invalid("topic", `${what} must not be empty`))
    : BAD_SEGMENT.test(value)
      ? Either.left(invalid("topic", `${what} ${JSON.stringify(value)} contains '.', '*', '>' or whitespace`))
      : NOT_PRINTABLE.test(value)
        ? Either.left(invalid("topic", `${what} ${JSON.stringify(value)} is not printable ASCII`))
        : Either.right(value)

/** A leaf: may be dotted (`session.ended`), but every token must be a valid segment. */
export const leaf = (value: string, what = "leaf"): Either.Either<string, BusError> => {
  if (value.length === 0) return Either.left(invalid("topic", `${what} must not be empty`))
  for (const token of value.split(".")) {
    const checked = segment(token, what)
    if (Either.isLeft(checked))
      return Either.left(invalid("topic", `${what} ${JSON.stringify(value)} is not a valid dotted leaf`))
  }
  return Either.right(value)
}

const under = (prefix: string, value: Either.Either<string, BusError>, suffix = "") =>
  Either.map(value, (v) => `${prefix}.${v}${suffix}`)

export const MUTATION_STATES = ["enqueued", "applying", "applied", "failed"] as const
export type MutationState = (typeof MUTATION_STATES)[number]

export const topologyMutation = (topologyId: string, state: MutationState) =>
  under("topology", segment(topologyId, "topology id"), `.mutation.${state}`)
export const topologyStatus = (topologyId: string) =>
  under("topology", segment(topologyId, "topology id"), ".status")
export const topologyAll = (topologyId: string) => under("topology", segment(topologyId, "topology id"), ".>")

export const DECKY_LEAVES = [
  "state",
  "traffic",
  "mutation",
  "service_added",
  "service_removed",
  "service_config_changed",
  "lifecycle",
  "mutate_request"
] as const
export type DeckyLeaf = (typeof DECKY_LEAVES)[number]
export const decky = (deckyId: string, kind: DeckyLeaf) =>
  under("decky", segment(deckyId, "decky id"), `.${kind}`)

export type OrchestratorKind = "traffic" | "file" | "email"
export const orchestrator = (kind: OrchestratorKind, destinationUuid: string) =>
  under(`orchestrator.${kind}`, segment(destinationUuid, "destination uuid"))

export const system = (leafName: string) => under("system", leaf(leafName))
export const systemHealth = (worker: string) => under("system", segment(worker, "worker"), ".health")
export const systemControl = (worker: string) => under("system", segment(worker, "worker"), ".control")
export const attacker = (leafName: string) => under("attacker", leaf(leafName))
export const attackerObservation = (primitive: string) =>
  under("attacker.observation", leaf(primitive, "primitive"))
export const identity = (leafName: string) => under("identity", leaf(leafName))
export const campaign = (leafName: string) => under("campaign", leaf(leafName))
export const credential = (leafName: string) => under("credential", leaf(leafName))
export const attribution = (leafName: string) => under("attribution", leaf(leafName))
export const smtp = (leafName: string) => under("smtp", leaf(leafName))
export const email = (leafName: string) => under("email", leaf(leafName))
export const ttp = (leafName: string) => under("ttp", leaf(leafName))
export const ttpRuleFired = (technique: string) => under("ttp.rule.fired", segment(technique, "technique"))
export const ttpRuleReloaded = (ruleId: string) => under("ttp.rule.reloaded", segment(ruleId, "rule id"))
export const ttpRuleState = (ruleId: string) => under("ttp.rule.state", segment(ruleId, "rule id"))
export type CanaryLeaf = "placed" | "triggered" | "revoked"
export const canary = (token: string, kind: CanaryLeaf) =>
  under("canary", segment(token, "canary token"), `.${kind}`)

/** Fixed topics of the catalogue. */
export const T = {
  busHealth: "system.bus.health",
  systemLog: "system.log",
  webhookSubscriptionsChanged: "system.webhook.subscriptions_changed",
  smtpProbePending: "smtp.probe.pending",
  emailReceived: "email.received",
  ttpTagged: "ttp.tagged",
  ttpRuleSuppressed: "ttp.rule.suppressed",
  attackerObserved: "attacker.observed",
  attackerScored: "attacker.scored",
  attackerFingerprinted: "attacker.fingerprinted",
  attackerFingerprintRotated: "attacker.fingerprint_rotated",
  attackerSessionStarted: "attacker.session.started",
  attackerSessionEnded: "attacker.session.ended",
  attackerIntelEnriched: "attacker.intel.enriched",
  identityFormed: "identity.formed",
  identityObservationLinked: "identity.observation.linked",
  identityMerged: "identity.merged",
  identityUnmerged: "identity.unmerged",
  identityCampaignAssigned: "identity.campaign.assigned",
  campaignFormed: "campaign.formed",
  campaignIdentityAssigned: "campaign.identity.assigned",
  campaignMerged: "campaign.merged",
  campaignUnmerged: "campaign.unmerged",
  credentialCaptured: "credential.captured",
  credentialReuseDetected: "credential.reuse.detected",
  attributionStateChanged: "attribution.profile.state_changed",
  attributionMultiActorSuspected: "attribution.profile.multi_actor_suspected"
} as const

/**
 * A subscription pattern (and, without wildcards, a topic): non-empty tokens, `>` only as the last
 * token, printable ASCII without whitespace, at most MAX_TOPIC_LENGTH characters. The broker refuses
 * any other SUB, so clients must refuse it first.
 */
export const validatePattern = (pattern: string): Either.Either<string, BusError> => {
  if (pattern.length === 0) return Either.left(invalid("pattern", "pattern must not be empty"))
  if (pattern.length > MAX_TOPIC_LENGTH)
    return Either.left(
      invalid(
        "pattern",
        `pattern of ${pattern.length} characters is longer than ${MAX_TOPIC_LENGTH} (it must fit a 4 KiB frame header)`
      )
    )
  if (/\s/.test(pattern))
    return Either.left(invalid("pattern", `pattern ${JSON.stringify(pattern)} contains whitespace`))
  if (NOT_PRINTABLE.test(pattern))
    return Either.left(
      invalid("pattern", `pattern ${JSON.stringify(pattern)} is not printable ASCII (0x21–0x7e only)`)
    )
  const tokens = pattern.split(".")
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]
    if (token === undefined || token.length === 0)
      return Either.left(invalid("pattern", `pattern ${JSON.stringify(pattern)} has an empty token`))
    if (token === ">" && i !== tokens.length - 1)
      return Either.left(invalid("pattern", `pattern ${JSON.stringify(pattern)}: '>' must be the last token`))
  }
  return Either.right(pattern)
}

export const isValidPattern = (pattern: string): boolean => Either.isRight(validatePattern(pattern))

/**
 * Why a client may not publish on `topic`, or undefined when it may: a valid pattern without wildcard
 * characters. Every backend (unix, nats, fake) checks this before sending, so all fail alike.
 */
export const publishTopicProblem = (topic: string): string | undefined => {
  if (topic.includes("*") || topic.includes(">")) return `wildcard in topic ${JSON.stringify(topic)}`
  const valid = validatePattern(topic)
  return Either.isLeft(valid) ? valid.left.message.replaceAll("pattern", "topic") : undefined
}

/**
 * What the broker accepts as a PUB topic: non-empty printable ASCII without space. Wildcard characters
 * are literal text in a published topic (spec/bus.md §1.6) and topics with empty tokens simply match no
 * pattern, so both stay accepted for clients of the original; control characters, DEL and anything
 * outside ASCII would reach every `>` subscriber's logs and terminals, and are refused.
 */
export const isPublishableTopic = (topic: string): boolean => topic.length > 0 && !NOT_PRINTABLE.test(topic)

/**
 * `*` matches exactly one non-empty token, `>` one or more trailing non-empty tokens. Invalid patterns
 * and topics with empty tokens never match. Allocation-free: walks both strings by index.
 */
export const matches = (pattern: string, topic: string): boolean => {
  const pl = pattern.length
  const tl = topic.length
  if (pl === 0 || tl === 0) return false
  let p = 0
  let t = 0
  for (;;) {
    let pe = pattern.indexOf(".", p)
    if (pe === -1) pe = pl
    let te = topic.indexOf(".", t)
    if (te === -1) te = tl
    if (pe === p || te === t) return false
    const plen = pe - p
    if (plen === 1 && pattern.charCodeAt(p) === 62 /* > */) {
      // `>` must be last and every remaining topic token must be non-empty.
      if (pe !== pl) return false
      for (let i = t; i <= tl; i++) {
        if (i === tl || topic.charCodeAt(i) === 46) {
          if (i === t) return false
          t = i + 1
        }
      }
      return topic.charCodeAt(tl - 1) !== 46
    }
    if (!((plen === 1 && pattern.charCodeAt(p) === 42) /* * */)) {
      if (plen !== te - t || pattern.startsWith(topic.slice(t, te), p) === false) return false
    }
    const pDone = pe === pl
    const tDone = te === tl
    if (pDone || tDone) {
      if (pDone && tDone) return true
      // A trailing `>` after the last topic token needs at least one token, so this is a mismatch either way
      return false
    }
    p = pe + 1
    t = te + 1
  }
}
