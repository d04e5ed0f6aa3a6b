// The configuration file (TOML) and environment overrides. TOML because
// operators know it from many tools, it has comments, and it has none of
// YAML's indentation and typing surprises. Precedence, lowest first:
// built-in defaults, the file, PARLEY_* environment variables, command-line
// flags. Every problem names the key (and the file or variable) at fault.
import { readFileSync } from "node:fs";
import path from "node:path";
import { parse, TomlError } from "smol-toml";
import { ConfigError, defaultConfig, isMamDefaultPolicy, parseHostPort, type ExternalService, type ServerConfig } from "./config.js";
import type { LogLevel } from "./util/logger.js";
import { tryParseJid } from "./jid/jid.js";

type Table = Record<string, unknown>;

const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error", "silent"];

/** Reads values out of a parsed table, checking types and refusing keys it does not know. */
class Reader {
  private readonly seen = new Set<string>();
  constructor(private readonly table: Table, private readonly prefix: string, private readonly source: string) {}

  private key(k: string): string {
    return this.prefix ? `${this.prefix}.${k}` : k;
  }

  private fail(k: string, problem: string): never {
    throw new ConfigError(`${this.key(k)} (${this.source})`, problem);
  }

  private get(k: string): unknown {
    this.seen.add(k);
    return this.table[k];
  }

  string(k: string): string | undefined {
    const v = this.get(k);
    if (v === undefined) return undefined;
    if (typeof v !== "string" || v === "") this.fail(k, `must be a non-empty string, got ${JSON.stringify(v)}`);
    return v;
  }

  integer(k: string): number | undefined {
    const v = this.get(k);
    if (v === undefined) return undefined;
    if (typeof v !== "number" || !Number.isInteger(v)) this.fail(k, `must be an integer, got ${JSON.stringify(v)}`);
    return v;
  }

  boolean(k: string): boolean | undefined {
    const v = this.get(k);
    if (v === undefined) return undefined;
    if (typeof v !== "boolean") this.fail(k, `must be true or false, got ${JSON.stringify(v)}`);
    return v;
  }

  strings(k: string): string[] | undefined {
    const v = this.get(k);
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) this.fail(k, "must be a list of strings");
    return v as string[];
  }

  /** A string, or a list of strings (an address, or several). */
  stringOrStrings(k: string): string[] | undefined {
    const v = this.table[k];
    return typeof v === "string" ? [this.string(k) as string] : this.strings(k);
  }

  table_(k: string): Reader | undefined {
    const v = this.get(k);
    if (v === undefined) return undefined;
    if (typeof v !== "object" || v === null || Array.isArray(v)) this.fail(k, "must be a table");
    return new Reader(v as Table, this.key(k), this.source);
  }

  /** An array of tables (TOML `[[k]]`). */
  tables(k: string): Reader[] | undefined {
    const v = this.get(k);
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || v.some((x) => typeof x !== "object" || x === null || Array.isArray(x))) this.fail(k, "must be a list of tables ([[...]])");
    return (v as Table[]).map((t, i) => new Reader(t, `${this.key(k)}[${i}]`, this.source));
  }

  /** The raw value, for a key whose type varies (checked by the caller). */
  raw(k: string): unknown {
    return this.get(k);
  }

  keys(): string[] {
    for (const k of Object.keys(this.table)) this.seen.add(k);
    return Object.keys(this.table);
  }

  /** Keys present in the file that nothing read: typos, most often. */
  rejectUnknown(): void {
    for (const k of Object.keys(this.table)) if (!this.seen.has(k)) this.fail(k, "is not a known setting");
  }
}

function positive(n: number | undefined, key: string, source: string): number | undefined {
  if (n !== undefined && n <= 0) throw new ConfigError(`${key} (${source})`, `must be positive, got ${n}`);
  return n;
}

