// The 29 registered service plugins (spec/fleet.md §3), in the spec's table order. Field metadata
// (labels, defaults, help) follows the original plugins' config schemas.
import {
  RUNTIME_EVENTS,
  SERVICE_SLUGS,
  type ServiceConfigField,
  type ServicePorts,
  type ServiceSlug,
  type ServiceSpec
} from "./Service.js"

type FieldInput = Pick<ServiceConfigField, "key" | "label"> &
  Partial<Omit<ServiceConfigField, "key" | "label">>

// Fills the wire defaults so the data below lists only what differs.
const field = (f: FieldInput): ServiceConfigField => ({
  type: "string",
  default: null,
  secret: false,
  help: null,
  placeholder: null,
  ...f
})

const tcp = (...ports: ReadonlyArray<number>): ServicePorts => ({ tcp: ports, udp: [] })
const udp = (...ports: ReadonlyArray<number>): ServicePorts => ({ tcp: [], udp: ports })
const both = (...ports: ReadonlyArray<number>): ServicePorts => ({ tcp: ports, udp: ports })

const service = (
  slug: ServiceSlug,
  description: string,
  ports: ServicePorts,
  events: ReadonlyArray<string>,
  config_schema: ReadonlyArray<ServiceConfigField> = [],
  fleet_singleton = false
): ServiceSpec => ({
  slug,
  description,
  ports,
  events: [...events, ...RUNTIME_EVENTS],
  config_schema,
  fleet_singleton
})

// ssh and telnet share the account knobs; only the help wording differs.
const loginFields = (daemon: string, userHelp: string, userPasswordHelp: string, hostnameHelp: string) => [
  field({
    key: "password",
    label: "Root password",
    type: "password",
    default: "admin",
    secret: true,
    help: `Plaintext root password for the in-container ${daemon}.`
  }),
  field({ key: "user", label: "Non-root user", default: "ubuntu", help: userHelp }),
  field({
    key: "user_password",
    label: "Non-root user password",
    type: "password",
    default: "admin",
    secret: true,
    help: userPasswordHelp
  }),
  field({
    key: "hostname",
    label: "Container hostname",
    placeholder: "e.g. mail-01.corp.local",
    help: hostnameHelp
  })
]

const FAKE_APPS = [
  "none",
  "apache_default",
  "nginx_default",
  "wordpress",
  "phpmyadmin",
  "iis_default",
  "tomcat",
  "jenkins"
]

const webFields = (serverPlaceholder: string) => [
  field({
    key: "server_header",
    label: "Server header",
    placeholder: serverPlaceholder,
    help: "Value sent in the HTTP Server: response header."
  }),
  field({
    key: "response_code",
    label: "Default response code",
    type: "int",
    placeholder: "200",
    help: "Leave empty for Apache's own answers (403 with everything denied, 404 off the default site's index)."
  }),
  field({
    key: "fake_app",
    label: "Fake application",
    type: "enum",
    enum: FAKE_APPS,
    default: "none",
    help: "Pre-baked application skin to render on the index page."
  }),
  field({
    key: "extra_headers",
    label: "Extra headers (JSON or raw)",
    type: "textarea",
    placeholder: '{"X-Powered-By": "PHP/7.4.3"}'
  }),
  field({ key: "custom_body", label: "Custom response body", type: "textarea" }),
  field({
    key: "files",
    label: "Files directory",
    placeholder: "/srv/www",
    help: "Directory whose files are served read-only by URL path (no traversal out of it, files up to 16 MiB)."
  }),
  field({
    key: "header_timeout_ms",
    label: "Header timeout (ms)",
    type: "int",
    default: 20_000,
    help:
      "Slowloris guard: a request's header block must arrive within this time, else 408 (Apache's " +
      "mod_reqtimeout header=20). 1000–60000."
  })
]

