/**
 * MD4 (RFC 1320). NTLM's NTOWFv1 needs it and Node 20's OpenSSL 3 only has it in the legacy
 * provider, which is not loaded by default. Used for verification only, never for security.
 */

const rotl = (x: number, n: number): number => ((x << n) | (x >>> (32 - n))) >>> 0

export const md4 = (input: Uint8Array): Buffer => {
  const bitLen = input.length * 8
  const padLen = ((input.length + 8) >> 6) * 64 + 64
  const msg = Buffer.alloc(padLen)
  msg.set(input)
  msg[input.length] = 0x80
  msg.writeUInt32LE(bitLen >>> 0, padLen - 8)
  msg.writeUInt32LE(Math.floor(bitLen / 2 ** 32) >>> 0, padLen - 4)
  let a = 0x67452301
  let b = 0xefcdab89
  let c = 0x98badcfe
  let d = 0x10325476
  const x = new Uint32Array(16)
  const f = (p: number, q: number, r: number) => (p & q) | (~p & r)
  const g = (p: number, q: number, r: number) => (p & q) | (p & r) | (q & r)
  const h = (p: number, q: number, r: number) => p ^ q ^ r
  for (let off = 0; off < padLen; off += 64) {
    for (let i = 0; i < 16; i++) x[i] = msg.readUInt32LE(off + i * 4)
    const [aa, bb, cc, dd] = [a, b, c, d]
    // Round 1 (RFC 1320 §3.4).
    for (const i of [0, 4, 8, 12]) {
      a = rotl((a + f(b, c, d) + x[i]!) >>> 0, 3)
      d = rotl((d + f(a, b, c) + x[i + 1]!) >>> 0, 7)
      c = rotl((c + f(d, a, b) + x[i + 2]!) >>> 0, 11)
      b = rotl((b + f(c, d, a) + x[i + 3]!) >>> 0, 19)
    }
    // Round 2.
    for (const i of [0, 1, 2, 3]) {
      a = rotl((a + g(b, c, d) + x[i]! + 0x5a827999) >>> 0, 3)
      d = rotl((d + g(a, b, c) + x[i + 4]! + 0x5a827999) >>> 0, 5)
      c = rotl((c + g(d, a, b) + x[i + 8]! + 0x5a827999) >>> 0, 9)
      b = rotl((b + g(c, d, a) + x[i + 12]! + 0x5a827999) >>> 0, 13)
    }
    // Round 3.
    for (const i of [0, 2, 1, 3]) {
      a = rotl((a + h(b, c, d) + x[i]! + 0x6ed9eba1) >>> 0, 3)
      d = rotl((d + h(a, b, c) + x[i + 8]! + 0x6ed9eba1) >>> 0, 9)
      c = rotl((c + h(d, a, b) + x[i + 4]! + 0x6ed9eba1) >>> 0, 11)
      b = rotl((b + h(c, d, a) + x[i + 12]! + 0x6ed9eba1) >>> 0, 15)
    }
    a = (a + aa) >>> 0
    b = (b + bb) >>> 0
    c = (c + cc) >>> 0
    d = (d + dd) >>> 0
  }
  const out = Buffer.alloc(16)
  out.writeUInt32LE(a, 0)
  out.writeUInt32LE(b, 4)
  out.writeUInt32LE(c, 8)
  out.writeUInt32LE(d, 12)
  return out
}
