import type { Accepted } from "../accepted.js"

// Debian 12's sshd (OpenSSH 9.2p1 Debian-2+deb12u10) against the ssh emulator's Debian persona.
//
// Every entry is a probe that sshd refuses before reading all of it: it reads the identification line
// byte by byte, stops at the first LF (or NUL, or CR not followed by LF, or the 8193rd byte), answers
// "Invalid SSH identification string." and exits with the rest of the probe unread. Whether the kernel
// then ends the connection with FIN or RST depends on which of sshd's processes (listener, privsep
// monitor, pre-auth child) drops the socket last: over six tries of the same probe the real server gave
// both, in no fixed order. After a reset the client may also miss the last bytes sshd wrote (it writes
// the text and its CR LF in two writes). The emulator always sends the whole text and closes (FIN). These
// probes are still checked (test/fidelity/ssh.test.ts "refused early"): each is one sshd stops reading
// early, and the real reply is the emulator's, or a prefix of it after a reset.
const RACY_ENDING =
  "sshd exits with the rest of this probe unread, so its connection ends with FIN or RST at random (and a reset can cut its reply short)"

const probes = [
  "GenericLines",
  "GetRequest",
  "HTTPOptions",
  "RTSPRequest",
  "RPCCheck",
  "DNSVersionBindReqTCP",
  "SSLSessionReq",
  "TLSSessionReq",
  "Kerberos",
  "SMBProgNeg",
  "X11Probe",
  "FourOhFourRequest",
  "LDAPSearchReq",
  "LDAPBindReq",
  "SIPOptions",
  "LANDesk-RC",
  "TerminalServer",
  "NCP",
  "NotesRPC",
  "WMSRequest",
  "afp",
  JSON.stringify("SSH-2.0-x\u0000y\r\n"),
  JSON.stringify("SSH-2.0-x\ry\r\n"),
  JSON.stringify("GET / HTTP/1.0\r\n\r\n"),
  JSON.stringify("\u0000\u0001\u0002\u0003\r\n"),
  JSON.stringify(`SSH-2.0-${"x".repeat(49)}…`),
  JSON.stringify(`${"A".repeat(57)}…`)
]

export const accepted: ReadonlyArray<Accepted> = probes.map((probe) => ({ probe, reason: RACY_ENDING }))
