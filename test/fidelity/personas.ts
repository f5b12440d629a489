// What nmap -sV must show for each emulator with its default configuration, on its default ports
// (issue 14: "nmap -sV names every emulator as the software its persona claims"): nmap's service name and
// what its VERSION column shows. Used by the nmap test and the fidelity report (npm run fidelity).
export interface NmapExpectation {
  readonly port: number
  /** nmap's service name; "ssl/…" where nmap tunnels TLS. */
  readonly service: string
  /** What the VERSION column must show (product, version, extra info). */
  readonly shown: RegExp
}

export const PERSONAS: ReadonlyArray<{
  readonly slug: string
  readonly expect: ReadonlyArray<NmapExpectation>
}> = [
  { slug: "ftp", expect: [{ port: 21, service: "ftp", shown: /^(vsftpd 3\.0\.\d|ProFTPD|Pure-FTPd)/ }] },
  {
    slug: "ssh",
    expect: [{ port: 22, service: "ssh", shown: /^OpenSSH \d+\.\d+p\d .*\(.*protocol 2\.0\)$/ }]
  },
  { slug: "telnet", expect: [{ port: 23, service: "telnet", shown: /telnetd/ }] },
  {
    slug: "smtp",
    expect: [
      { port: 25, service: "smtp", shown: /^Postfix smtpd/ },
      { port: 587, service: "smtp", shown: /^Postfix smtpd/ }
    ]
  },
  { slug: "http", expect: [{ port: 80, service: "http", shown: /^Apache httpd 2\.4\.\d+/ }] },
  {
    slug: "pop3",
    expect: [
      { port: 110, service: "pop3", shown: /^Dovecot pop3d/ },
      { port: 995, service: "ssl/pop3", shown: /^Dovecot pop3d/ }
    ]
  },
  {
    slug: "smb",
    // The catalog's order (445, then 139): `--port` values map to the service's ports in that order.
    expect: [
      { port: 445, service: "microsoft-ds", shown: /^Microsoft Windows .*microsoft-ds/ },
      { port: 139, service: "netbios-ssn", shown: /^Microsoft Windows netbios-ssn/ }
    ]
  },
  {
    slug: "imap",
    expect: [
      { port: 143, service: "imap", shown: /^Dovecot imapd/ },
      { port: 993, service: "ssl/imap", shown: /^Dovecot imapd/ }
    ]
  },
  {
    slug: "ldap",
    expect: [
      { port: 389, service: "ldap", shown: /^Microsoft Windows Active Directory LDAP/ },
      { port: 636, service: "ssl/ldap", shown: /^Microsoft Windows Active Directory LDAP/ }
    ]
  },
  { slug: "https", expect: [{ port: 443, service: "ssl/http", shown: /^Apache httpd 2\.4\.\d+/ }] },
  { slug: "mssql", expect: [{ port: 1433, service: "ms-sql-s", shown: /^Microsoft SQL Server/ }] },
  { slug: "mysql", expect: [{ port: 3306, service: "mysql", shown: /^MySQL 8\.0\.\d+/ }] },
  { slug: "rdp", expect: [{ port: 3389, service: "ms-wbt-server", shown: /^Microsoft Terminal Services/ }] },
  { slug: "postgres", expect: [{ port: 5432, service: "postgresql", shown: /^PostgreSQL DB/ }] },
  { slug: "vnc", expect: [{ port: 5900, service: "vnc", shown: /^VNC \(protocol 3\.8\)$/ }] },
  { slug: "redis", expect: [{ port: 6379, service: "redis", shown: /^Redis key-value store/ }] },
  { slug: "mongodb", expect: [{ port: 27017, service: "mongodb", shown: /^MongoDB/ }] }
]
