// Server configuration: the embedded defaults a fresh `parley start` uses,
// and the validation that turns bad values into messages naming the key.
import path from "node:path";
import type { LogLevel } from "./util/logger.js";

export interface ServerConfig {
  /** Virtual hosts served; the first is the default. */
  domains: string[];
  /** Client connections: STARTTLS on `port`, Direct TLS (XEP-0368) on `directTlsPort`. */
  c2s: {
    host: string; port: number; directTlsPort: number;
    /**
     * Further addresses every listener (c2s, Direct TLS, HTTP) also listens on,
     * at the same ports: by default the IPv6 loopback `::1` beside 127.0.0.1,
     * since clients (Poezio) try `::1` first for localhost. Skipped with a
     * warning where the host has no such address.
     */
    extraHosts?: string[];
  };
  /** HTTP port for XMPP over WebSocket (RFC 7395) at /xmpp-websocket, on the c2s host. */
  http: {
    port: number;
    /**
     * The base URL clients reach this port at (a reverse proxy's https://…),
     * for XEP-0156 host-meta and upload URLs; by default what a request's Host
     * header says (host-meta) or http://<c2s host>:<port> (upload).
     */
    publicUrl?: string;
  };
  tls: {
    /** PEM files; when absent a self-signed certificate is generated into the data directory. */
    certFile?: string;
    keyFile?: string;
    /** Refuse authentication before TLS, loopback included (otherwise loopback counts as secure). */
    requireEncryption: boolean;
  };
  dataDir: string;
  limits: {
    /** XEP-0478 max-bytes: the largest stanza accepted, in bytes. */
    maxStanzaBytes: number;
    maxDepth: number;
    /** XEP-0478 idle-seconds: a bound stream silent for longer is closed. */
    idleSeconds: number;
    /** A connection that has not authenticated within this many seconds is closed. */
    unauthenticatedTimeoutSeconds: number;
    /** Offline messages kept per account (XEP-0160). */
    offlineMessagesPerAccount: number;
    /** Bound sessions one account may have at once. */
    sessionsPerAccount: number;
    /** Open connections from one remote address. */
    connectionsPerAddress: number;
    /** Items in one roster. */
    rosterItems: number;
    /** Entries in one block list. */
    blockedItems: number;
    /** Characters in a roster item's name, and in one group name (RFC 6121 §2.3.3: not-acceptable beyond). */
    rosterNameLength: number;
    /** Groups one roster item may be in; with the two lengths, a roster result has a bounded size. */
    rosterGroupsPerItem: number;
    /** Failed logins for one account within the failure window (10 minutes after the last) that lock it until the window passes. */
    accountLockoutFailures: number;
    /** Full or bare JIDs one session may have sent directed presence to (RFC 6121 §4.6), to tell them when it leaves. */
    directedPresencePerSession: number;
    /** Offline messages one sender may leave for one recipient (so one sender cannot fill a recipient's storage). */
    offlineMessagesPerSender: number;
    /** Bytes of offline messages kept per account. */
    offlineBytesPerAccount: number;
    /** Bytes of a stored subscription request (kept for redelivery); extensions beyond it are not stored. */
    subscriptionRequestBytes: number;
    /** Subscription stanzas from one sender not in the roster: a burst of this many, refilled at this many a minute; more are dropped. */
    subscriptionChangesPerContactPerMinute: number;
    /** Stanzas a second one client connection may send on average… */
    stanzasPerSecond: number;
    /** …and in a burst, before its reads are throttled. */
    stanzaBurst: number;
    /**
     * Stanzas of one connection handed to its session per event-loop turn; the
     * rest of a pipelined burst waits for later turns, so its first results are
     * committed and sent at once and other connections interleave.
     */
    stanzasPerTurn: number;
    /**
     * Milliseconds of the event loop's time per turn spent handing stanzas
     * over, past which IQ sets (which append events) wait for a later turn
     * while messages and presence go on up to twice as long; 0: no time budget.
     * Keeps chat routing quick while many clients write.
     */
    turnBudgetMs: number;
    /**
     * Bytes written to one client connection that it has not yet read: what
     * waits in the socket's write buffer plus the output held for the commit
     * gate. Past it the client is not reading, and its stream is closed
     * (policy-violation). Well above the largest legitimate result (a full
     * roster at the roster limits is about 4.3 MB).
     */
    maxUnsentOutputBytes: number;
    /**
     * Seconds a TLS handshake (Direct TLS or after STARTTLS) or a WebSocket's
     * HTTP request and upgrade may take before the connection is closed.
     */
    handshakeTimeoutSeconds: number;
  };
  /** XEP-0077: whether anyone may create an account over XMPP (off by default). */
  registration: { allowed: boolean; perAddressPerHour: number };
  /** XEP-0157 contact addresses by kind (admin, abuse, support, security…), as URIs. */
  contactAddresses: Record<string, string[]>;
  /** Seconds an account actor with no sessions stays in memory. */
  accountIdleSeconds: number;
  /** PBKDF2 iterations for newly stored SCRAM credentials. */
  scramIterations: number;
  logLevel: LogLevel;
  /** Server administrators (bare JIDs): what admin-only features (node creation, room limits…) check. */
  admins: string[];
  /** Days a deleted account's name stays reserved (tombstones module); 0 keeps it forever. */
  tombstoneDays: number;
  /** Feature modules to load, by name (src/modules/index.ts lists them), in this order. */
  modulesEnabled: string[];
  /** XEP-0313 message archives of accounts (the mam module). */
  mam: MamConfig;
  /** Characters (code points) a new password needs at least: `parley adduser`, `parley passwd`, in-band registration and password changes. */
  passwordMinLength: number;
  /** OpenMetrics at /metrics and the health check at /health (src/metrics/). */
  metrics: MetricsConfig;
  /** XEP-0215 external services (STUN/TURN for calls, and others), the external_services module. */
  externalServices: ExternalServicesConfig;
  /** XEP-0198 stream management (acks, resumption) and XEP-0352 client state indication. */
  streamManagement: StreamManagementConfig;
  /** XEP-0045 multi-user chat at <subdomain>.<domain> (the muc module). */
  muc: MucConfig;
  /** XEP-0060 pubsub at pubsub.<domain>, PEP (XEP-0163), vCard-temp and private storage: the pubsub, vcard and private modules. */
  pubsub: PubsubConfig;
  /** Server-to-server federation (RFC 6120 §4, XEP-0220), src/s2s/. */
  s2s: S2sConfig;
  /** XEP-0114 external components (the component module): the listener and who may connect. */
  components: ComponentsConfig;
  /** XEP-0357 push notifications (the push module). */
  push: PushConfig;
  /** XEP-0484 FAST tokens for SASL2 logins (src/sasl/fast-tokens.ts). */
  fast: FastConfig;
  /** XEP-0050 command sessions (the adhoc module): a form sent, its submission awaited. */
  adhoc: { sessionsPerRequester: number; sessionsTotal: number; sessionSeconds: number };
  /** XEP-0363 HTTP File Upload (the http_upload module), served on the HTTP listener. */
  upload: UploadConfig;
  /** BOSH (XEP-0124, XEP-0206) at /http-bind on the HTTP listener. */
  bosh: BoshConfig;
}