// The TLS knobs of the mail services (smtp STARTTLS, imap/pop3 STARTTLS and implicit TLS).
const mailTlsFields = [
  field({
    key: "tls_cn",
    label: "TLS certificate CN",
    placeholder: "mail.corp.local",
    help: "Common Name of the self-signed certificate minted when no cert/key is given; default: the decky hostname."
  }),
  field({
    key: "tls_cert",
    label: "TLS certificate (PEM)",
    type: "textarea",
    secret: true,
    help: "PEM text or a file path; with tls_key, replaces the self-signed certificate."
  }),
  field({
    key: "tls_key",
    label: "TLS private key (PEM)",
    type: "textarea",
    secret: true,
    help: "PEM text or a file path; must be given together with tls_cert."
  })
]

// smtp and smtp_relay run one template; smtp adds open_relay, smtp_relay the upstream_* keys.
const mtaFields = [
  field({
    key: "banner",
    label: "SMTP greeting banner",
    placeholder: "220 mail.corp.local ESMTP Postfix (Ubuntu)",
    help: "The whole greeting line, code included; default: 220 <hostname> ESMTP Postfix (Ubuntu)."
  }),
  field({
    key: "mta",
    label: "MTA host name",
    placeholder: "mail.corp.local",
    help: "Name on the first EHLO line (250-<mta>), HELO's reply and the 421 goodbye; default: the decky hostname."
  }),
  field({
    key: "auth_whitelist",
    label: "AUTH whitelist",
    placeholder: "alice,bob",
    help:
      "Relay mode: comma-separated user names whose AUTH succeeds; empty accepts everyone. Every attempt " +
      "is captured either way."
  }),
  field({
    key: "rcpt_drop_rate",
    label: "Recipient greylist rate",
    default: "0.08",
    placeholder: "0.08",
    help: "Relay mode: the share (0–1) of recipients answered 451 4.7.1 Greylisted, as a cautious MTA does."
  }),
  field({
    key: "max_body_bytes",
    label: "Max message size (bytes)",
    type: "int",
    default: 10_240_000,
    help:
      "Advertised as EHLO SIZE (default Postfix's message_size_limit); bytes past it are dropped and the message " +
      "is marked truncated (1 KiB–64 MiB)."
  }),
  field({
    key: "data_buffer_mb",
    label: "DATA buffer (MiB)",
    type: "int",
    default: 64,
    help:
      "Memory for message bodies being received, over all connections of the service (1–4096). A body that " +
      "would pass it is refused with 452 4.3.1 Insufficient system storage and logged as message_rejected."
  }),
  field({
    key: "quarantine",
    label: "Quarantine messages",
    type: "bool",
    default: true,
    help: "Store each accepted message as an .eml file under the decky's artifacts (smtp/)."
  }),
  ...mailTlsFields
]

// imap and pop3 serve the same bait mailbox to the same accounts.
const mailboxFields = [
  field({
    key: "users",
    label: "Accepted logins",
    default: "admin:admin123,root:toor,mail:mail,user:user",
    help: "Comma-separated user:password pairs; a match opens the bait mailbox. Every attempt is captured."
  }),
  field({
    key: "email_seed",
    label: "Seed mail",
    placeholder: "/srv/decnet/bait",
    help:
      "A directory of .eml files (or one .eml file) appended to INBOX after the ten built-in bait messages " +
      "(at most 200 files of 1 MiB)."
  }),
  field({
    key: "email_seed_rescan",
    label: "Seed rescan interval (s)",
    type: "int",
    default: 5,
    help: "Seconds between re-reads of the seed, so new bait shows up without a restart."
  }),
  ...mailTlsFields
]

const SMTP_EVENTS = [
  "connect",
  "ehlo",
  "auth_attempt",
  "mail_from",
  "rcpt_to",
  "rcpt_denied",
  "rcpt_greylisted",
  "rcpt_rejected_syntax",
  "rcpt_rejected_tld",
  "vrfy",
  "message_accepted",
  "message_rejected",
  "message_stored",
  "unknown_command",
  "disconnect"
]

const HTTP_EVENTS = ["request", "http_request_fingerprint", "http_access", "http2_settings"]