/** Applies a parsed TOML document to a configuration. `baseDir` resolves relative paths. */
export function applyConfigTable(config: ServerConfig, table: Table, source: string, baseDir: string): ServerConfig {
  const root = new Reader(table, "", source);
  const resolve = (p: string | undefined) => (p === undefined ? undefined : path.resolve(baseDir, p));
  config.domains = root.strings("domains")?.map((d) => d.toLowerCase()) ?? config.domains;
  config.dataDir = resolve(root.string("data_dir")) ?? config.dataDir;
  const level = root.string("log_level");
  if (level !== undefined) {
    if (!LOG_LEVELS.includes(level as LogLevel)) throw new ConfigError(`log_level (${source})`, `must be one of ${LOG_LEVELS.join(", ")}`);
    config.logLevel = level as LogLevel;
  }
  config.accountIdleSeconds = positive(root.integer("account_idle_seconds"), "account_idle_seconds", source) ?? config.accountIdleSeconds;
  config.scramIterations = positive(root.integer("scram_iterations"), "scram_iterations", source) ?? config.scramIterations;
  config.modulesEnabled = root.strings("modules_enabled") ?? config.modulesEnabled;
  const tombstoneDays = root.integer("tombstone_days");
  if (tombstoneDays !== undefined && tombstoneDays < 0) throw new ConfigError(`tombstone_days (${source})`, `must be 0 (forever) or more, got ${tombstoneDays}`);
  config.tombstoneDays = tombstoneDays ?? config.tombstoneDays;
  config.admins = root.strings("admins")?.map((a) => adminJid(a, `admins (${source})`)) ?? config.admins;
  const c2s = root.table_("c2s");
  if (c2s) {
    const bind = c2s.stringOrStrings("bind");
    if (bind !== undefined) {
      if (bind.length === 0) throw new ConfigError(`c2s.bind (${source})`, "must name at least one address");
      config.c2s.host = bind[0] as string;
      config.c2s.extraHosts = bind.slice(1);
    }
    config.c2s.port = c2s.integer("port") ?? config.c2s.port;
    config.c2s.directTlsPort = c2s.integer("direct_tls_port") ?? config.c2s.directTlsPort;
    c2s.rejectUnknown();
  }
  const http = root.table_("http");
  if (http) {
    config.http.port = http.integer("port") ?? config.http.port;
    const publicUrl = http.string("public_url");
    if (publicUrl !== undefined) {
      if (!/^https?:\/\/[^/]+/i.test(publicUrl)) throw new ConfigError(`http.public_url (${source})`, `must be an http:// or https:// URL, got '${publicUrl}'`);
      config.http.publicUrl = publicUrl.replace(/\/+$/, "");
    }
    http.rejectUnknown();
  }
  const tls = root.table_("tls");
  if (tls) {
    const cert = resolve(tls.string("cert"));
    const key = resolve(tls.string("key"));
    if (cert !== undefined) config.tls.certFile = cert;
    if (key !== undefined) config.tls.keyFile = key;
    config.tls.requireEncryption = tls.boolean("require_encryption") ?? config.tls.requireEncryption;
    tls.rejectUnknown();
  }
  const registration = root.table_("registration");
  if (registration) {
    config.registration.allowed = registration.boolean("allowed") ?? config.registration.allowed;
    config.registration.perAddressPerHour = positive(registration.integer("per_address_per_hour"), "registration.per_address_per_hour", source) ?? config.registration.perAddressPerHour;
    registration.rejectUnknown();
  }
  const limits = root.table_("limits");
  if (limits) {
    const l = config.limits;
    l.maxStanzaBytes = limits.integer("max_stanza_bytes") ?? l.maxStanzaBytes;
    l.maxDepth = limits.integer("max_depth") ?? l.maxDepth;
    l.idleSeconds = limits.integer("idle_seconds") ?? l.idleSeconds;
    l.unauthenticatedTimeoutSeconds = limits.integer("unauthenticated_timeout_seconds") ?? l.unauthenticatedTimeoutSeconds;
    l.offlineMessagesPerAccount = limits.integer("offline_messages_per_account") ?? l.offlineMessagesPerAccount;
    l.sessionsPerAccount = limits.integer("sessions_per_account") ?? l.sessionsPerAccount;
    l.connectionsPerAddress = limits.integer("connections_per_address") ?? l.connectionsPerAddress;
    l.rosterItems = limits.integer("roster_items") ?? l.rosterItems;
    l.blockedItems = limits.integer("blocked_items") ?? l.blockedItems;
    l.rosterNameLength = limits.integer("roster_name_length") ?? l.rosterNameLength;
    l.rosterGroupsPerItem = limits.integer("roster_groups_per_item") ?? l.rosterGroupsPerItem;
    l.directedPresencePerSession = limits.integer("directed_presence_per_session") ?? l.directedPresencePerSession;
    l.accountLockoutFailures = limits.integer("account_lockout_failures") ?? l.accountLockoutFailures;
    l.offlineMessagesPerSender = limits.integer("offline_messages_per_sender") ?? l.offlineMessagesPerSender;
    l.offlineBytesPerAccount = limits.integer("offline_bytes_per_account") ?? l.offlineBytesPerAccount;
    l.subscriptionRequestBytes = limits.integer("subscription_request_bytes") ?? l.subscriptionRequestBytes;
    l.subscriptionChangesPerContactPerMinute = limits.integer("subscription_changes_per_contact_per_minute") ?? l.subscriptionChangesPerContactPerMinute;
    l.stanzasPerSecond = limits.integer("stanzas_per_second") ?? l.stanzasPerSecond;
    l.stanzaBurst = limits.integer("stanza_burst") ?? l.stanzaBurst;
    l.stanzasPerTurn = limits.integer("stanzas_per_turn") ?? l.stanzasPerTurn;
    l.turnBudgetMs = limits.integer("turn_budget_ms") ?? l.turnBudgetMs;
    l.maxUnsentOutputBytes = limits.integer("max_unsent_output_bytes") ?? l.maxUnsentOutputBytes;
    l.handshakeTimeoutSeconds = limits.integer("handshake_timeout_seconds") ?? l.handshakeTimeoutSeconds;
    limits.rejectUnknown();
  }
  const mam = root.table_("mam");
  if (mam) {
    const m = config.mam;
    const policy = mam.string("default_policy");
    if (policy !== undefined) {
      if (!isMamDefaultPolicy(policy)) throw new ConfigError(`mam.default_policy (${source})`, `must be always, roster or never, got '${policy}'`);
      m.defaultPolicy = policy;
    }
    const retention = mam.integer("retention_days");
    if (retention !== undefined && retention < 0) throw new ConfigError(`mam.retention_days (${source})`, `must be 0 (keep) or more, got ${retention}`);
    m.retentionDays = retention ?? m.retentionDays;
    m.defaultPageSize = positive(mam.integer("default_page_size"), "mam.default_page_size", source) ?? m.defaultPageSize;
    m.maxPageSize = positive(mam.integer("max_page_size"), "mam.max_page_size", source) ?? m.maxPageSize;
    m.sweepIntervalSeconds = positive(mam.integer("sweep_interval_seconds"), "mam.sweep_interval_seconds", source) ?? m.sweepIntervalSeconds;
    m.fulltext = mam.boolean("fulltext") ?? m.fulltext;
    mam.rejectUnknown();
  }
  const muc = root.table_("muc");
  if (muc) {
    const m = config.muc;
    m.enabled = muc.boolean("enabled") ?? m.enabled;
    const sub = muc.string("subdomain");
    if (sub !== undefined) {
      if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(sub)) throw new ConfigError(`muc.subdomain (${source})`, `must be one DNS label, got '${sub}'`);
      m.subdomain = sub;
    }
    m.roomsPerUser = positive(muc.integer("rooms_per_user"), "muc.rooms_per_user", source) ?? m.roomsPerUser;
    m.occupantsPerRoom = positive(muc.integer("occupants_per_room"), "muc.occupants_per_room", source) ?? m.occupantsPerRoom;
    m.sessionsPerOccupant = positive(muc.integer("sessions_per_occupant"), "muc.sessions_per_occupant", source) ?? m.sessionsPerOccupant;
    const history = muc.integer("history_messages");
    if (history !== undefined && history < 0) throw new ConfigError(`muc.history_messages (${source})`, `must be 0 or more, got ${history}`);
    m.historyMessages = history ?? m.historyMessages;
    m.maxRooms = positive(muc.integer("max_rooms"), "muc.max_rooms", source) ?? m.maxRooms;
    m.archive = muc.boolean("archive") ?? m.archive;
    m.invitesPerMessage = positive(muc.integer("invites_per_message"), "muc.invites_per_message", source) ?? m.invitesPerMessage;
    muc.rejectUnknown();
  }
  const ext = root.table_("external_services");
  if (ext) config.externalServices = readExternalServices(ext, config.externalServices, source);
  const sm = root.table_("stream_management");
  if (sm) {
    const m = config.streamManagement;
    m.timeoutSeconds = positive(sm.integer("timeout_seconds"), "stream_management.timeout_seconds", source) ?? m.timeoutSeconds;
    m.maxQueue = positive(sm.integer("max_queue"), "stream_management.max_queue", source) ?? m.maxQueue;
    m.csiMaxQueue = positive(sm.integer("csi_max_queue"), "stream_management.csi_max_queue", source) ?? m.csiMaxQueue;
    sm.rejectUnknown();
  }
  const ps = root.table_("pubsub");
  if (ps) {
    const p = config.pubsub;
    const creators = ps.string("creators");
    if (creators !== undefined) {
      if (creators !== "admins" && creators !== "local") throw new ConfigError(`pubsub.creators (${source})`, `must be admins or local, got '${creators}'`);
      p.creators = creators;
    }
    p.component = ps.boolean("component") ?? p.component;
    p.exposePublisher = ps.boolean("expose_publisher") ?? p.exposePublisher;
    p.maxItems = positive(ps.integer("max_items"), "pubsub.max_items", source) ?? p.maxItems;
    p.maxItemBytes = positive(ps.integer("max_item_bytes"), "pubsub.max_item_bytes", source) ?? p.maxItemBytes;
    p.maxNodesPerAccount = positive(ps.integer("max_nodes_per_account"), "pubsub.max_nodes_per_account", source) ?? p.maxNodesPerAccount;
    p.maxNodesPerService = positive(ps.integer("max_nodes_per_service"), "pubsub.max_nodes_per_service", source) ?? p.maxNodesPerService;
    p.maxSubscriptionsPerNode = positive(ps.integer("max_subscriptions_per_node"), "pubsub.max_subscriptions_per_node", source) ?? p.maxSubscriptionsPerNode;
    p.capsCacheSize = positive(ps.integer("caps_cache_size"), "pubsub.caps_cache_size", source) ?? p.capsCacheSize;
    p.maxVcardBytes = positive(ps.integer("max_vcard_bytes"), "pubsub.max_vcard_bytes", source) ?? p.maxVcardBytes;
    p.maxPrivateBytes = positive(ps.integer("max_private_bytes"), "pubsub.max_private_bytes", source) ?? p.maxPrivateBytes;
    p.maxPrivateElements = positive(ps.integer("max_private_elements"), "pubsub.max_private_elements", source) ?? p.maxPrivateElements;
    ps.rejectUnknown();
  }
  const fast = root.table_("fast");
  if (fast) {
    const f = config.fast;
    f.enabled = fast.boolean("enabled") ?? f.enabled;
    f.tokenSeconds = positive(fast.integer("token_seconds"), "fast.token_seconds", source) ?? f.tokenSeconds;
    f.rotateAfterSeconds = positive(fast.integer("rotate_after_seconds"), "fast.rotate_after_seconds", source) ?? f.rotateAfterSeconds;
    f.maxUserAgents = positive(fast.integer("max_user_agents"), "fast.max_user_agents", source) ?? f.maxUserAgents;
    fast.rejectUnknown();
  }
  const adhoc = root.table_("adhoc");
  if (adhoc) {
    const a = config.adhoc;
    a.sessionsPerRequester = positive(adhoc.integer("sessions_per_requester"), "adhoc.sessions_per_requester", source) ?? a.sessionsPerRequester;
    a.sessionsTotal = positive(adhoc.integer("sessions_total"), "adhoc.sessions_total", source) ?? a.sessionsTotal;
    a.sessionSeconds = positive(adhoc.integer("session_seconds"), "adhoc.session_seconds", source) ?? a.sessionSeconds;
    adhoc.rejectUnknown();
  }
  config.passwordMinLength = positive(root.integer("password_min_length"), "password_min_length", source) ?? config.passwordMinLength;
  const metrics = root.table_("metrics");
  if (metrics) {
    config.metrics.enabled = metrics.boolean("enabled") ?? config.metrics.enabled;
    const bind = metrics.string("bind");
    if (bind !== undefined) config.metrics.bind = bind;
    const token = metrics.string("token");
    if (token !== undefined) config.metrics.token = token;
    metrics.rejectUnknown();
  }
  const s2s = root.table_("s2s");
  if (s2s) readS2s(s2s, config, source, resolve);
  const bosh = root.table_("bosh");
  if (bosh) {
    const b = config.bosh;
    b.enabled = bosh.boolean("enabled") ?? b.enabled;
    b.maxWaitSeconds = positive(bosh.integer("max_wait_seconds"), "bosh.max_wait_seconds", source) ?? b.maxWaitSeconds;
    const hold = bosh.integer("max_hold");
    if (hold !== undefined && hold < 0) throw new ConfigError(`bosh.max_hold (${source})`, `must be 0 or more, got ${hold}`);
    b.maxHold = hold ?? b.maxHold;
    b.inactivitySeconds = positive(bosh.integer("inactivity_seconds"), "bosh.inactivity_seconds", source) ?? b.inactivitySeconds;
    b.pollingSeconds = positive(bosh.integer("polling_seconds"), "bosh.polling_seconds", source) ?? b.pollingSeconds;
    // XEP-0124 §7.2 and its schema: `maxpause` is an xs:unsignedShort.
    const pause = bosh.integer("max_pause_seconds");
    if (pause !== undefined && (pause < 0 || pause > 65535)) throw new ConfigError(`bosh.max_pause_seconds (${source})`, `must be 0 (no pauses) to 65535, got ${pause}`);
    b.maxPauseSeconds = pause ?? b.maxPauseSeconds;
    b.maxRequestBytes = positive(bosh.integer("max_request_bytes"), "bosh.max_request_bytes", source) ?? b.maxRequestBytes;
    b.sessionsPerAddress = positive(bosh.integer("sessions_per_address"), "bosh.sessions_per_address", source) ?? b.sessionsPerAddress;
    bosh.rejectUnknown();
  }
  const comps = root.table_("components");
  if (comps) config.components = readComponents(comps, config.components, source, config.domains);
  const pushTable = root.table_("push");
  if (pushTable) {
    const p = config.push;
    p.includeBody = pushTable.boolean("include_body") ?? p.includeBody;
    p.includeSender = pushTable.boolean("include_sender") ?? p.includeSender;
    p.maxRegistrations = positive(pushTable.integer("max_registrations"), "push.max_registrations", source) ?? p.maxRegistrations;
    p.maxErrors = positive(pushTable.integer("max_errors"), "push.max_errors", source) ?? p.maxErrors;
    p.notificationsPerMinute = positive(pushTable.integer("notifications_per_minute"), "push.notifications_per_minute", source) ?? p.notificationsPerMinute;
    p.timeoutSeconds = positive(pushTable.integer("timeout_seconds"), "push.timeout_seconds", source) ?? p.timeoutSeconds;
    pushTable.rejectUnknown();
  }
  const upload = root.table_("upload");
  if (upload) config.upload = readUpload(upload, config.upload, source);
  const contacts = root.table_("contact_addresses");
  if (contacts) {
    const out: Record<string, string[]> = {};
    for (const kind of contacts.keys()) out[kind] = contacts.strings(kind) ?? [];
    config.contactAddresses = out;
  }
  root.rejectUnknown();
  return config;
}

