// The 15 archetypes (spec/fleet.md §4), in the spec's table order. Descriptions are the original's.
import type { Archetype } from "./Archetype.js"

export const ARCHETYPES: ReadonlyArray<Archetype> = [
  {
    slug: "windows-workstation",
    display_name: "Windows Workstation",
    description: "Corporate Windows desktop: SMB shares + RDP access",
    services: ["smb", "rdp"],
    preferred_distros: ["debian", "ubuntu22"],
    nmap_os: "windows"
  },
  {
    slug: "windows-server",
    display_name: "Windows Server",
    description: "Windows domain member: SMB, RDP, and LDAP directory",
    services: ["smb", "rdp", "ldap"],
    preferred_distros: ["debian", "ubuntu22"],
    nmap_os: "windows_server"
  },
  {
    slug: "domain-controller",
    display_name: "Domain Controller",
    description: "Active Directory DC: LDAP, SMB, RDP, LLMNR",
    services: ["ldap", "smb", "rdp", "llmnr"],
    preferred_distros: ["debian", "ubuntu22"],
    nmap_os: "windows_server"
  },
  {
    slug: "linux-server",
    display_name: "Linux Server",
    description: "General-purpose Linux host: SSH + HTTP",
    services: ["ssh", "http"],
    preferred_distros: ["debian", "ubuntu22", "rocky9", "fedora"],
    nmap_os: "linux"
  },
  {
    slug: "web-server",
    display_name: "Web Server",
    description: "Public-facing web host: HTTP + FTP",
    services: ["http", "ftp"],
    preferred_distros: ["debian", "ubuntu22", "ubuntu20"],
    nmap_os: "linux"
  },
  {
    slug: "database-server",
    display_name: "Database Server",
    description: "Data tier host: MySQL, PostgreSQL, Redis",
    services: ["mysql", "postgres", "redis"],
    preferred_distros: ["debian", "ubuntu22"],
    nmap_os: "linux"
  },
  {
    slug: "mail-server",
    display_name: "Mail Server",
    description: "SMTP/IMAP/POP3 mail relay",
    services: ["smtp", "pop3", "imap"],
    preferred_distros: ["debian", "ubuntu22"],
    nmap_os: "linux"
  },
  {
    slug: "file-server",
    display_name: "File Server",
    description: "SMB/FTP/SFTP file storage node",
    services: ["smb", "ftp", "ssh"],
    preferred_distros: ["debian", "ubuntu22", "rocky9"],
    nmap_os: "linux"
  },
  {
    slug: "printer",
    display_name: "Network Printer",
    description: "Network-attached printer: SNMP + FTP",
    services: ["snmp", "ftp"],
    preferred_distros: ["alpine", "debian"],
    nmap_os: "embedded"
  },
  {
    slug: "iot-device",
    display_name: "IoT Device",
    description: "Embedded/IoT device: MQTT, SNMP, Telnet",
    services: ["mqtt", "snmp", "telnet"],
    preferred_distros: ["alpine"],
    nmap_os: "embedded"
  },
  {
    slug: "industrial-control",
    display_name: "Industrial Control System",
    description: "ICS/SCADA node: Conpot (Modbus/S7/DNP3) + SNMP",
    services: ["conpot", "snmp"],
    preferred_distros: ["debian"],
    nmap_os: "embedded"
  },
  {
    slug: "voip-server",
    display_name: "VoIP Server",
    description: "SIP PBX / VoIP gateway",
    services: ["sip"],
    preferred_distros: ["debian", "ubuntu22"],
    nmap_os: "linux"
  },
  {
    slug: "monitoring-node",
    display_name: "Monitoring Node",
    description: "Infrastructure monitoring host: SNMP + SSH",
    services: ["snmp", "ssh"],
    preferred_distros: ["debian", "rocky9"],
    nmap_os: "linux"
  },
  {
    slug: "devops-host",
    display_name: "DevOps Host",
    description: "CI/CD or container host: Docker API + SSH + K8s",
    services: ["docker_api", "ssh", "k8s"],
    preferred_distros: ["ubuntu22", "debian"],
    nmap_os: "linux"
  },
  {
    slug: "deaddeck",
    display_name: "Deaddeck (Entry Point)",
    description: "Internet-facing entry point with interactive SSH",
    services: ["ssh"],
    preferred_distros: ["debian", "ubuntu22"],
    nmap_os: "linux"
  }
]
