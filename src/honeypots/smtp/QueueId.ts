/**
 * Postfix-style queue ids (spec/honeypots.md §10): the time in Postfix's queue-id alphabet, a
 * per-instance sequence standing in for microseconds, and one seeded suffix character. The sequence
 * belongs to one running instance, so deckies sharing a process never see each other's mail volume
 * in their ids.
 */
import { Clock, Effect } from "effect"

/** Postfix's long queue ids avoid vowels and look-alikes: `BCDFGHJKLMNPQRSTVWXYZ23456789`. */
export const QUEUE_ALPHABET = "BCDFGHJKLMNPQRSTVWXYZ23456789"

export interface QueueIds {
  /** The next id; ids of one instance never repeat within a millisecond's 1000 messages. */
  readonly next: Effect.Effect<string>
}

const encode = (n: bigint): string => {
  const base = BigInt(QUEUE_ALPHABET.length)
  let out = ""
  while (n > 0n) {
    out = QUEUE_ALPHABET[Number(n % base)] + out
    n /= base
  }
  return out
}

export const makeQueueIds = (suffix: string): QueueIds => {
  let sequence = 0
  return {
    next: Effect.map(Clock.currentTimeMillis, (now) => {
      const id = `${encode(BigInt(now) * 1000n + BigInt(sequence % 1000))}${suffix}`
      sequence++
      return id
    })
  }
}