/** `[components]`: XEP-0114 external components, each a domain with its shared secret. */
export interface ComponentsConfig {
  /** The listener's address: loopback by default, as components usually run beside the server. */
  host: string;
  /** 5347 by default (Prosody's, ejabberd's); 0: any free port. It listens only when a component is configured. */
  port: number;
  components: { domain: string; secret: string }[];
}

/** `[push]`: XEP-0357 notifications to app servers, and their bounds. */
export interface PushConfig {
  /** Put the message's text in the notification (§7 last-message-body); off: the app server learns nothing of it. */
  includeBody: boolean;
  /** Put the sender's JID in it (§7 last-message-sender). */
  includeSender: boolean;
  /** Registrations (devices) per account. */
  maxRegistrations: number;
  /** Refusals in a row after which a registration is dropped (§8). */
  maxErrors: number;
  /** Notifications per registration per minute; more are not sent (the device, once awake, fetches the rest). */
  notificationsPerMinute: number;
  /** Seconds an app server has to answer before the notification counts as refused. */
  timeoutSeconds: number;
}

export interface StreamManagementConfig {
  /** Seconds a dropped stream stays resumable (XEP-0198 §5, the advertised `max`). */
  timeoutSeconds: number;
  /** Unacknowledged stanzas kept per stream; a stream with more is closed (bound) or expires (detached). */
  maxQueue: number;
  /** XEP-0352: stanzas held per inactive client (presence counts once per contact); a fuller queue is flushed. */
  csiMaxQueue: number;
}

