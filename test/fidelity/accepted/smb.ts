import type { Accepted } from "../accepted.js"

// Samba 4.17 smbd (Debian bookworm, standalone, SMB2+ by default) against the smb emulator's Windows
// Server 2019 file server with the SMB1 feature installed. Replies are compared as NBSS frame types and
// (protocol, command, status, dialect) per SMB message; these are the answers where Windows and Samba
// differ by design.

const SMB1 =
  "the persona has SMB1 installed (Windows Server 2016's default, 2019 with FS-SMB1): an \"NT LM 0.12\" NEGOTIATE gets Windows' SMB1 response (nmap: Microsoft Windows Server 2008 R2 - 2012 microsoft-ds) and the connection waits for SESSION_SETUP_ANDX; Samba 4.17 has SMB1 off (server min protocol SMB2_02), answers DialectIndex 0xFFFF and closes. With smb1 off the emulator resets, as Windows does"
const FRAMING =
  'after the session is up, a frame whose NBSS type is not a session message (0x47 of "GET ") or whose length is past the limit: the emulator closes at once, as Windows does on a framing error; smbd waits for the bytes the length promises'
const DIRECT =
  "445 is direct-hosted SMB (MS-SMB2 §2.1): the emulator takes a non-zero NBSS type as a framing error and closes, as Windows' srvnet does; smbd runs the NetBIOS session service on every port and answers a session request on 445 too"
const NETBIOS =
  "on 139 Windows requires a SESSION REQUEST first and answers anything else with a NEGATIVE SESSION RESPONSE, error 0x8F, then closes (nmap's \"Microsoft Windows netbios-ssn\" signature); smbd accepts SMB on 139 without a session request (or waits for the frame's length)"
const KEEPALIVE =
  "a keep-alive before anything else: RFC 1002 §4.3.7 says ignore it, which the emulator does (the connection stays open); smbd closes"
const OVERSIZED =
  "a 16 MiB NBSS length: smbd waits for the bytes; the emulator closes past its 1 MiB frame limit (Windows disconnects past its 8 MiB MaxTransactSize plus header as well)"

export const accepted: ReadonlyArray<Accepted> = [
  { probe: "445: SMBProgNeg", reason: SMB1 },
  { probe: "445: SMB1 NEGOTIATE NT LM 0.12 only, extended security", reason: SMB1 },
  { probe: "445: session request *SMBSERVER", reason: DIRECT },
  { probe: "445: session request FS01", reason: DIRECT },
  { probe: "445: session request for another name", reason: DIRECT },
  { probe: "445: HTTP request", reason: DIRECT },
  { probe: "445: keep-alive", reason: KEEPALIVE },
  { probe: "445: oversized NBSS length", reason: OVERSIZED },
  {
    probe: "139: session request for another name",
    reason:
      "Windows answers a session request for a name it has not registered with NEGATIVE SESSION RESPONSE 0x82 (called name not present) and closes; smbd accepts any called name"
  },
  ...[
    "GetRequest",
    "SMBProgNeg",
    "SMB2 NEGOTIATE 2.02–3.11",
    "SMB2 NEGOTIATE 2.02–3.11 with contexts",
    "SMB2 NEGOTIATE 2.02 only",
    "SMB2 NEGOTIATE, no known dialect",
    "SMB1 NEGOTIATE NT LM 0.12 + SMB 2.002 + SMB 2.??? (upgrade)",
    "SMB1 NEGOTIATE NT LM 0.12 + SMB 2.002",
    "SMB1 NEGOTIATE NT LM 0.12 only, extended security",
    "SMB2 SESSION_SETUP before NEGOTIATE",
    "unknown NBSS type",
    "oversized NBSS length",
    "short SMB2 header",
    "not SMB",
    "HTTP request"
  ].map((p) => ({ probe: `139: ${p}`, reason: NETBIOS })),
  { probe: "139: keep-alive", reason: KEEPALIVE },
  { probe: "139: *SMBSERVER, then SMBProgNeg", reason: SMB1 },
  { probe: "139: *SMBSERVER, then SMB1 NEGOTIATE NT LM 0.12 only, extended security", reason: SMB1 },
  { probe: "139: *SMBSERVER, then keep-alive", reason: KEEPALIVE },
  { probe: "139: *SMBSERVER, then GetRequest", reason: FRAMING },
  { probe: "139: *SMBSERVER, then HTTP request", reason: FRAMING },
  { probe: "139: *SMBSERVER, then oversized NBSS length", reason: OVERSIZED }
]
