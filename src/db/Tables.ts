// The 39 tables of the DECNET schema (spec logging-and-config §5.5), as data: one definition
// renders the DDL for both SQLite and MySQL/MariaDB. Ordered so that every FK target comes first.
// Generated once from the spec tables; edit by hand from now on.
import type { TableDef } from "./TableDef.js"

export const tables: ReadonlyArray<TableDef> = [
  {
    name: "campaigns",
    columns: [
      { name: "uuid", type: "str", nullable: false, pk: true },
      { name: "schema_version", type: "int", nullable: false, default: { kind: "literal", value: 1 } },
      { name: "first_seen_at", type: "datetime", nullable: true },
      { name: "last_seen_at", type: "datetime", nullable: true },
      { name: "created_at", type: "datetime", nullable: false, default: { kind: "now" } },
      { name: "updated_at", type: "datetime", nullable: false, default: { kind: "now" } },
      { name: "confidence", type: "float", nullable: true },
      { name: "identity_count", type: "int", nullable: false, default: { kind: "literal", value: 0 } },
      { name: "ja3_hashes", type: "text", nullable: true },
      { name: "hassh_hashes", type: "text", nullable: true },
      { name: "tls_cert_sha256", type: "text", nullable: true },
      { name: "payload_simhashes", type: "text", nullable: true },
      { name: "c2_endpoints", type: "text", nullable: true },
      { name: "merged_into_uuid", type: "str", nullable: true, fk: "campaigns.uuid" },
      { name: "notes", type: "text", nullable: true }
    ],
    indexed: ["created_at", "first_seen_at", "last_seen_at", "merged_into_uuid", "updated_at"],
    indexes: [],
    uniques: []
  },
  {
    name: "attacker_identities",
    columns: [
      { name: "uuid", type: "str", nullable: false, pk: true },
      { name: "schema_version", type: "int", nullable: false, default: { kind: "literal", value: 1 } },
      { name: "campaign_id", type: "str", nullable: true, fk: "campaigns.uuid" },
      { name: "first_seen_at", type: "datetime", nullable: true },
      { name: "last_seen_at", type: "datetime", nullable: true },
      { name: "created_at", type: "datetime", nullable: false, default: { kind: "now" } },
      { name: "updated_at", type: "datetime", nullable: false, default: { kind: "now" } },
      { name: "confidence", type: "float", nullable: true },
      { name: "observation_count", type: "int", nullable: false, default: { kind: "literal", value: 0 } },
      { name: "ja3_hashes", type: "text", nullable: true },
      { name: "hassh_hashes", type: "text", nullable: true },
      { name: "ja4h_hashes", type: "text", nullable: true },
      { name: "ja4_quic_hashes", type: "text", nullable: true },
      { name: "http_versions_seen", type: "text", nullable: true },
      { name: "tls_cert_sha256", type: "text", nullable: true },
      { name: "ipv6_link_local_iids", type: "text", nullable: true },
      { name: "payload_simhashes", type: "text", nullable: true },
      { name: "c2_endpoints", type: "text", nullable: true },
      { name: "kd_digraph_simhash", type: "bytes8", nullable: true },
      { name: "merged_into_uuid", type: "str", nullable: true, fk: "attacker_identities.uuid" },
      { name: "notes", type: "text", nullable: true }
    ],
    indexed: [
      "campaign_id",
      "created_at",
      "first_seen_at",
      "kd_digraph_simhash",
      "last_seen_at",
      "merged_into_uuid",
      "updated_at"
    ],
    indexes: [],
    uniques: []
  },
  {
    name: "attackers",
    columns: [
      { name: "uuid", type: "str", nullable: false, pk: true },
      { name: "ip", type: "str", nullable: false },
      { name: "identity_id", type: "str", nullable: true, fk: "attacker_identities.uuid" },
      { name: "first_seen", type: "datetime", nullable: false },
      { name: "last_seen", type: "datetime", nullable: false },
      { name: "event_count", type: "int", nullable: false, default: { kind: "literal", value: 0 } },
      { name: "service_count", type: "int", nullable: false, default: { kind: "literal", value: 0 } },
      { name: "decky_count", type: "int", nullable: false, default: { kind: "literal", value: 0 } },
      { name: "services", type: "mediumtext", nullable: false, default: { kind: "literal", value: "[]" } },
      { name: "deckies", type: "mediumtext", nullable: false, default: { kind: "literal", value: "[]" } },
      { name: "traversal_path", type: "text", nullable: true },
      { name: "is_traversal", type: "bool", nullable: false, default: { kind: "literal", value: false } },
      { name: "bounty_count", type: "int", nullable: false, default: { kind: "literal", value: 0 } },
      { name: "credential_count", type: "int", nullable: false, default: { kind: "literal", value: 0 } },
      {
        name: "fingerprints",
        type: "mediumtext",
        nullable: false,
        default: { kind: "literal", value: "[]" }
      },
      { name: "commands", type: "mediumtext", nullable: false, default: { kind: "literal", value: "[]" } },
      { name: "country_code", type: "str(2)", nullable: true },
      { name: "country_source", type: "str(16)", nullable: true },
      { name: "asn", type: "int", nullable: true },
      { name: "as_name", type: "str(128)", nullable: true },
      { name: "bgp_prefix", type: "str(43)", nullable: true },
      { name: "asn_source", type: "str(16)", nullable: true },
      { name: "rpki_status", type: "str(16)", nullable: true },
      { name: "rpki_source", type: "str(16)", nullable: true },
      { name: "ptr_record", type: "str(256)", nullable: true },
      { name: "rotation_count", type: "int", nullable: false, default: { kind: "literal", value: 0 } },
      { name: "last_rotation_at", type: "datetime", nullable: true },
      { name: "ipv6_leak_count", type: "int", nullable: false, default: { kind: "literal", value: 0 } },
      { name: "last_ipv6_leak_at", type: "datetime", nullable: true },
      { name: "last_ipv6_link_local", type: "str(45)", nullable: true },
      { name: "last_ipv6_iid_kind", type: "str(16)", nullable: true },
      { name: "last_ipv6_mac_oui", type: "str(8)", nullable: true },
      { name: "updated_at", type: "datetime", nullable: false, default: { kind: "now" } }
    ],
    indexed: [
      "asn",
      "bgp_prefix",
      "country_code",
      "first_seen",
      "identity_id",
      "ip",
      "last_ipv6_leak_at",
      "last_rotation_at",
      "last_seen",
      "updated_at"
    ],
    indexes: [],
    uniques: []
  },
  {
    name: "attacker_behavior",
    columns: [
      { name: "attacker_uuid", type: "str", nullable: false, pk: true, fk: "attackers.uuid" },
      { name: "os_guess", type: "str", nullable: true },
      { name: "hop_distance", type: "int", nullable: true },
      { name: "tcp_fingerprint", type: "text", nullable: false, default: { kind: "literal", value: "{}" } },
      { name: "kex_order_raw", type: "text", nullable: true },
      { name: "ssh_client_banners", type: "text", nullable: true },
      { name: "retransmit_count", type: "int", nullable: false, default: { kind: "literal", value: 0 } },
      { name: "behavior_class", type: "str", nullable: true },
      { name: "beacon_interval_s", type: "float", nullable: true },
      { name: "beacon_jitter_pct", type: "float", nullable: true },
      { name: "tool_guesses", type: "str", nullable: true },
      { name: "timing_stats", type: "text", nullable: false, default: { kind: "literal", value: "{}" } },
      { name: "phase_sequence", type: "text", nullable: false, default: { kind: "literal", value: "{}" } },
      { name: "updated_at", type: "datetime", nullable: false, default: { kind: "now" } }
    ],
    indexed: ["updated_at"],
    indexes: [],
    uniques: []
  },
  {
    name: "attacker_fingerprint_state",
    columns: [
      { name: "uuid", type: "str", nullable: false, pk: true },
      { name: "attacker_uuid", type: "str", nullable: false, fk: "attackers.uuid" },
      { name: "port", type: "int", nullable: false },
      { name: "probe_type", type: "str(16)", nullable: false },
      { name: "last_hash", type: "str(128)", nullable: false },
      { name: "last_seen", type: "datetime", nullable: false },
      { name: "rotation_count", type: "int", nullable: false, default: { kind: "literal", value: 0 } }
    ],
    indexed: ["attacker_uuid", "last_seen"],
    indexes: [],
    uniques: [
      { name: "uq_attacker_fingerprint_state_natural", columns: ["attacker_uuid", "port", "probe_type"] }
    ]
  },
  {
    name: "attacker_intel",
    columns: [
      { name: "uuid", type: "str", nullable: false, pk: true },
      { name: "attacker_uuid", type: "str", nullable: false, fk: "attackers.uuid" },
      { name: "attacker_ip", type: "str", nullable: false },
      { name: "schema_version", type: "int", nullable: false, default: { kind: "literal", value: 1 } },
      { name: "greynoise_classification", type: "str(32)", nullable: true },
      { name: "greynoise_name", type: "str(128)", nullable: true },
      { name: "greynoise_tags", type: "json", nullable: false },
      { name: "greynoise_raw", type: "json", nullable: false },
      { name: "greynoise_queried_at", type: "datetime", nullable: true },
      { name: "abuseipdb_score", type: "int", nullable: true },
      { name: "abuseipdb_categories", type: "json", nullable: false },
      { name: "abuseipdb_raw", type: "json", nullable: false },
      { name: "abuseipdb_queried_at", type: "datetime", nullable: true },
      { name: "feodo_listed", type: "bool", nullable: true },
      { name: "feodo_malware_family", type: "str(64)", nullable: true },
      { name: "feodo_raw", type: "json", nullable: false },
      { name: "feodo_queried_at", type: "datetime", nullable: true },
      { name: "threatfox_listed", type: "bool", nullable: true },
      { name: "threatfox_threat_types", type: "json", nullable: false },
      { name: "threatfox_ioc_types", type: "json", nullable: false },
      { name: "threatfox_malware_families", type: "json", nullable: false },
      { name: "threatfox_raw", type: "json", nullable: false },
      { name: "threatfox_queried_at", type: "datetime", nullable: true },
      { name: "aggregate_verdict", type: "str(32)", nullable: true },
      { name: "cached_at", type: "datetime", nullable: false, default: { kind: "now" } },
      { name: "expires_at", type: "datetime", nullable: false }
    ],
    indexed: ["aggregate_verdict", "attacker_ip", "cached_at", "expires_at"],
    indexes: [{ name: "ix_attacker_intel_attacker_uuid", columns: ["attacker_uuid"], unique: true }],
    uniques: []
  },
  {
    name: "attribution_state",
    columns: [
      { name: "identity_uuid", type: "str", nullable: false, pk: true, fk: "attacker_identities.uuid" },
      { name: "primitive", type: "str", nullable: false, pk: true },
      { name: "current_value", type: "json", nullable: false },
      { name: "state", type: "str", nullable: false },
      { name: "confidence", type: "float", nullable: false },
      { name: "observation_count", type: "int", nullable: false, default: { kind: "literal", value: 0 } },
      { name: "last_change_ts", type: "float", nullable: false },
      { name: "last_observation_ts", type: "float", nullable: false },
      { name: "schema_version", type: "int", nullable: false, default: { kind: "literal", value: 1 } },
      { name: "updated_at", type: "datetime", nullable: false, default: { kind: "now" } }
    ],
    indexed: ["state"],
    indexes: [
      { name: "ix_attribution_state_identity_state", columns: ["identity_uuid", "state"], unique: false },
      { name: "ix_attribution_state_last_change", columns: ["last_change_ts"], unique: false }
    ],
    uniques: []
  },
  {
    name: "bounty",
    columns: [
      { name: "id", type: "int", nullable: false, pk: true },
      { name: "timestamp", type: "datetime", nullable: false, default: { kind: "now" } },
      { name: "decky", type: "str", nullable: false },
      { name: "service", type: "str", nullable: false },
      { name: "attacker_ip", type: "str", nullable: false },
      { name: "bounty_type", type: "str", nullable: false },
      { name: "payload", type: "text", nullable: false }
    ],
    indexed: ["attacker_ip", "bounty_type", "decky", "service", "timestamp"],
    indexes: [],
    uniques: []
  },
  {
    name: "canary_blobs",
    columns: [
      { name: "uuid", type: "str", nullable: false, pk: true, default: { kind: "uuid" } },
      { name: "sha256", type: "str", nullable: false },
      { name: "filename", type: "str", nullable: false },
      { name: "content_type", type: "str", nullable: false },
      { name: "size_bytes", type: "int", nullable: false },
      { name: "uploaded_by", type: "str", nullable: false },
      { name: "uploaded_at", type: "datetime", nullable: false, default: { kind: "now" } }
    ],
    indexed: ["uploaded_by"],
    indexes: [{ name: "ix_canary_blobs_sha256", columns: ["sha256"], unique: true }],
    uniques: []
  },
  {
    name: "canary_tokens",
    columns: [
      { name: "uuid", type: "str", nullable: false, pk: true, default: { kind: "uuid" } },
      { name: "kind", type: "str", nullable: false },
      { name: "decky_name", type: "str", nullable: false },
      { name: "topology_id", type: "str", nullable: true },
      { name: "blob_uuid", type: "str", nullable: true, fk: "canary_blobs.uuid" },
      { name: "instrumenter", type: "str", nullable: true },
      { name: "generator", type: "str", nullable: true },
      { name: "placement_path", type: "str", nullable: false },
      { name: "callback_token", type: "str", nullable: false },
      { name: "secret_seed", type: "str", nullable: false },
      { name: "placed_at", type: "datetime", nullable: false, default: { kind: "now" } },
      { name: "last_triggered_at", type: "datetime", nullable: true },
      { name: "trigger_count", type: "int", nullable: false, default: { kind: "literal", value: 0 } },
      { name: "created_by", type: "str", nullable: false },
      { name: "state", type: "str", nullable: false, default: { kind: "literal", value: "planted" } },
      { name: "last_error", type: "text", nullable: true },
      { name: "fingerprint_nonce", type: "str(16)", nullable: true }
    ],
    indexed: ["blob_uuid", "created_by", "decky_name", "kind", "last_triggered_at", "state", "topology_id"],
    indexes: [
      { name: "ix_canary_tokens_callback_token", columns: ["callback_token"], unique: true },
      { name: "ix_canary_tokens_decky", columns: ["decky_name", "state"], unique: false }
    ],
    uniques: []
  },
  {
    name: "canary_triggers",
    columns: [
      { name: "uuid", type: "str", nullable: false, pk: true, default: { kind: "uuid" } },
      { name: "token_uuid", type: "str", nullable: false, fk: "canary_tokens.uuid" },
      { name: "occurred_at", type: "datetime", nullable: false, default: { kind: "now" } },
      { name: "src_ip", type: "str", nullable: false },
      { name: "user_agent", type: "str", nullable: true },
      { name: "request_path", type: "str", nullable: true },
      { name: "dns_qname", type: "str", nullable: true },
      { name: "raw_headers", type: "mediumtext", nullable: false, default: { kind: "literal", value: "{}" } },
      { name: "attacker_id", type: "str", nullable: true }
    ],
    indexed: ["attacker_id", "src_ip", "token_uuid"],
    indexes: [
      { name: "ix_canary_triggers_attacker", columns: ["attacker_id"], unique: false },
      { name: "ix_canary_triggers_token_ts", columns: ["token_uuid", "occurred_at"], unique: false }
    ],
    uniques: []
  },
  {
    name: "credential_reuse",
    columns: [
      { name: "id", type: "str(36)", nullable: false, pk: true },
      { name: "secret_sha256", type: "str(64)", nullable: false },
      { name: "secret_kind", type: "str(32)", nullable: false },
      { name: "principal", type: "str(256)", nullable: true },
      { name: "principal_key", type: "str(256)", nullable: false, default: { kind: "literal", value: "" } },
      {
        name: "attacker_uuids",
        type: "mediumtext",
        nullable: false,
        default: { kind: "literal", value: "[]" }
      },
      {
        name: "attacker_ips",
        type: "mediumtext",
        nullable: false,
        default: { kind: "literal", value: "[]" }
      },
      { name: "deckies", type: "mediumtext", nullable: false, default: { kind: "literal", value: "[]" } },
      { name: "services", type: "mediumtext", nullable: false, default: { kind: "literal", value: "[]" } },
      { name: "target_count", type: "int", nullable: false, default: { kind: "literal", value: 0 } },
      { name: "attempt_count", type: "int", nullable: false, default: { kind: "literal", value: 0 } },
      { name: "confidence", type: "float", nullable: false, default: { kind: "literal", value: 1 } },
      { name: "first_seen", type: "datetime", nullable: false, default: { kind: "now" } },
      { name: "last_seen", type: "datetime", nullable: false, default: { kind: "now" } },
      { name: "updated_at", type: "datetime", nullable: false, default: { kind: "now" } }
    ],
    indexed: ["first_seen", "last_seen", "secret_kind", "secret_sha256", "target_count", "updated_at"],
    indexes: [],
    uniques: [
      {
        name: "uq_credential_reuse_secret_principal",
        columns: ["secret_sha256", "secret_kind", "principal_key"]
      }
    ]
  },
  {
    name: "credentials",
    columns: [
      { name: "id", type: "int", nullable: false, pk: true },
      { name: "attacker_ip", type: "str", nullable: false },
      { name: "attacker_uuid", type: "str", nullable: true, fk: "attackers.uuid" },
      { name: "decky_name", type: "str", nullable: false },
      { name: "service", type: "str", nullable: false },
      { name: "principal", type: "str(256)", nullable: true },
      { name: "principal_key", type: "str(256)", nullable: false, default: { kind: "literal", value: "" } },
      {
        name: "secret_kind",
        type: "str(32)",
        nullable: false,
        default: { kind: "literal", value: "plaintext" }
      },
      { name: "secret_sha256", type: "str(64)", nullable: false },
      { name: "secret_b64", type: "str(2048)", nullable: true },
      { name: "secret_printable", type: "str(512)", nullable: true },
      { name: "outcome", type: "str(16)", nullable: true },
      { name: "fields", type: "mediumtext", nullable: false, default: { kind: "literal", value: "{}" } },
      { name: "first_seen", type: "datetime", nullable: false, default: { kind: "now" } },
      { name: "last_seen", type: "datetime", nullable: false, default: { kind: "now" } },
      { name: "attempt_count", type: "int", nullable: false, default: { kind: "literal", value: 1 } }
    ],
    indexed: [
      "attacker_ip",
      "attacker_uuid",
      "decky_name",
      "first_seen",
      "last_seen",
      "principal",
      "secret_kind",
      "secret_sha256",
      "service"
    ],
    indexes: [
      { name: "ix_credentials_principal_service", columns: ["principal", "service"], unique: false },
      { name: "ix_credentials_secret_service", columns: ["secret_sha256", "service"], unique: false }
    ],
    uniques: [
      {
        name: "uq_credentials_dedup",
        columns: ["attacker_ip", "decky_name", "service", "secret_kind", "secret_sha256", "principal_key"]
      }
    ]
  },
  {
    name: "decky_lifecycle",
    columns: [
      { name: "id", type: "str", nullable: false, pk: true, default: { kind: "uuid" } },
      { name: "decky_name", type: "str", nullable: false },
      { name: "host_uuid", type: "str", nullable: true },
      { name: "operation", type: "str", nullable: false },
      { name: "status", type: "str", nullable: false, default: { kind: "literal", value: "pending" } },
      { name: "error", type: "text", nullable: true },
      { name: "started_at", type: "datetime", nullable: false, default: { kind: "now" } },
      { name: "updated_at", type: "datetime", nullable: false, default: { kind: "now" } },
      { name: "completed_at", type: "datetime", nullable: true }
    ],
    indexed: ["decky_name", "host_uuid", "operation", "status"],
    indexes: [],
    uniques: []
  },
  {
    name: "swarm_hosts",
    columns: [
      { name: "uuid", type: "str", nullable: false, pk: true },
      { name: "name", type: "str", nullable: false },
      { name: "address", type: "str", nullable: false },
      { name: "agent_port", type: "int", nullable: false, default: { kind: "literal", value: 8765 } },
      { name: "status", type: "str", nullable: false, default: { kind: "literal", value: "enrolled" } },
      { name: "last_heartbeat", type: "datetime", nullable: true },
      { name: "client_cert_fingerprint", type: "str", nullable: false },
      { name: "updater_cert_fingerprint", type: "str", nullable: true },
      { name: "cert_bundle_path", type: "str", nullable: false },
      { name: "enrolled_at", type: "datetime", nullable: false, default: { kind: "now" } },
      { name: "notes", type: "text", nullable: true },
      { name: "use_ipvlan", type: "bool", nullable: false, default: { kind: "literal", value: false } }
    ],
    indexed: ["status"],
    indexes: [{ name: "ix_swarm_hosts_name", columns: ["name"], unique: true }],
    uniques: []
  },
  {
    name: "decky_shards",
    columns: [
      { name: "decky_name", type: "str", nullable: false, pk: true },
      { name: "host_uuid", type: "str", nullable: false, fk: "swarm_hosts.uuid" },
      { name: "services", type: "mediumtext", nullable: false, default: { kind: "literal", value: "[]" } },
      { name: "decky_config", type: "mediumtext", nullable: true },
      { name: "decky_ip", type: "str", nullable: true },
      { name: "state", type: "str", nullable: false, default: { kind: "literal", value: "pending" } },
      { name: "last_error", type: "text", nullable: true },
      { name: "compose_hash", type: "str", nullable: true },
      { name: "last_seen", type: "datetime", nullable: true },
      { name: "updated_at", type: "datetime", nullable: false, default: { kind: "now" } }
    ],
    indexed: ["host_uuid", "state"],
    indexes: [],
    uniques: []
  },
  {
    name: "fleet_deckies",
    columns: [
      {
        name: "host_uuid",
        type: "str",
        nullable: false,
        pk: true,
        default: { kind: "literal", value: "local" }
      },
      { name: "name", type: "str", nullable: false, pk: true },
      { name: "services", type: "mediumtext", nullable: false, default: { kind: "literal", value: "[]" } },
      { name: "decky_config", type: "mediumtext", nullable: true },
      { name: "decky_ip", type: "str", nullable: true },
      { name: "state", type: "str", nullable: false, default: { kind: "literal", value: "pending" } },
      { name: "last_error", type: "text", nullable: true },
      { name: "compose_hash", type: "str", nullable: true },
      { name: "last_seen", type: "datetime", nullable: true },
      { name: "updated_at", type: "datetime", nullable: false, default: { kind: "now" } }
    ],
    indexed: ["host_uuid", "state"],
    indexes: [],
    uniques: []
  },
  {
    name: "topologies",
    columns: [
      { name: "id", type: "str", nullable: false, pk: true, default: { kind: "uuid" } },
      { name: "name", type: "str", nullable: false },
      { name: "mode", type: "str(16)", nullable: false, default: { kind: "literal", value: "unihost" } },
      { name: "target_host_uuid", type: "str", nullable: true, fk: "swarm_hosts.uuid" },
      {
        name: "config_snapshot",
        type: "mediumtext",
        nullable: false,
        default: { kind: "literal", value: "{}" }
      },
      { name: "status", type: "str(32)", nullable: false, default: { kind: "literal", value: "pending" } },
      { name: "status_changed_at", type: "datetime", nullable: false, default: { kind: "now" } },
      { name: "created_at", type: "datetime", nullable: false, default: { kind: "now" } },
      { name: "version", type: "int", nullable: false, default: { kind: "literal", value: 1 } },
      { name: "needs_resync", type: "bool", nullable: false, default: { kind: "literal", value: false } },
      {
        name: "email_personas",
        type: "mediumtext",
        nullable: false,
        default: { kind: "literal", value: "[]" }
      },
      { name: "language_default", type: "str(8)", nullable: false, default: { kind: "literal", value: "en" } }
    ],
    indexed: ["created_at", "status", "target_host_uuid"],
    indexes: [{ name: "ix_topologies_name", columns: ["name"], unique: true }],
    uniques: []
  },
  {
    name: "lans",
    columns: [
      { name: "id", type: "str", nullable: false, pk: true, default: { kind: "uuid" } },
      { name: "topology_id", type: "str", nullable: false, fk: "topologies.id" },
      { name: "name", type: "str", nullable: false },
      { name: "docker_network_id", type: "str", nullable: true },
      { name: "subnet", type: "str", nullable: false },
      { name: "is_dmz", type: "bool", nullable: false, default: { kind: "literal", value: false } },
      { name: "x", type: "float", nullable: true },
      { name: "y", type: "float", nullable: true }
    ],
    indexed: ["topology_id"],
    indexes: [],
    uniques: [{ name: "uq_lan_topology_name", columns: ["topology_id", "name"] }]
  },
  {
    name: "logs",
    columns: [
      { name: "id", type: "int", nullable: false, pk: true },
      { name: "timestamp", type: "datetime", nullable: false, default: { kind: "now" } },
      { name: "decky", type: "str", nullable: false },
      { name: "service", type: "str", nullable: false },
      { name: "event_type", type: "str", nullable: false },
      { name: "attacker_ip", type: "str", nullable: false },
      { name: "raw_line", type: "text", nullable: false },
      { name: "fields", type: "text", nullable: false },
      { name: "msg", type: "text", nullable: true },
      { name: "trace_id", type: "str", nullable: true },
      { name: "span_id", type: "str", nullable: true },
      // Ours, not the spec's (migration 0002): the rest of the HoneypotEvent, so a row is a whole event.
      { name: "attacker_port", type: "int", nullable: true },
      { name: "severity", type: "int", nullable: false, default: { kind: "literal", value: 6 } }
    ],
    indexed: ["attacker_ip", "decky", "event_type", "service", "timestamp"],
    indexes: [],
    uniques: []
  },
  {
    name: "observations",
    columns: [
      { name: "id", type: "str", nullable: false, pk: true },
      { name: "identity_ref", type: "str", nullable: true },
      { name: "primitive", type: "str", nullable: false },
      { name: "value", type: "json", nullable: false },
      { name: "confidence", type: "float", nullable: false },
      { name: "window_start_ts", type: "float", nullable: false },
      { name: "window_end_ts", type: "float", nullable: false },
      { name: "source", type: "str", nullable: false },
      { name: "evidence_ref", type: "str", nullable: false },
      { name: "envelope_v", type: "int", nullable: false },
      { name: "ts", type: "float", nullable: false },
      { name: "attacker_uuid", type: "str", nullable: false, fk: "attackers.uuid" }
    ],
    indexed: ["attacker_uuid", "primitive", "ts"],
    indexes: [
      {
        name: "ix_observations_attacker_primitive_ts",
        columns: ["attacker_uuid", "primitive", "ts"],
        unique: false
      },
      { name: "ix_observations_primitive_ts", columns: ["primitive", "ts"], unique: false }
    ],
    uniques: [{ name: "uq_observations_evidence_primitive", columns: ["evidence_ref", "primitive"] }]
  },
  {
    name: "observed_attachments",
    columns: [
      { name: "uuid", type: "str", nullable: false, pk: true, default: { kind: "uuid" } },
      { name: "sha256", type: "str(64)", nullable: false },
      { name: "first_seen", type: "datetime", nullable: false, default: { kind: "now" } },
      { name: "last_seen", type: "datetime", nullable: false, default: { kind: "now" } },
      { name: "observation_count", type: "int", nullable: false, default: { kind: "literal", value: 1 } },
      { name: "first_seen_decky_uuid", type: "str", nullable: true },
      { name: "first_seen_attacker_uuid", type: "str", nullable: true },
      { name: "last_seen_attacker_uuid", type: "str", nullable: true },
      { name: "extensions", type: "json", nullable: false, default: { kind: "literal", value: "[]" } },
      { name: "first_subject", type: "str", nullable: true },
      { name: "mal_hash_match", type: "bool", nullable: true },
      { name: "mal_hash_match_provider", type: "str(64)", nullable: true },
      { name: "mal_hash_match_at", type: "datetime", nullable: true }
    ],
    indexed: [
      "first_seen",
      "first_seen_attacker_uuid",
      "first_seen_decky_uuid",
      "last_seen",
      "last_seen_attacker_uuid",
      "mal_hash_match"
    ],
    indexes: [{ name: "ix_observed_attachments_sha256", columns: ["sha256"], unique: true }],
    uniques: []
  },
  {
    name: "orchestrator_emails",
    columns: [
      { name: "uuid", type: "str", nullable: false, pk: true, default: { kind: "uuid" } },
      { name: "ts", type: "datetime", nullable: false, default: { kind: "now" } },
      { name: "mail_decky_uuid", type: "str", nullable: false },
      { name: "thread_id", type: "str", nullable: false },
      { name: "message_id", type: "str(255)", nullable: false },
      { name: "in_reply_to", type: "str(255)", nullable: true },
      { name: "sender_email", type: "str(255)", nullable: false },
      { name: "recipient_email", type: "str(255)", nullable: false },
      { name: "subject", type: "str(512)", nullable: false },
      { name: "language", type: "str(8)", nullable: false, default: { kind: "literal", value: "en" } },
      { name: "eml_path", type: "str(1024)", nullable: false },
      { name: "success", type: "bool", nullable: false, default: { kind: "literal", value: false } },
      { name: "payload", type: "text", nullable: false, default: { kind: "literal", value: "{}" } }
    ],
    indexed: ["mail_decky_uuid", "recipient_email", "sender_email", "success", "thread_id", "ts"],
    indexes: [
      { name: "ix_orchestrator_emails_mail_ts", columns: ["mail_decky_uuid", "ts"], unique: false },
      { name: "ix_orchestrator_emails_thread", columns: ["thread_id"], unique: false }
    ],
    uniques: []
  },
  {
    name: "orchestrator_events",
    columns: [
      { name: "uuid", type: "str", nullable: false, pk: true, default: { kind: "uuid" } },
      { name: "ts", type: "datetime", nullable: false, default: { kind: "now" } },
      { name: "kind", type: "str(16)", nullable: false },
      { name: "protocol", type: "str(16)", nullable: false },
      { name: "action", type: "str(64)", nullable: false },
      { name: "src_decky_uuid", type: "str", nullable: true },
      { name: "dst_decky_uuid", type: "str", nullable: false },
      { name: "success", type: "bool", nullable: false, default: { kind: "literal", value: false } },
      { name: "payload", type: "text", nullable: false, default: { kind: "literal", value: "{}" } }
    ],
    indexed: ["dst_decky_uuid", "kind", "protocol", "src_decky_uuid", "success", "ts"],
    indexes: [{ name: "ix_orchestrator_events_dst_ts", columns: ["dst_decky_uuid", "ts"], unique: false }],
    uniques: []
  },
  {
    name: "realism_config",
    columns: [
      { name: "uuid", type: "str", nullable: false, pk: true, default: { kind: "uuid" } },
      { name: "key", type: "str(64)", nullable: false },
      { name: "value", type: "text", nullable: false, default: { kind: "literal", value: "{}" } },
      { name: "updated_at", type: "datetime", nullable: false, default: { kind: "now" } }
    ],
    indexed: [],
    indexes: [{ name: "ix_realism_config_key", columns: ["key"], unique: true }],
    uniques: []
  },
  {
    name: "revoked_tokens",
    columns: [
      { name: "jti", type: "str", nullable: false, pk: true },
      { name: "user_uuid", type: "str", nullable: false },
      { name: "expires_at", type: "datetime", nullable: false },
      { name: "revoked_at", type: "datetime", nullable: false, default: { kind: "now" } }
    ],
    indexed: ["expires_at", "user_uuid"],
    indexes: [],
    uniques: []
  },
  {
    name: "smtp_targets",
    columns: [
      { name: "id", type: "int", nullable: false, pk: true },
      { name: "attacker_uuid", type: "str", nullable: false, fk: "attackers.uuid" },
      { name: "domain", type: "str", nullable: false },
      { name: "first_seen", type: "datetime", nullable: false, default: { kind: "now" } },
      { name: "last_seen", type: "datetime", nullable: false, default: { kind: "now" } },
      { name: "count", type: "int", nullable: false, default: { kind: "literal", value: 1 } }
    ],
    indexed: ["attacker_uuid", "domain", "last_seen"],
    indexes: [],
    uniques: [{ name: "uq_smtp_targets_attacker_domain", columns: ["attacker_uuid", "domain"] }]
  },
  {
    name: "state",
    columns: [
      { name: "key", type: "str", nullable: false, pk: true },
      { name: "value", type: "mediumtext", nullable: false }
    ],
    indexed: [],
    indexes: [],
    uniques: []
  },
  {
    name: "synthetic_files",
    columns: [
      { name: "uuid", type: "str", nullable: false, pk: true, default: { kind: "uuid" } },
      { name: "decky_uuid", type: "str(64)", nullable: false },
      { name: "path", type: "str(512)", nullable: false },
      { name: "persona", type: "str(128)", nullable: false },
      { name: "content_class", type: "str(32)", nullable: false },
      { name: "created_at", type: "datetime", nullable: false, default: { kind: "now" } },
      { name: "last_modified", type: "datetime", nullable: false, default: { kind: "now" } },
      { name: "edit_count", type: "int", nullable: false, default: { kind: "literal", value: 0 } },
      { name: "content_hash", type: "str(64)", nullable: false },
      { name: "last_body", type: "text", nullable: false, default: { kind: "literal", value: "" } }
    ],
    indexed: ["content_class", "created_at", "decky_uuid"],
    indexes: [
      { name: "ix_synthetic_files_decky_modified", columns: ["decky_uuid", "last_modified"], unique: false }
    ],
    uniques: [{ name: "uq_synthetic_files_decky_path", columns: ["decky_uuid", "path"] }]
  },
  {
    name: "tarpit_rules",
    columns: [
      { name: "id", type: "str", nullable: false, pk: true },
      { name: "decky_name", type: "str", nullable: false },
      { name: "ports", type: "str", nullable: false },
      { name: "delay_ms", type: "int", nullable: false },
      { name: "created_at", type: "datetime", nullable: false, default: { kind: "now" } },
      { name: "created_by", type: "str", nullable: false }
    ],
    indexed: [],
    indexes: [{ name: "ix_tarpit_rules_decky_name", columns: ["decky_name"], unique: true }],
    uniques: []
  },
  {
    name: "topology_deckies",
    columns: [
      { name: "uuid", type: "str", nullable: false, pk: true, default: { kind: "uuid" } },
      { name: "topology_id", type: "str", nullable: false, fk: "topologies.id" },
      { name: "name", type: "str", nullable: false },
      { name: "services", type: "mediumtext", nullable: false, default: { kind: "literal", value: "[]" } },
      { name: "decky_config", type: "mediumtext", nullable: true },
      { name: "ip", type: "str", nullable: true },
      { name: "state", type: "str(32)", nullable: false, default: { kind: "literal", value: "pending" } },
      { name: "last_error", type: "text", nullable: true },
      { name: "compose_hash", type: "str", nullable: true },
      { name: "last_seen", type: "datetime", nullable: true },
      { name: "updated_at", type: "datetime", nullable: false, default: { kind: "now" } },
      { name: "x", type: "float", nullable: true },
      { name: "y", type: "float", nullable: true }
    ],
    indexed: ["state", "topology_id"],
    indexes: [],
    uniques: [{ name: "uq_topology_decky_name", columns: ["topology_id", "name"] }]
  },
  {
    name: "topology_edges",
    columns: [
      { name: "id", type: "str", nullable: false, pk: true, default: { kind: "uuid" } },
      { name: "topology_id", type: "str", nullable: false, fk: "topologies.id" },
      { name: "decky_uuid", type: "str", nullable: false, fk: "topology_deckies.uuid" },
      { name: "lan_id", type: "str", nullable: false, fk: "lans.id" },
      { name: "is_bridge", type: "bool", nullable: false, default: { kind: "literal", value: false } },
      { name: "forwards_l3", type: "bool", nullable: false, default: { kind: "literal", value: false } }
    ],
    indexed: ["decky_uuid", "lan_id", "topology_id"],
    indexes: [],
    uniques: []
  },
  {
    name: "topology_mutations",
    columns: [
      { name: "id", type: "str", nullable: false, pk: true, default: { kind: "uuid" } },
      { name: "topology_id", type: "str", nullable: false, fk: "topologies.id" },
      { name: "op", type: "str(32)", nullable: false },
      { name: "payload", type: "mediumtext", nullable: false, default: { kind: "literal", value: "{}" } },
      { name: "state", type: "str(32)", nullable: false, default: { kind: "literal", value: "pending" } },
      { name: "requested_at", type: "datetime", nullable: false, default: { kind: "now" } },
      { name: "applied_at", type: "datetime", nullable: true },
      { name: "reason", type: "text", nullable: true },
      // Ours (not the original's): the claim's one UPDATE stamps its own token, by which MySQL, which has
      // no UPDATE … RETURNING, finds the row it won.
      { name: "claim_token", type: "str(36)", nullable: true }
    ],
    indexed: ["op", "requested_at", "state", "topology_id"],
    indexes: [
      { name: "ix_topology_mutations_state_topology", columns: ["state", "topology_id"], unique: false },
      // The claim's order: a topology's oldest pending row is the first entry of its range.
      {
        name: "ix_topology_mutations_queue",
        columns: ["topology_id", "state", "requested_at"],
        unique: false
      }
    ],
    uniques: []
  },
  {
    name: "topology_status_events",
    columns: [
      { name: "id", type: "str", nullable: false, pk: true, default: { kind: "uuid" } },
      { name: "topology_id", type: "str", nullable: false, fk: "topologies.id" },
      { name: "from_status", type: "str", nullable: false },
      { name: "to_status", type: "str", nullable: false },
      { name: "at", type: "datetime", nullable: false, default: { kind: "now" } },
      { name: "reason", type: "text", nullable: true }
    ],
    indexed: ["at", "topology_id"],
    indexes: [],
    uniques: []
  },
  {
    name: "ttp_rule",
    columns: [
      { name: "rule_id", type: "str", nullable: false, pk: true },
      { name: "rule_version", type: "int", nullable: false },
      { name: "source_path", type: "str", nullable: false },
      { name: "yaml_content", type: "mediumtext", nullable: false },
      { name: "updated_at", type: "datetime", nullable: false, default: { kind: "now" } },
      { name: "updated_by", type: "str", nullable: false }
    ],
    indexed: [],
    indexes: [],
    uniques: []
  },
  {
    name: "ttp_rule_state",
    columns: [
      { name: "rule_id", type: "str", nullable: false, pk: true },
      { name: "state", type: "str", nullable: false },
      { name: "confidence_max", type: "float", nullable: true },
      { name: "expires_at", type: "datetime", nullable: true },
      { name: "reason", type: "str", nullable: true },
      { name: "set_by", type: "str", nullable: true },
      { name: "set_at", type: "datetime", nullable: false, default: { kind: "now" } }
    ],
    indexed: [],
    indexes: [],
    uniques: []
  },
  {
    name: "ttp_tag",
    columns: [
      { name: "uuid", type: "str", nullable: false, pk: true },
      { name: "source_kind", type: "str", nullable: false },
      { name: "source_id", type: "str", nullable: false },
      { name: "attacker_uuid", type: "str", nullable: true, fk: "attackers.uuid" },
      { name: "identity_uuid", type: "str", nullable: true, fk: "attacker_identities.uuid" },
      { name: "session_id", type: "str", nullable: true },
      { name: "decky_id", type: "str", nullable: true },
      { name: "tactic", type: "str", nullable: false },
      { name: "technique_id", type: "str", nullable: false },
      { name: "sub_technique_id", type: "str", nullable: true },
      { name: "confidence", type: "float", nullable: false },
      { name: "rule_id", type: "str", nullable: false },
      { name: "rule_version", type: "int", nullable: false },
      { name: "evidence", type: "json", nullable: false },
      { name: "attack_release", type: "str", nullable: false },
      { name: "mitre_url", type: "str", nullable: true },
      { name: "created_at", type: "datetime", nullable: false, default: { kind: "now" } }
    ],
    indexed: [
      "attack_release",
      "attacker_uuid",
      "created_at",
      "decky_id",
      "identity_uuid",
      "rule_id",
      "session_id",
      "sub_technique_id",
      "tactic",
      "technique_id"
    ],
    indexes: [
      { name: "ix_ttp_tag_attacker_technique", columns: ["attacker_uuid", "technique_id"], unique: false },
      { name: "ix_ttp_tag_identity_technique", columns: ["identity_uuid", "technique_id"], unique: false },
      { name: "ix_ttp_tag_technique_created", columns: ["technique_id", "created_at"], unique: false }
    ],
    uniques: []
  },
  {
    name: "users",
    columns: [
      { name: "uuid", type: "str", nullable: false, pk: true },
      { name: "username", type: "str", nullable: false },
      { name: "password_hash", type: "str", nullable: false },
      { name: "role", type: "str", nullable: false, default: { kind: "literal", value: "viewer" } },
      {
        name: "must_change_password",
        type: "bool",
        nullable: false,
        default: { kind: "literal", value: false }
      },
      { name: "tokens_valid_from", type: "datetime", nullable: true }
    ],
    indexed: [],
    indexes: [{ name: "ix_users_username", columns: ["username"], unique: true }],
    uniques: []
  },
  {
    name: "webhook_subscriptions",
    columns: [
      { name: "uuid", type: "str", nullable: false, pk: true, default: { kind: "uuid" } },
      { name: "name", type: "str", nullable: false },
      { name: "url", type: "str", nullable: false },
      { name: "secret", type: "str", nullable: false },
      { name: "topic_patterns", type: "str", nullable: false, default: { kind: "literal", value: "[]" } },
      { name: "enabled", type: "bool", nullable: false, default: { kind: "literal", value: true } },
      { name: "consecutive_failures", type: "int", nullable: false, default: { kind: "literal", value: 0 } },
      { name: "last_success_at", type: "datetime", nullable: true },
      { name: "last_failure_at", type: "datetime", nullable: true },
      { name: "last_error", type: "str", nullable: true },
      { name: "auto_disabled_at", type: "datetime", nullable: true },
      { name: "created_at", type: "datetime", nullable: false, default: { kind: "now" } },
      { name: "updated_at", type: "datetime", nullable: false, default: { kind: "now" } }
    ],
    indexed: ["enabled"],
    indexes: [{ name: "ix_webhook_subscriptions_name", columns: ["name"], unique: true }],
    uniques: []
  }
]