/** `[muc]`: the MUC service and its per-room and per-user limits. */
export interface MucConfig {
  /** false: no MUC service. */
  enabled: boolean;
  /** The component's domain is `<subdomain>.<served domain>`. */
  subdomain: string;
  /** Rooms one user may have created that exist at once. */
  roomsPerUser: number;
  /** Occupants (nicknames) per room. */
  occupantsPerRoom: number;
  /** Sessions of one user under one nickname (multi-session nicks). */
  sessionsPerOccupant: number;
  /** Messages of discussion history a room keeps at most (XEP-0045 §7.2.15); a room's own setting is capped by it. */
  historyMessages: number;
  /** Rooms in memory per service at once. */
  maxRooms: number;
  /** XEP-0313 archives of rooms (paged and retained as `[mam]` says). */
  archive: boolean;
  /** Mediated invitations one message may carry (each becomes a message of the room's). */
  invitesPerMessage: number;
}

export interface PubsubConfig {
  /** Who may create nodes at pubsub.<domain>: the admins (as Prosody), or every local user. */
  creators: "admins" | "local";
  /** Serve the pubsub.<domain> component at all (PEP is on every account either way). */
  component: boolean;
  /** Items a node keeps at most (its max_items, and what "max" means). */
  maxItems: number;
  /** Bytes of one item's payload, serialised. */
  maxItemBytes: number;
  /** PEP nodes per account. */
  maxNodesPerAccount: number;
  /** Nodes at pubsub.<domain>. */
  maxNodesPerService: number;
  /** Subscriptions per node, and affiliations per node. */
  maxSubscriptionsPerNode: number;
  /** Items from pubsub.<domain> name their publisher (Prosody's expose_publisher). */
  exposePublisher: boolean;
  /** XEP-0115 caps hashes remembered (verified ones, server-wide). */
  capsCacheSize: number;
  /** Bytes of one account's vCard (XEP-0054). */
  maxVcardBytes: number;
  /** Bytes of one private XML storage element (XEP-0049), and elements per account. */
  maxPrivateBytes: number;
  maxPrivateElements: number;
}

/** Federation: the s2s listener, outgoing streams and their limits (src/s2s/). */
export interface S2sConfig {
  /** Listen for and open server-to-server streams at all; off, every remote JID bounces remote-server-not-found. */
  enabled: boolean;
  /** Where the listener binds: loopback by default, so a server stays private until told otherwise. */
  host: string;
  extraHosts?: string[];
  port: number;
  /** XEP-0368 Direct TLS for servers (SRV _xmpps-server._tcp), when set; unset, none. */
  directTlsPort?: number;
  /** STARTTLS required on every s2s stream, both directions (RFC 6120 §5.3.1), except with insecureDomains. */
  requireTls: boolean;
  /** Domains allowed to federate without TLS (a lab peer); every other one needs it while requireTls holds. */
  insecureDomains: string[];
  /** Domains whose certificate must verify against the trust store (caFile, else the system's) on outgoing streams. */
  secureDomains: string[];
  /** A PEM bundle of trusted CAs for verifying peers' certificates (default: Node's system store). */
  caFile?: string;
  /** Domains never federated with: stanzas to them bounce, their streams are refused. */
  blockedDomains: string[];
  /** Static routes, looked up before DNS: domain → "host:port" (RFC 6120 §3.2 allows any configured resolution). */
  routes: Record<string, string>;
  /** Seconds to resolve, connect, negotiate TLS and authenticate an outgoing stream before its stanzas bounce. */
  connectTimeoutSeconds: number;
  /** An outgoing stream that sent no stanza (pings and their answers aside) for this long is closed; an incoming one that received none, too. */
  idleSeconds: number;
  /** XEP-0199 §4.3: an outgoing stream quiet for this long sends a ping; 0: no pings. */
  pingIntervalSeconds: number;
  /** A ping unanswered for this long: the stream is dead, what it carried since the last answer bounces remote-server-timeout. */
  pingTimeoutSeconds: number;
  /** Stanzas waiting per remote domain while its stream connects; more bounce resource-constraint. */
  queueLimit: number;
  /** Incoming s2s connections from one address. */
  connectionsPerAddress: number;
  /** Stanzas a second an incoming s2s stream may send on average, and in a burst. */
  stanzasPerSecond: number;
  stanzaBurst: number;
  /** The longest wait before a failed domain is tried again (the wait doubles from 2 s up to this). */
  maxBackoffSeconds: number;
}