function readExternalServices(t: Reader, base: ServerConfig["externalServices"], source: string): ServerConfig["externalServices"] {
  const port = (r: Reader, key: string) => {
    const n = r.integer("port");
    if (n !== undefined && (n < 1 || n > 65535)) throw new ConfigError(`${key} (${source})`, `must be a port number (1–65535), got ${n}`);
    return n;
  };
  const out: ServerConfig["externalServices"] = { ...base };
  const host = t.string("host");
  if (host !== undefined) out.host = host;
  const p = port(t, "external_services.port");
  if (p !== undefined) out.port = p;
  const secret = t.string("secret");
  if (secret !== undefined) out.secret = secret;
  out.credentialSeconds = positive(t.integer("credential_seconds"), "external_services.credential_seconds", source) ?? base.credentialSeconds;
  const services = t.tables("service");
  if (services) {
    out.services = services.map((s, i) => {
      const key = `external_services.service[${i}]`;
      const type = s.string("type");
      if (type === undefined) throw new ConfigError(`${key}.type (${source})`, "every service needs a type (stun, turn, ftp…)");
      const transport = s.string("transport");
      if (transport !== undefined && transport !== "udp" && transport !== "tcp") throw new ConfigError(`${key}.transport (${source})`, `must be udp or tcp, got '${transport}'`);
      const secret = s.raw("secret");
      if (secret !== undefined && secret !== true && (typeof secret !== "string" || secret === "")) {
        throw new ConfigError(`${key}.secret (${source})`, "must be true (the shared secret) or a secret of its own");
      }
      if (secret === true && out.secret === undefined) throw new ConfigError(`${key}.secret (${source})`, "is true, but external_services.secret is not set");
      const service: ExternalService = { type };
      if (transport !== undefined) service.transport = transport;
      const fields = { host: s.string("host"), port: port(s, `${key}.port`), name: s.string("name"), username: s.string("username"), password: s.string("password") };
      for (const [k, v] of Object.entries(fields)) if (v !== undefined) Object.assign(service, { [k]: v });
      if (secret !== undefined) service.secret = secret as true | string;
      s.rejectUnknown();
      return service;
    });
  }
  t.rejectUnknown();
  return out;
}