export const SERVICES: ReadonlyArray<ServiceSpec> = [
  service(
    "ssh",
    "OpenSSH server (Ubuntu 22.04 lived-in persona) with root and a non-root sudo user",
    tcp(22),
    ["auth_attempt", "command", "session_recorded", "file_captured", "file_skipped"],
    [
      ...loginFields(
        "sshd",
        "Username for the second account on the decoy (a lived-in Ubuntu box has one); catches `ssh user@host` " +
          "enumeration and sudo/privesc attempts.",
        "Password for the non-root user, captured like root logins. The user is in the `sudo` group.",
        "Cosmetic override for the SSH banner/PS1; the decky identity (NODE_NAME) is unaffected."
      ),
      field({
        key: "version",
        label: "SSH version string",
        type: "enum",
        enum: ["OpenSSH_8.9p1 Ubuntu-3ubuntu0.4", "OpenSSH_9.2p1 Debian-2+deb12u10"],
        default: "OpenSSH_8.9p1 Ubuntu-3ubuntu0.4",
        help:
          "OpenSSH release the decky claims after `SSH-2.0-` (what nmap -sV reports); its key exchange lists and " +
          "extensions are that release's defaults, so ssh-audit and HASSH see the same server."
      }),
      field({
        key: "banner",
        label: "Pre-auth banner",
        type: "textarea",
        placeholder: "Authorized access only.",
        help: "Text shown before authentication (sshd `Banner`). None by default, like a stock Ubuntu."
      }),
      field({
        key: "keyboard_interactive",
        label: "Offer keyboard-interactive",
        type: "bool",
        default: true,
        help:
          "Offer keyboard-interactive besides password (sshd KbdInteractiveAuthentication); more clients " +
          "then reveal a password."
      }),
      field({
        key: "auth_failure_delay_ms",
        label: "Failed login delay (ms)",
        default: "2000,3000",
        placeholder: "min,max",
        help:
          "A refused password waits a random delay in this range before the answer, like sshd with PAM " +
          "(pam_unix's 2 s failure delay). Held without CPU."
      }),
      field({
        key: "accept_any_after",
        label: "Accept any password after N tries",
        type: "int",
        default: 0,
        help:
          "Accept any password from the Nth try of a connection (0 = never). A box that lets everyone in is a " +
          "known honeypot tell; turn it on only to get more shell sessions."
      }),
      field({
        key: "upload_buffer_mb",
        label: "Upload write-behind budget (MiB)",
        type: "int",
        default: 128,
        help:
          "MiB of scp/SFTP upload data received and not yet on disk that the service may hold at once (1–4096). " +
          "Uploads stream to disk; past this an upload is skipped (`file_skipped`, reason buffer_full)."
      })
    ]
  ),
  service(
    "telnet",
    "busybox telnetd with a PAM /bin/login (Ubuntu 20.04 motd)",
    tcp(23),
    ["connect", "auth_attempt", "command", "session_recorded"],
    loginFields(
      "telnetd",
      "Username for the second account on the decoy; catches scripts that try common usernames and " +
        "post-login `su -` attempts.",
      "Password for the non-root user, captured like root logins. There is no sudo; privesc rides `su -`.",
      "Cosmetic override for the telnet banner; the decky identity (NODE_NAME) is unaffected."
    )
  ),
  service(
    "http",
    "web server (Apache/nginx personas, fake apps) capturing Basic/Bearer/Digest and form logins",
    tcp(80, 443),
    HTTP_EVENTS,
    [
      ...webFields("Apache/2.4.41 (Ubuntu)"),
      field({
        key: "http_versions",
        label: "Supported HTTP versions",
        type: "multi_enum",
        enum: ["http/1.1", "http/2"],
        default: ["http/1.1"],
        help: "Protocol versions advertised. HTTP/3 requires TLS: use the https service."
      })
    ]
  ),
  service(
    "https",
    "the http stack behind TLS (self-signed CN or a supplied PEM), HTTP/1.1 and HTTP/2 by ALPN",
    tcp(443),
    // No http3_settings: there is no QUIC in node 20, so the emulator never emits it.
    HTTP_EVENTS,
    [
      ...webFields("nginx/1.18.0"),
      field({
        key: "tls_cn",
        label: "TLS certificate CN",
        placeholder: "mail.corp.local",
        help: "Common Name baked into the self-signed cert if no cert/key provided (default: the decky hostname)."
      }),
      field({
        key: "tls_cert",
        label: "TLS certificate (PEM)",
        type: "textarea",
        secret: true,
        help: "PEM text or a file path; with the key, replaces the self-signed certificate."
      }),
      field({ key: "tls_key", label: "TLS private key (PEM)", type: "textarea", secret: true }),
      field({
        key: "http_versions",
        label: "Supported HTTP versions",
        type: "multi_enum",
        enum: ["http/1.1", "http/2"],
        default: ["http/1.1", "http/2"],
        help: "Protocols offered by ALPN. HTTP/3 is not served (no QUIC); http/3 is accepted and ignored."
      })
    ]
  ),
  service(
    "ftp",
    "FTP server with login capture and a bait file tree",
    tcp(21),
    [
      "connection",
      "user",
      "auth_attempt",
      "download_attempt",
      "upload_attempt",
      "file_captured",
      "file_skipped",
      "bounce_attempt",
      "disconnect"
    ],
    [
      field({
        key: "banner",
        label: "Welcome banner",
        placeholder: "220 (vsFTPd 3.0.3)",
        help:
          "Greeting sent on connect; a leading 220 is added when missing. Empty = a seeded vsFTPd, ProFTPD " +
          "or Pure-FTPd persona. The server's wording follows the product it names."
      }),
      field({
        key: "login_mode",
        label: "Login outcome",
        type: "enum",
        enum: ["probabilistic", "always", "never"],
        default: "probabilistic",
        help:
          "never: every PASS fails (530); always: every PASS succeeds (230) into the bait tree; " +
          "probabilistic: succeeds with the login success rate. Every attempt is captured either way."
      }),
      field({
        key: "login_success_rate",
        label: "Login success rate",
        default: "0.9",
        placeholder: "0.9",
        help:
          "Share (0-1) of user/password pairs a PASS accepts when the login outcome is probabilistic; " +
          "the same pair always gets the same answer on one decky."
      }),
      field({
        key: "anonymous_enable",
        label: "Anonymous login",
        type: "bool",
        default: true,
        help:
          "vsFTPd persona: USER anonymous or ftp logs in with any password, whatever the login outcome " +
          "(vsftpd's anonymous_enable). Other personas ignore it."
      }),
      field({
        key: "max_upload_bytes",
        label: "Max upload size (bytes)",
        type: "int",
        default: 52428800,
        help:
          "Largest upload kept (at most 1 GiB); a bigger one is cut, discarded and logged as file_skipped. " +
          "0 makes the server read-only (550 Permission denied)."
      }),
      field({
        key: "max_session_upload_bytes",
        label: "Upload bytes per session",
        type: "int",
        default: 209715200,
        help: "Bytes one control connection may upload (kept and in flight); past it 552."
      }),
      field({
        key: "max_session_uploads",
        label: "Uploads per session",
        type: "int",
        default: 100,
        help: "Files one control connection may upload; past it 552."
      }),
      field({
        key: "max_total_upload_bytes",
        label: "Upload bytes per decky",
        type: "int",
        default: 1073741824,
        help: "Bytes this decky's ftp keeps in its quarantine, counting what it already held at start."
      }),
      field({
        key: "max_total_uploads",
        label: "Uploads per decky",
        type: "int",
        default: 1000,
        help: "Files this decky's ftp keeps in its quarantine, counting what it already held at start."
      }),
      field({
        key: "min_free_disk_bytes",
        label: "Free disk floor (bytes)",
        type: "int",
        default: 1073741824,
        help:
          "Uploads stop (552) before free space on the artifacts filesystem drops below the larger of " +
          "this and the free disk floor percentage. 0 and 0 turn the check off."
      }),
      field({
        key: "min_free_disk_percent",
        label: "Free disk floor (%)",
        type: "int",
        default: 5,
        help: "Percentage of the artifacts filesystem kept free (see the byte floor)."
      }),
      field({
        key: "max_transfer_seconds",
        label: "Max transfer time (s)",
        type: "int",
        default: 600,
        help: "Longest a single transfer may take (1-86400), however steadily it trickles."
      }),
      field({
        key: "pasv_min_port",
        label: "Passive port range start",
        type: "int",
        placeholder: "40000",
        help:
          "Lowest passive (PASV/EPSV) data port, for a firewall or port mapping in front of the decky. " +
          "Alone: up to 65535. Unset (with the end unset): an ephemeral port."
      }),
      field({
        key: "pasv_max_port",
        label: "Passive port range end",
        type: "int",
        placeholder: "40100",
        help: "Highest passive data port; alone: from 1024. Must not be below the range start."
      })
    ]
  ),
  service("tftp", "TFTP RRQ/WRQ parser that answers with an error", udp(69), ["request", "unknown_opcode"]),
  service(
    "smb",
    "SMB2 Negotiate and Session Setup with NTLMSSP Type 3 hash extraction",
    tcp(445, 139),
    ["connection", "auth_attempt", "error", "disconnect"],
    [
      field({
        key: "domain",
        label: "NetBIOS domain / workgroup",
        default: "WORKGROUP",
        help: "Announced in the NTLM challenge (TargetName and AV pair 2); upper-cased, at most 15 characters."
      }),
      field({
        key: "dns_domain",
        label: "DNS domain",
        placeholder: "e.g. corp.local",
        help: "DNS domain in the NTLM challenge (AV pairs 4/5). Empty: the lower-cased NetBIOS domain."
      }),
      field({
        key: "smb1",
        label: "SMB1 installed",
        type: "bool",
        default: true,
        help:
          "Answer an SMB1 (NT LM 0.12) NEGOTIATE as Windows with the SMB1 feature does (nmap names the Windows " +
          "version). Off: reset it, as a default Windows Server 2019 does."
      })
    ]
  ),
  service(
    "rdp",
    "RDP X.224 Connection Request (mstshash cookie), negotiated as Windows; TLS + CredSSP/NLA NTLMv2 capture",
    tcp(3389),
    [
      "connection",
      "connection_request",
      "rdp_cookie",
      "auth_attempt",
      "tls_handshake_failed",
      "error",
      "disconnect"
    ],
    [
      field({
        key: "nla",
        label: "Enable CredSSP / NLA",
        type: "bool",
        default: false,
        help:
          "Off by default. On, NLA is required as on Windows 10 / Server 2016+: a client not offering " +
          "CredSSP is refused (HYBRID_REQUIRED_BY_SERVER). CredSSP is offered to clients that ask either way."
      }),
      field({
        key: "domain",
        label: "NetBIOS domain",
        default: "WORKGROUP",
        help: "Announced in the NLA (CredSSP) NTLM challenge; upper-cased, at most 15 characters."
      }),
      field({
        key: "tls_cn",
        label: "TLS certificate CN",
        placeholder: "ws01.corp.local",
        help: "Common Name baked into the self-signed cert if no cert/key provided (default: the decky hostname)."
      }),
      field({
        key: "tls_cert",
        label: "TLS certificate (PEM)",
        type: "textarea",
        secret: true,
        help: "PEM text or a file path; with the key, replaces the self-signed certificate."
      }),
      field({
        key: "tls_key",
        label: "TLS private key (PEM)",
        type: "textarea",
        secret: true,
        help: "The private key of tls_cert."
      })
    ]
  ),
  service(
    "vnc",
    "VNC server as TigerVNC 1.12 (RFB 3.8, VNC Authentication challenge/response, blacklist)",
    tcp(5900),
    ["connect", "version", "security_choice", "auth_response", "error", "disconnect"],
    [
      field({
        key: "blacklist_threshold",
        label: "Blacklist threshold",
        type: "int",
        default: 5,
        help: "TigerVNC's BlacklistThreshold: connections from one address before it is turned away."
      }),
      field({
        key: "blacklist_timeout",
        label: "Blacklist timeout (s)",
        type: "int",
        default: 10,
        help: "TigerVNC's BlacklistTimeout: the first block; each later one doubles."
      })
    ]
  ),
  service(
    "smtp",
    "Postfix ESMTP persona harvesting AUTH credentials; with open_relay it accepts and quarantines mail",
    tcp(25, 587),
    SMTP_EVENTS,
    [
      ...mtaFields,
      field({
        key: "open_relay",
        label: "Open relay",
        type: "bool",
        default: false,
        help: "Accept every AUTH and recipient, as smtp_relay does, so spammers hand over a test message."
      })
    ]
  ),
  service(
    "smtp_relay",
    "the smtp persona as an open relay; forwards up to probe_limit mails per IP upstream",
    tcp(25, 587),
    SMTP_EVENTS,
    [
      ...mtaFields,
      field({
        key: "upstream_host",
        label: "Upstream relay host",
        placeholder: "smtp.sendgrid.net",
        help: "Real SMTP relay used to forward probe emails. Leave blank to disable forwarding."
      }),
      field({
        key: "upstream_port",
        label: "Upstream relay port",
        type: "int",
        default: 25,
        help: "Port on the upstream relay (25 or 587)."
      }),
      field({
        key: "upstream_user",
        label: "Upstream relay username",
        help: "AUTH username for the upstream relay (optional)."
      }),
      // The original declares this a plain string; it is a credential, so it is masked here.
      field({
        key: "upstream_pass",
        label: "Upstream relay password",
        type: "password",
        secret: true,
        help: "AUTH password for the upstream relay (optional)."
      }),
      field({
        key: "upstream_sender",
        label: "Upstream envelope sender",
        placeholder: "probe@yourdomain.com",
        help:
          "Envelope MAIL FROM used when talking to the upstream relay. Set it to an address your server may " +
          "send from so SPF passes; the attacker's From: header is untouched."
      }),
      field({
        key: "probe_limit",
        label: "Probe forward limit",
        type: "int",
        default: 1,
        help: "Emails per source IP actually delivered upstream; later ones are only quarantined."
      })
    ]
  ),
  service(
    "imap",
    "IMAP4rev1 server with a bait mailbox",
    tcp(143, 993),
    ["connect", "command", "auth", "disconnect"],
    [
      field({
        key: "banner",
        label: "IMAP greeting",
        placeholder: "* OK Dovecot ready.",
        help: "The whole greeting line; default: Dovecot's, with its CAPABILITY list (what nmap recognises)."
      }),
      ...mailboxFields
    ]
  ),
  service(
    "pop3",
    "POP3 server with a bait mailbox",
    tcp(110, 995),
    ["connect", "command", "auth", "retr", "delete", "disconnect"],
    [
      field({
        key: "banner",
        label: "POP3 greeting",
        default: "+OK Dovecot (Debian) ready.",
        help: "Greeting line; +OK is prepended when missing. The default is Debian's Dovecot 2.3 (nmap: Dovecot pop3d)."
      }),
      ...mailboxFields
    ]
  ),
  service(
    "ldap",
    "LDAP BER BindRequest parser answering invalidCredentials",
    tcp(389, 636),
    ["connect", "bind", "search", "error", "disconnect"],
    [
      field({
        key: "domain",
        label: "AD DNS domain",
        placeholder: "corp.local",
        help:
          "Domain the rootDSE advertises (naming contexts, dnsHostName). Empty = the decky hostname's " +
          "domain part, else corp.local."
      }),
      field({
        key: "tls_cn",
        label: "TLS certificate CN",
        placeholder: "dc01.corp.local",
        help:
          "Common Name of the self-signed certificate for LDAPS (636) and StartTLS (389) if no cert/key " +
          "is provided; default: the decky hostname."
      }),
      field({ key: "tls_cert", label: "TLS certificate (PEM)", type: "textarea", secret: true }),
      field({ key: "tls_key", label: "TLS private key (PEM)", type: "textarea", secret: true })
    ]
  ),
  service("llmnr", "LLMNR and mDNS listener (Responder detector)", udp(5355, 5353), ["query", "raw_packet"]),
  service(
    "mysql",
    "MySQL 8.0 handshake (caching_sha2_password, TLS), password capture, then Access denied",
    tcp(3306),
    ["connect", "auth", "error", "disconnect"],
    [
      field({
        key: "version",
        label: "Advertised MySQL version",
        placeholder: "8.0.36",
        help: "Sets the version banner the fake MySQL handshake reports (default: a seeded MySQL 8.0 release)."
      }),
      field({
        key: "tls_cn",
        label: "TLS certificate CN",
        placeholder: "MySQL_Server_8.0.36_Auto_Generated_Server_Certificate",
        help: "Common Name of the self-signed certificate when no cert/key is given; default: mysqld's auto-generated name."
      }),
      field({ key: "tls_cert", label: "TLS certificate (PEM)", type: "textarea", secret: true }),
      field({ key: "tls_key", label: "TLS private key (PEM)", type: "textarea", secret: true })
    ]
  ),
  service(
    "postgres",
    "PostgreSQL 15 startup, AuthenticationMD5Password, hash capture, then an error",
    tcp(5432),
    ["connect", "startup_message", "auth", "error", "disconnect"],
    [
      field({
        key: "auth_method",
        label: "Password challenge",
        type: "enum",
        enum: ["md5", "cleartext"],
        default: "md5",
        help:
          "md5: AuthenticationMD5Password, the salted hash is logged with its salt (crackable offline). " +
          "cleartext: AuthenticationCleartextPassword, the password itself is captured."
      }),
      field({
        key: "ssl",
        label: "TLS (ssl = on)",
        type: "bool",
        default: false,
        help: "Answer SSLRequest with 'S' and a TLS handshake (Debian's packaged default); off answers 'N'."
      }),
      field({
        key: "tls_cn",
        label: "TLS certificate CN",
        placeholder: "db01.corp.local",
        help: "Common Name of the self-signed certificate when no cert/key is given; default: the decky hostname."
      }),
      field({ key: "tls_cert", label: "TLS certificate (PEM)", type: "textarea", secret: true }),
      field({ key: "tls_key", label: "TLS private key (PEM)", type: "textarea", secret: true })
    ]
  ),
  service("mssql", "Microsoft SQL Server TDS PRELOGIN + LOGIN7, then login failed", tcp(1433), [
    "connect",
    "auth",
    "unknown_packet",
    "error",
    "disconnect"
  ]),
  service(
    "mongodb",
    "MongoDB OP_MSG/OP_QUERY hello/isMaster, listDatabases, SCRAM auth",
    tcp(27017),
    ["connect", "message", "auth_start", "auth", "disconnect"],
    [
      field({
        key: "repl_set",
        label: "Replica set name",
        placeholder: "rs0",
        help: "When set, hello/isMaster report this setName (a replica-set member); empty = a standalone server."
      })
    ]
  ),
  service(
    "redis",
    "Redis RESP server: AUTH, INFO, CONFIG GET, KEYS and the rest",
    tcp(6379),
    ["connect", "command", "auth", "disconnect"],
    [
      field({
        key: "password",
        label: "requirepass",
        type: "password",
        secret: true,
        help: "When set, commands need AUTH first (NOAUTH / WRONGPASS like Redis); unset, AUTH answers that no password is set. Every AUTH is captured either way."
      }),
      field({
        key: "version",
        label: "Advertised Redis version",
        placeholder: "7.2.4",
        help: "Reported by INFO server -> redis_version."
      }),
      field({
        key: "os_string",
        label: "Advertised OS string",
        placeholder: "Linux 5.15.0 x86_64",
        help: "Reported by INFO server -> os."
      }),
      field({
        key: "reply_delay_ms",
        label: "Reply delay (ms)",
        default: "0,0",
        placeholder: "min,max",
        help: "Each reply waits a random delay in this range; 0,0 (the default) answers at once, as Redis does."
      })
    ]
  ),
  service("elasticsearch", "Elasticsearch 7.x HTTP API", tcp(9200), [
    "request",
    "root_probe",
    "cat_api",
    "cluster_recon",
    "nodes_recon",
    "security_probe",
    "head_request",
    "post_request",
    "put_request",
    "delete_request"
  ]),
  service("mqtt", "MQTT broker: CONNECT/CONNACK, publish/subscribe, retained messages", tcp(1883), [
    "connect",
    "auth",
    "packet",
    "publish",
    "subscribe",
    "protocol_error",
    "config_error",
    "disconnect"
  ]),
  service("snmp", "SNMPv1/v2c agent answering GetRequest with plausible values", udp(161), [
    "get_request",
    "parse_error"
  ]),
  service("sip", "SIP REGISTER/INVITE answered with 401", both(5060), ["request"]),
  service("k8s", "fake Kubernetes API server", tcp(6443, 8080), ["request"]),
  service("docker_api", "fake Docker Engine API", tcp(2375, 2376), ["request"]),
  service(
    "dns",
    "BIND 9 persona: authoritative, recursive or open resolver",
    both(53),
    [
      "query",
      "fingerprint_probe",
      "zone_transfer",
      "amp_probe",
      "tunneling_suspect",
      "recon_burst",
      "flood_suspect",
      "malformed_packet",
      "multi_question",
      "empty_question_section",
      "question_parse_error",
      "tracking_evicted"
    ],
    [
      field({
        key: "zone_mode",
        label: "Zone mode",
        type: "enum",
        enum: ["auth", "recursive", "open"],
        default: "auth",
        help:
          "auth: authoritative only; recursive: forwards out-of-zone queries upstream (real_recursive=true) " +
          "or sinkholes them; open: responds to everything (amp bait)"
      }),
      field({
        key: "domain",
        label: "Domain",
        default: "",
        placeholder: "corp.local",
        help: "Authoritative zone name. Leave empty to generate a plausible domain from the decky name."
      }),
      field({
        key: "bind_version",
        label: "BIND version banner",
        default: "9.11.4-P2-RedHat-9.11.4-26.P2.el7_9.10",
        help: "Returned for version.bind CHAOS TXT queries."
      }),
      field({
        key: "nsid",
        label: "NSID",
        default: "",
        help: "EDNS NSID string. Leave empty to derive from decky identity."
      }),
      field({
        key: "extra_records",
        label: "Extra records",
        type: "textarea",
        default: "",
        placeholder: "www A 10.0.0.5\nmail TXT v=spf1 ~all",
        help: "Additional zone records, one per line: <name> <TYPE> <value>"
      }),
      field({
        key: "real_recursive",
        label: "Real recursive forwarding",
        type: "bool",
        default: false,
        help:
          "When zone_mode=recursive, forward out-of-zone queries to an upstream resolver instead of " +
          "returning a sinkhole. Falls back to sinkhole on upstream timeout."
      }),
      field({
        key: "upstream",
        label: "Upstream resolver",
        default: "8.8.8.8:53",
        placeholder: "8.8.8.8:53",
        help: "Upstream DNS resolver used when real_recursive is enabled (host:port)."
      }),
      field({
        key: "forward_budget",
        label: "Forward budget (queries/window)",
        default: "50",
        help: "Maximum upstream forwarding calls allowed within the rate window. Excess queries fall back to sinkhole."
      }),
      field({
        key: "forward_window",
        label: "Forward budget window (seconds)",
        default: "1.0",
        help: "Rolling window in seconds for the forward budget counter."
      }),
      field({
        key: "state_path",
        label: "Tunneling state file path",
        default: "",
        help:
          "File for persisting per-source tunneling timestamps across restarts (must be on a mounted " +
          "volume). Leave empty to keep state in memory only."
      })
    ]
  ),
  service(
    "conpot",
    "industrial control system (Modbus/S7/DNP3/SNMP/HTTP) on upstream Conpot",
    tcp(502, 161, 80),
    ["startup", "request", "warning", "error", "log", "shutdown"]
  ),
  service(
    "sniffer",
    "fleet singleton: passive TLS sniffer (JA3/JA3S/JA4/JA4S/JA4L, resumption, certificates)",
    { tcp: [], udp: [] },
    ["tls_client_hello", "tls_session", "tls_certificate"],
    [],
    true
  )
]

/** `all_service_names()`: the non-singleton slugs, sorted; what a decky may run. */
export const SERVICE_NAMES: ReadonlyArray<ServiceSlug> = SERVICES.filter((s) => !s.fleet_singleton)
  .map((s) => s.slug)
  .sort()

/** Services that run once per fleet (never inside a decky). */
export const FLEET_SINGLETONS: ReadonlyArray<ServiceSlug> = SERVICES.filter((s) => s.fleet_singleton).map(
  (s) => s.slug
)

/** Every registered slug, sorted (what `decnet services` lists and errors name). */
export const ALL_SERVICE_SLUGS: ReadonlyArray<ServiceSlug> = [...SERVICE_SLUGS].sort()