/** XEP-0484 FAST: tokens a user agent logs in with instead of the password. */
export interface FastConfig {
  enabled: boolean;
  /** Seconds a token lives; a client that does not log in within it needs the password again. */
  tokenSeconds: number;
  /** A token older than this is replaced at its next use (§3.4 rotation). */
  rotateAfterSeconds: number;
  /** User agents per account that may hold tokens; the least recently issued loses its token first. */
  maxUserAgents: number;
}

/** XEP-0124's session attributes are the client's, bounded by these. */
export interface BoshConfig {
  enabled: boolean;
  /** The longest `wait` (§7.1): seconds a request is held when there is nothing to send. */
  maxWaitSeconds: number;
  /** The most requests held at once (`hold`); `requests` is one more. */
  maxHold: number;
  /** Seconds with no request held after which a session is gone (`inactivity`). */
  inactivitySeconds: number;
  /** The shortest interval between empty requests of a polling session (`polling`, §11). */
  pollingSeconds: number;
  /** The longest pause a client may ask for (`maxpause`, §10); 0: pauses are not offered. */
  maxPauseSeconds: number;
  /** Bytes of one request's body. */
  maxRequestBytes: number;
  /** BOSH sessions one address may have open (they outlive their HTTP connections). */
  sessionsPerAddress: number;
}

/** XEP-0363 HTTP File Upload: the component, its limits, and where files are fetched from. */
export interface UploadConfig {
  /** The component's domain; `{domain}` stands for each served domain. */
  domain: string;
  /** Base URL of the slots' PUT and GET URLs (a reverse proxy's, say); by default http://<c2s host>:<http port>. */
  publicUrl?: string;
  /** The largest file one slot may be for (XEP-0363 §3 max-file-size). */
  maxFileBytes: number;
  /** Bytes of files (uploaded, or slots still open) one user may hold. */
  quotaBytesPerUser: number;
  /** Bytes all users' files may take together; 0: no bound but the per-user one. */
  totalQuotaBytes: number;
  /** Days an uploaded file is kept; 0 keeps it until its owner's account goes. */
  expireDays: number;
  /** Content types accepted (`image/*` matches a major type); empty: any. */
  allowedTypes: string[];
  /** Seconds a slot may be used to upload. */
  slotSeconds: number;
  /** Slots one user may request in an hour. */
  slotsPerUserPerHour: number;
}

/** One XEP-0215 §2 service; unset host and port come from ExternalServicesConfig. */
export interface ExternalService {
  type: string;
  transport?: "udp" | "tcp";
  host?: string;
  port?: number;
  name?: string;
  /** Fixed credentials (an FTP account, say): sent as they are. */
  username?: string;
  password?: string;
  /**
   * Time-limited credentials as coturn's REST API checks them (its
   * `use-auth-secret`): true uses ExternalServicesConfig.secret, a string is
   * this service's own shared secret.
   */
  secret?: true | string;
}