function readComponents(t: Reader, base: ServerConfig["components"], source: string, served: readonly string[]): ServerConfig["components"] {
  const out: ServerConfig["components"] = { ...base, components: [...base.components] };
  const host = t.string("host");
  if (host !== undefined) out.host = host;
  const port = t.integer("port");
  if (port !== undefined) {
    if (port < 0 || port > 65535) throw new ConfigError(`components.port (${source})`, `must be a port number (0 for any free one), got ${port}`);
    out.port = port;
  }
  const list = t.tables("component");
  if (list) {
    out.components = list.map((c, i) => {
      const key = `components.component[${i}]`;
      const domain = c.string("domain")?.toLowerCase();
      const secret = c.string("secret");
      if (domain === undefined || !/^[a-z0-9.-]+$/.test(domain)) throw new ConfigError(`${key}.domain (${source})`, "every component needs its domain, e.g. bot.example.org");
      if (served.includes(domain)) throw new ConfigError(`${key}.domain (${source})`, `${domain} is a served domain; a component needs a domain of its own`);
      if (secret === undefined || secret.length < 16) throw new ConfigError(`${key}.secret (${source})`, "needs a shared secret of at least 16 characters (XEP-0114 §3)");
      c.rejectUnknown();
      return { domain, secret };
    });
    const seen = new Set<string>();
    for (const c of out.components) {
      if (seen.has(c.domain)) throw new ConfigError(`components.component (${source})`, `${c.domain} is configured twice`);
      seen.add(c.domain);
    }
  }
  t.rejectUnknown();
  return out;
}

