import type { Accepted } from "../accepted.js"

// The emulator claims MySQL 8.0; the Debian stand-in is MariaDB 10.11. Its greeting is MariaDB's own
// (version "5.5.5-10.11.x-MariaDB", mysql_native_password, charset 8, MariaDB capability bits) and is
// normalised away in the test; what remains below differs because MySQL 8.0 itself differs from MariaDB.
const SHA2 =
  "MySQL 8.0's default_authentication_plugin is caching_sha2_password, so a native (or unknown-plugin) " +
  "answer gets an AuthSwitchRequest to caching_sha2_password and a 32-byte answer gets AuthMoreData " +
  "'perform full authentication'; MariaDB 10.11 uses mysql_native_password and refuses or switches to it."

export const accepted: ReadonlyArray<Accepted> = [
  {
    probe: "CRLF CRLF",
    reason:
      "MariaDB reads \\r\\n\\r\\n as the start of a PROXY protocol v2 header ('Proxy header is not " +
      "accepted from …', 1130); MySQL 8.0 has no PROXY protocol and reads a packet with sequence 13: " +
      "'Got packets out of order'."
  },
  { probe: "response, native, password", reason: SHA2 },
  { probe: "response, native, no password", reason: SHA2 },
  { probe: "response, caching_sha2_password", reason: SHA2 },
  { probe: "response, unknown plugin", reason: SHA2 },
  {
    probe: "response, pre-4.1 client",
    reason:
      "MariaDB still parses the pre-4.1 (protocol 320) handshake response and answers Access denied; " +
      "the emulator, as MySQL 8.0, requires CLIENT_PROTOCOL_41 and answers Bad handshake (no SQL state, " +
      "the client not being 4.1)."
  },
  {
    probe: "response, 33-character user",
    reason:
      "MySQL 8.0 clips a user name to USERNAME_CHAR_LENGTH = 32 characters (and then switches the native " +
      "answer to caching_sha2_password); MariaDB's limit is 128."
  }
]