export interface ExternalServicesConfig {
  /** Host and port of services that name none. */
  host?: string;
  port?: number;
  /** The shared secret of services with `secret = true`. */
  secret?: string;
  /** How long time-limited credentials are valid (XEP-0215 §3.3 `expires`). */
  credentialSeconds: number;
  services: ExternalService[];
}

export interface MetricsConfig {
  /** Serve /metrics and /health at all. */
  enabled: boolean;
  /**
   * Where: empty, on the HTTP (WebSocket) listener, answering loopback clients
   * only; or "host:port" for a listener of their own, answering anyone who can
   * reach it (with the token, when one is set).
   */
  bind: string;
  /** When set, /metrics asks for `Authorization: Bearer TOKEN` (/health does not). */
  token?: string;
}

/** XEP-0313 preferences: what is archived for a JID on neither of a user's lists (`default`). */
export type MamDefaultPolicy = "always" | "roster" | "never";

export interface MamConfig {
  /** The `default` of an account that never set its preferences. */
  defaultPolicy: MamDefaultPolicy;
  /** Days a message stays in the archive (XEP-0313 §3.2); 0 keeps it until the account goes. */
  retentionDays: number;
  /** Results per page when a query names no RSM `max` (XEP-0059 §2.1)… */
  defaultPageSize: number;
  /** …and the most it may ask for: a larger `max` gets this many. */
  maxPageSize: number;
  /** How often expired messages are swept out. */
  sweepIntervalSeconds: number;
  /**
   * Index bodies for {urn:xmpp:fulltext:0}fulltext search (SQLite FTS5). Off by
   * default: the index costs on every archived message (in the message
   * benchmark, about as much as the rest of archiving), and few clients search
   * the server.
   */
  fulltext: boolean;
}

const MAM_POLICIES: readonly MamDefaultPolicy[] = ["always", "roster", "never"];

export function isMamDefaultPolicy(v: string): v is MamDefaultPolicy {
  return (MAM_POLICIES as readonly string[]).includes(v);
}

/** Every module Parley has, loaded by default. */
export const DEFAULT_MODULES: readonly string[] = [
  "blocking", "roster", "presence", "offline", "mam", "carbons", "disco", "ping", "version", "time", "last", "contact_addresses", "register", "tombstones",
  "external_services",
  "stream_management",
  "csi",
  "muc",
  "pubsub", "vcard", "private",
  "adhoc", "admin_adhoc",
  "http_upload",
  "push",
  "component",
];

