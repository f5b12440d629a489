/**
 * SPNEGO (RFC 4178 §4.2) wrappers around NTLMSSP, as SMB2 carries them in its security buffers:
 * the NegTokenInit hint in NEGOTIATE and the NegTokenResp around the CHALLENGE.
 */
import { derEnumerated, derOctets, derSequence, OID_NTLMSSP, OID_SPNEGO, tlv } from "./Der.js"

/** GSS-API InitialContextToken carrying NegTokenInit { mechTypes: [NTLMSSP] }. */
export const negTokenInitHint = (): Buffer =>
  tlv(0x60, OID_SPNEGO, tlv(0xa0, derSequence(tlv(0xa0, derSequence(OID_NTLMSSP)))))

/** negState values (RFC 4178 §4.2.2). */
export const NegState = { acceptCompleted: 0, acceptIncomplete: 1, reject: 2 } as const

/** NegTokenResp { negState, supportedMech NTLMSSP, responseToken }. */
export const negTokenResp = (state: number, responseToken?: Uint8Array): Buffer =>
  tlv(
    0xa1,
    derSequence(
      tlv(0xa0, derEnumerated(state)),
      ...(responseToken === undefined ? [] : [tlv(0xa1, OID_NTLMSSP), tlv(0xa2, derOctets(responseToken))])
    )
  )