function readUpload(t: Reader, base: ServerConfig["upload"], source: string): ServerConfig["upload"] {
  const out: ServerConfig["upload"] = { ...base };
  const nonNegative = (k: string): number | undefined => {
    const n = t.integer(k);
    if (n !== undefined && n < 0) throw new ConfigError(`upload.${k} (${source})`, `must be 0 or more, got ${n}`);
    return n;
  };
  const domain = t.string("domain");
  if (domain !== undefined) out.domain = domain.toLowerCase();
  const url = t.string("public_url");
  if (url !== undefined) {
    if (!/^https?:\/\/[^/]+/i.test(url)) throw new ConfigError(`upload.public_url (${source})`, `must be an http:// or https:// URL, got '${url}'`);
    out.publicUrl = url.replace(/\/+$/, "");
  }
  out.maxFileBytes = positive(t.integer("max_file_bytes"), "upload.max_file_bytes", source) ?? base.maxFileBytes;
  out.quotaBytesPerUser = positive(t.integer("quota_bytes_per_user"), "upload.quota_bytes_per_user", source) ?? base.quotaBytesPerUser;
  out.totalQuotaBytes = nonNegative("total_quota_bytes") ?? base.totalQuotaBytes;
  out.expireDays = nonNegative("expire_days") ?? base.expireDays;
  const types = t.strings("allowed_types");
  if (types !== undefined) {
    for (const type of types) {
      if (!/^[a-z0-9!#$&^_.+-]+\/(\*|[a-z0-9!#$&^_.+-]+)$/i.test(type)) throw new ConfigError(`upload.allowed_types (${source})`, `'${type}' is not a content type (type/subtype or type/*)`);
    }
    out.allowedTypes = types.map((x) => x.toLowerCase());
  }
  out.slotSeconds = positive(t.integer("slot_seconds"), "upload.slot_seconds", source) ?? base.slotSeconds;
  out.slotsPerUserPerHour = positive(t.integer("slots_per_user_per_hour"), "upload.slots_per_user_per_hour", source) ?? base.slotsPerUserPerHour;
  t.rejectUnknown();
  return out;
}

export function loadConfigFile(config: ServerConfig, file: string): ServerConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(file, `cannot read the configuration file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let table: Table;
  try {
    table = parse(text) as Table;
  } catch (err) {
    if (err instanceof TomlError) throw new ConfigError(file, `not valid TOML at line ${err.line}, column ${err.column}: ${err.message.split("\n")[0]}`);
    throw err;
  }
  return applyConfigTable(config, table, file, path.dirname(path.resolve(file)));
}

const ENV: Record<string, (c: ServerConfig, v: string, name: string) => void> = {
  PARLEY_DOMAINS: (c, v) => { c.domains = v.split(",").map((d) => d.trim().toLowerCase()).filter((d) => d !== ""); },
  PARLEY_DATA_DIR: (c, v) => { c.dataDir = path.resolve(v); },
  PARLEY_LOG_LEVEL: (c, v, name) => {
    if (!LOG_LEVELS.includes(v as LogLevel)) throw new ConfigError(name, `must be one of ${LOG_LEVELS.join(", ")}`);
    c.logLevel = v as LogLevel;
  },
  PARLEY_C2S_BIND: (c, v, name) => {
    const hosts = v.split(",").map((h) => h.trim()).filter((h) => h !== "");
    if (hosts.length === 0) throw new ConfigError(name, "must name at least one address");
    c.c2s.host = hosts[0] as string;
    c.c2s.extraHosts = hosts.slice(1);
  },
  PARLEY_C2S_PORT: (c, v, name) => { c.c2s.port = envInteger(v, name); },
  PARLEY_DIRECT_TLS_PORT: (c, v, name) => { c.c2s.directTlsPort = envInteger(v, name); },
  PARLEY_HTTP_PORT: (c, v, name) => { c.http.port = envInteger(v, name); },
  PARLEY_S2S_PORT: (c, v, name) => { c.s2s.port = envInteger(v, name); },
  PARLEY_TLS_CERT: (c, v) => { c.tls.certFile = path.resolve(v); },
  PARLEY_TLS_KEY: (c, v) => { c.tls.keyFile = path.resolve(v); },
  PARLEY_REQUIRE_ENCRYPTION: (c, v, name) => { c.tls.requireEncryption = envBoolean(v, name); },
  PARLEY_ALLOW_REGISTRATION: (c, v, name) => { c.registration.allowed = envBoolean(v, name); },
  PARLEY_METRICS_TOKEN: (c, v) => { c.metrics.token = v; },
};

/** An administrator is a bare JID, kept in its prepared (normalised) form. */
export function adminJid(raw: string, where: string): string {
  const jid = tryParseJid(raw);
  if (!jid || jid.local === "" || jid.resource !== "") throw new ConfigError(where, `'${raw}' is not a bare JID such as admin@example.org`);
  return jid.bareString();
}

function envInteger(v: string, name: string): number {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new ConfigError(name, `must be an integer, got '${v}'`);
  return n;
}

function envBoolean(v: string, name: string): boolean {
  if (/^(1|true|yes|on)$/i.test(v)) return true;
  if (/^(0|false|no|off)$/i.test(v)) return false;
  throw new ConfigError(name, `must be true or false, got '${v}'`);
}

export function applyEnvironment(config: ServerConfig, env: NodeJS.ProcessEnv = process.env): ServerConfig {
  for (const [name, apply] of Object.entries(ENV)) {
    const v = env[name];
    if (v !== undefined && v !== "") apply(config, v, name);
  }
  return config;
}

export const ENVIRONMENT_VARIABLES = Object.keys(ENV);

/** Defaults, then the file (if any), then the environment; validated. */
export function resolveConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const config = defaultConfig();
  if (file !== undefined) loadConfigFile(config, file);
  applyEnvironment(config, env);
  return config;
}


/** [s2s] and [s2s.routes] (src/s2s/). */
function readS2s(t: Reader, config: ServerConfig, source: string, resolve: (p: string | undefined) => string | undefined): void {
  const s = config.s2s;
  s.enabled = t.boolean("enabled") ?? s.enabled;
  const bind = t.stringOrStrings("bind");
  if (bind !== undefined) {
    if (bind.length === 0) throw new ConfigError(`s2s.bind (${source})`, "must name at least one address");
    s.host = bind[0] as string;
    s.extraHosts = bind.slice(1);
  }
  s.port = t.integer("port") ?? s.port;
  const direct = t.integer("direct_tls_port");
  if (direct !== undefined) s.directTlsPort = direct;
  s.requireTls = t.boolean("require_tls") ?? s.requireTls;
  const lower = (xs: string[] | undefined) => xs?.map((d) => d.toLowerCase());
  s.insecureDomains = lower(t.strings("insecure_domains")) ?? s.insecureDomains;
  s.secureDomains = lower(t.strings("secure_domains")) ?? s.secureDomains;
  s.blockedDomains = lower(t.strings("blocked_domains")) ?? s.blockedDomains;
  const ca = resolve(t.string("ca_file"));
  if (ca !== undefined) s.caFile = ca;
  s.connectTimeoutSeconds = positive(t.integer("connect_timeout_seconds"), "s2s.connect_timeout_seconds", source) ?? s.connectTimeoutSeconds;
  s.idleSeconds = positive(t.integer("idle_seconds"), "s2s.idle_seconds", source) ?? s.idleSeconds;
  const pingInterval = t.integer("ping_interval_seconds");
  if (pingInterval !== undefined && pingInterval < 0) throw new ConfigError(`s2s.ping_interval_seconds (${source})`, `must be 0 (no pings) or more, got ${pingInterval}`);
  s.pingIntervalSeconds = pingInterval ?? s.pingIntervalSeconds;
  s.pingTimeoutSeconds = positive(t.integer("ping_timeout_seconds"), "s2s.ping_timeout_seconds", source) ?? s.pingTimeoutSeconds;
  s.queueLimit = positive(t.integer("queue_limit"), "s2s.queue_limit", source) ?? s.queueLimit;
  s.connectionsPerAddress = positive(t.integer("connections_per_address"), "s2s.connections_per_address", source) ?? s.connectionsPerAddress;
  s.stanzasPerSecond = positive(t.integer("stanzas_per_second"), "s2s.stanzas_per_second", source) ?? s.stanzasPerSecond;
  s.stanzaBurst = positive(t.integer("stanza_burst"), "s2s.stanza_burst", source) ?? s.stanzaBurst;
  s.maxBackoffSeconds = positive(t.integer("max_backoff_seconds"), "s2s.max_backoff_seconds", source) ?? s.maxBackoffSeconds;
  const routes = t.table_("routes");
  if (routes) {
    const out: Record<string, string> = {};
    for (const domain of routes.keys()) {
      const target = routes.string(domain);
      if (target === undefined) throw new ConfigError(`s2s.routes.${domain} (${source})`, "must be a \"host:port\" string");
      parseHostPort(target, `s2s.routes.${domain} (${source})`);
      out[domain.toLowerCase()] = target;
    }
    s.routes = out;
  }
  t.rejectUnknown();
}