export function defaultConfig(): ServerConfig {
  return {
    domains: ["localhost"],
    c2s: { host: "127.0.0.1", port: 5222, directTlsPort: 5223, extraHosts: ["::1"] },
    http: { port: 5280 },
    tls: { requireEncryption: false },
    dataDir: path.resolve("data"),
    limits: {
      maxStanzaBytes: 256 * 1024,
      maxDepth: 64,
      idleSeconds: 900,
      unauthenticatedTimeoutSeconds: 60,
      offlineMessagesPerAccount: 1000,
      sessionsPerAccount: 10,
      connectionsPerAddress: 100,
      rosterItems: 1000,
      blockedItems: 1000,
      rosterNameLength: 256,
      rosterGroupsPerItem: 16,
      directedPresencePerSession: 1000,
      accountLockoutFailures: 50,
      offlineMessagesPerSender: 100,
      offlineBytesPerAccount: 10 * 1024 * 1024,
      subscriptionRequestBytes: 4096,
      subscriptionChangesPerContactPerMinute: 20,
      stanzasPerSecond: 500,
      stanzaBurst: 2000,
      stanzasPerTurn: 10,
      turnBudgetMs: 4,
      maxUnsentOutputBytes: 8 * 1024 * 1024,
      handshakeTimeoutSeconds: 10,
    },
    registration: { allowed: false, perAddressPerHour: 5 },
    contactAddresses: {},
    accountIdleSeconds: 60,
    scramIterations: 4096,
    logLevel: "info",
    modulesEnabled: [...DEFAULT_MODULES],
    admins: [],
    tombstoneDays: 0,
    externalServices: { credentialSeconds: 86_400, services: [] },
    streamManagement: { timeoutSeconds: 600, maxQueue: 500, csiMaxQueue: 100 },
    pubsub: {
      creators: "admins", component: true, maxItems: 256, maxItemBytes: 64 * 1024, maxNodesPerAccount: 128, maxNodesPerService: 10_000,
      maxSubscriptionsPerNode: 10_000, exposePublisher: false, capsCacheSize: 10_000, maxVcardBytes: 256 * 1024, maxPrivateBytes: 64 * 1024,
      maxPrivateElements: 64,
    },
    components: { host: "127.0.0.1", port: 5347, components: [] },
    push: { includeBody: false, includeSender: false, maxRegistrations: 5, maxErrors: 16, notificationsPerMinute: 30, timeoutSeconds: 30 },
    fast: { enabled: true, tokenSeconds: 21 * 86_400, rotateAfterSeconds: 86_400, maxUserAgents: 16 },
    adhoc: { sessionsPerRequester: 5, sessionsTotal: 1000, sessionSeconds: 600 },
    mam: { defaultPolicy: "always", retentionDays: 365, defaultPageSize: 50, maxPageSize: 250, sweepIntervalSeconds: 3600, fulltext: false },
    passwordMinLength: 8,
    metrics: { enabled: true, bind: "" },
    muc: { enabled: true, subdomain: "conference", roomsPerUser: 100, occupantsPerRoom: 1000, sessionsPerOccupant: 10, historyMessages: 20, maxRooms: 10_000, archive: true, invitesPerMessage: 10 },
    s2s: {
      enabled: true, host: "127.0.0.1", extraHosts: ["::1"], port: 5269, requireTls: true, insecureDomains: [], secureDomains: [],
      blockedDomains: [], routes: {}, connectTimeoutSeconds: 10, idleSeconds: 300, pingIntervalSeconds: 60, pingTimeoutSeconds: 30, queueLimit: 500,
      connectionsPerAddress: 10, stanzasPerSecond: 2000, stanzaBurst: 5000, maxBackoffSeconds: 300,
    },
    upload: {
      domain: "upload.{domain}", maxFileBytes: 100 * 1024 * 1024, quotaBytesPerUser: 1024 * 1024 * 1024, totalQuotaBytes: 0,
      expireDays: 30, allowedTypes: [], slotSeconds: 300, slotsPerUserPerHour: 100,
    },
    bosh: { enabled: true, maxWaitSeconds: 60, maxHold: 1, inactivitySeconds: 60, pollingSeconds: 2, maxPauseSeconds: 120, maxRequestBytes: 260 * 1024, sessionsPerAddress: 20 },
  };
}

export class ConfigError extends Error {
  constructor(readonly key: string, problem: string) {
    super(`configuration: ${key}: ${problem}`);
    this.name = "ConfigError";
  }
}

/** Throws ConfigError naming the first bad key. */
export function validateConfig(c: ServerConfig): ServerConfig {
  if (c.domains.length === 0) throw new ConfigError("domains", "at least one domain is required");
  for (const d of c.domains) {
    if (!/^[a-z0-9.-]+$/i.test(d) && !/^\[[0-9a-f:.]+\]$/i.test(d)) {
      throw new ConfigError("domains", `'${d}' is not a valid domain name`);
    }
  }
  for (const [key, port] of [["c2s.port", c.c2s.port], ["c2s.directTlsPort", c.c2s.directTlsPort], ["http.port", c.http.port]] as const) {
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new ConfigError(key, `${port} is not a port number (0-65535)`);
    }
  }
  if ((c.tls.certFile === undefined) !== (c.tls.keyFile === undefined)) {
    throw new ConfigError(c.tls.certFile === undefined ? "tls.certFile" : "tls.keyFile", "certFile and keyFile go together");
  }
  for (const [k, v] of Object.entries(c.limits)) {
    // turnBudgetMs alone may be 0: no time budget per turn.
    if (k === "turnBudgetMs" && v === 0) continue;
    if (!Number.isInteger(v) || v <= 0) throw new ConfigError(`limits.${k}`, `${v} must be a positive integer`);
  }
  const mam = c.mam;
  if (!isMamDefaultPolicy(mam.defaultPolicy)) throw new ConfigError("mam.defaultPolicy", `must be one of ${MAM_POLICIES.join(", ")}, got '${mam.defaultPolicy}'`);
  if (!Number.isInteger(mam.retentionDays) || mam.retentionDays < 0) {
    throw new ConfigError("mam.retentionDays", `${mam.retentionDays} must be 0 (keep until the account is deleted) or a positive number of days`);
  }
  for (const [k, v] of [["defaultPageSize", mam.defaultPageSize], ["maxPageSize", mam.maxPageSize], ["sweepIntervalSeconds", mam.sweepIntervalSeconds]] as const) {
    if (!Number.isInteger(v) || v <= 0) throw new ConfigError(`mam.${k}`, `${v} must be a positive integer`);
  }
  if (mam.defaultPageSize > mam.maxPageSize) {
    throw new ConfigError("mam.defaultPageSize", `${mam.defaultPageSize} is more than mam.maxPageSize (${mam.maxPageSize})`);
  }
  if (c.limits.maxStanzaBytes < 10_000) {
    throw new ConfigError("limits.maxStanzaBytes", "must be at least 10000 (RFC 6120 §13.12)");
  }
  if (c.limits.maxUnsentOutputBytes < c.limits.maxStanzaBytes) {
    throw new ConfigError("limits.maxUnsentOutputBytes", `${c.limits.maxUnsentOutputBytes} is less than one stanza (maxStanzaBytes, ${c.limits.maxStanzaBytes})`);
  }
  if (!Number.isInteger(c.passwordMinLength) || c.passwordMinLength < 1) {
    throw new ConfigError("password_min_length", `${c.passwordMinLength} must be a positive integer`);
  }
  if (c.metrics.bind !== "") parseHostPort(c.metrics.bind, "metrics.bind");
  validateS2s(c.s2s);
  return c;
}

/** "127.0.0.1:9102", "[::1]:9102": the host and port of a listener of its own. */
export function parseHostPort(value: string, key: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\[\]]+)):(\d+)$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port > 65535) throw new ConfigError(key, `'${value}' is not host:port (e.g. 127.0.0.1:9102 or [::1]:9102)`);
  return { host: (m[1] ?? m[2]) as string, port };
}

/** The refusal of a new password shorter than password_min_length, or undefined when it is long enough. */
export function passwordTooShort(c: ServerConfig, password: string): string | undefined {
  const length = [...password].length;
  return length < c.passwordMinLength
    ? `the password must have at least ${c.passwordMinLength} characters (it has ${length}); password_min_length sets the minimum`
    : undefined;
}

export function databasePath(c: ServerConfig): string {
  return path.join(c.dataDir, "parley.sqlite");
}

function validateS2s(s: S2sConfig): void {
  for (const [key, port] of [["s2s.port", s.port], ["s2s.directTlsPort", s.directTlsPort ?? 0]] as const) {
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(key, `${port} is not a port number (0-65535)`);
  }
  for (const [k, v] of [["connectTimeoutSeconds", s.connectTimeoutSeconds], ["idleSeconds", s.idleSeconds], ["queueLimit", s.queueLimit],
    ["connectionsPerAddress", s.connectionsPerAddress], ["stanzasPerSecond", s.stanzasPerSecond], ["stanzaBurst", s.stanzaBurst],
    ["maxBackoffSeconds", s.maxBackoffSeconds], ["pingTimeoutSeconds", s.pingTimeoutSeconds]] as const) {
    if (!Number.isInteger(v) || v <= 0) throw new ConfigError(`s2s.${k}`, `${v} must be a positive integer`);
  }
  if (!Number.isInteger(s.pingIntervalSeconds) || s.pingIntervalSeconds < 0) throw new ConfigError("s2s.pingIntervalSeconds", `${s.pingIntervalSeconds} must be 0 (no pings) or a positive integer`);
  for (const [domain, target] of Object.entries(s.routes)) parseHostPort(target, `s2s.routes.${domain}`);
}
