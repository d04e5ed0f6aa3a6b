// A running Parley server: the event store, the actor system, the c2s
// listener, and the Host/SessionEnvironment services the actors use.
import { mkdirSync } from "node:fs";
import { el, type XmlElement } from "../xml/element.js";
import { NS } from "../xmpp/namespaces.js";
import { tryParseJid, parseJid } from "../jid/jid.js";
import { databasePath, validateConfig, type ServerConfig } from "../config.js";
import { Logger } from "../util/logger.js";
import { EventStore } from "../events/store.js";
import { accountStreamId, type NewEvent, type StoredEvent } from "../events/types.js";
import { emptyRosterState, type RosterState } from "../roster/roster-types.js";
import { evolveAccountStream } from "../roster/roster-evolve.js";
import { registerStandardProjections, checksumProjection } from "../projections/index.js";
import { getCredential, listAccounts } from "../accounts/account-service.js";
import { IqRegistry } from "../routing/iq-registry.js";
import { OfflineStore } from "../modules/offline-store.js";
import { errorReply, type StanzaErrorSpec } from "../xmpp/errors.js";
import type { AccountContext, Host, ServerIqContext } from "./host.js";
import type { SessionEnvironment } from "../actors/session-environment.js";
import type { AccountRef } from "../actors/account-types.js";
import type { AccountRuntime } from "../actors/account-runtime.js";
import type { StreamPort } from "../actors/stream-port.js";
import { SUPPORTED_MECHANISMS, CHANNEL_BINDING_MECHANISMS, type CredentialLookup } from "../sasl/mechanism.js";
import { Supervisor } from "../actors/supervisor.js";
import { CommitGate } from "../events/commit-gate.js";
import { serverIq } from "../modules/iq.js";
import { installPing } from "../modules/ping.js";
import { installVersion } from "../modules/version.js";
import { installDisco } from "../modules/disco.js";
import { installRoster } from "../modules/roster.js";
import { installBlocking } from "../modules/blocking.js";
import { installEntityTime } from "../modules/entity-time.js";
import { installLastActivity, LastActivityStore } from "../modules/last-activity.js";
import { installContactAddresses } from "../modules/contact-addresses.js";
import { installRegistration, preAuthRegistration, type RegistrationDeps } from "../modules/registration.js";
import { C2sListener } from "../net/c2s-listener.js";
import { WebSocketListener, WEBSOCKET_PATH } from "../net/websocket-listener.js";
import { SessionRegistry } from "../net/session-registry.js";
import { loadOrCreateCertificate } from "../net/certificates.js";
import { AccountDirectory } from "./account-directory.js";
import { AuthFailureTracker } from "./auth-failures.js";

export class ParleyServer implements Host, SessionEnvironment {
  readonly log: Logger;
  readonly iq = new IqRegistry<ServerIqContext, AccountContext>();
  readonly store: EventStore;
  /** Group commit: one transaction per event-loop turn, output held until it is durable. */
  readonly commitGate: CommitGate;
  readonly offline: OfflineStore;
  readonly lastActivity: LastActivityStore;
  private readonly registration: RegistrationDeps;
  readonly defaultDomain: string;
  private readonly domains: Set<string>;
  private readonly actors: Supervisor;
  private readonly directory: AccountDirectory;
  private readonly authFailures = new AuthFailureTracker();
  private readonly c2s: C2sListener;
  private readonly websocket: WebSocketListener;
  private readonly sessions: SessionRegistry;
  private tailTimer: NodeJS.Timeout | undefined;

  private constructor(readonly config: ServerConfig, log: Logger, tlsCredentials: { key: string; cert: string }) {
    this.log = log;
    this.domains = new Set(config.domains.map((d) => d.toLowerCase()));
    this.defaultDomain = config.domains[0] ?? "localhost";
    this.store = EventStore.open(databasePath(config));
    this.commitGate = new CommitGate(this.store.db, {
      fatal: (message, error) => {
        log.error(message, { error });
        process.exit(75);
      },
      warn: (message) => log.warn(message),
    });
    this.store.useCommitGate(this.commitGate);
    registerStandardProjections(this.store);
    this.offline = new OfflineStore(this.store.db, config.limits.offlineMessagesPerAccount);
    this.lastActivity = new LastActivityStore(this.store.db);
    this.registration = {
      store: this.store, allowed: config.registration.allowed, iterations: config.scramIterations,
      perAddressPerHour: config.registration.perAddressPerHour, recent: new Map(),
    };
    this.directory = new AccountDirectory(this.store, listAccounts(this.store.db), (jid, deleted) => {
      const ref = this.runningAccount(jid);
      if (!ref) return;
      ref.send(deleted ? { type: "account.deleted" } : { type: "account.refresh" });
    });
    this.actors = new Supervisor(log);
    installPing(this);
    installVersion(this);
    installDisco(this);
    installRoster(this);
    installBlocking(this);
    installEntityTime(this);
    installLastActivity(this, new Date());
    installContactAddresses(this);
    installRegistration(this, this.registration);
    this.sessions = new SessionRegistry(config.limits);
    this.c2s = new C2sListener(this, this.sessions, tlsCredentials);
    this.websocket = new WebSocketListener(this, this.sessions);
  }

  static async start(config: ServerConfig, log = new Logger(config.logLevel)): Promise<ParleyServer> {
    validateConfig(config);
    mkdirSync(config.dataDir, { recursive: true });
    const certificate = await loadOrCreateCertificate(config, log);
    const server = new ParleyServer(config, log, { key: certificate.key, cert: certificate.cert });
    try {
      await server.c2s.listen(config.c2s.host, config.c2s.port, config.c2s.directTlsPort);
      await server.websocket.listen(config.c2s.host, config.http.port);
    } catch (err) {
      await server.c2s.close();
      await server.websocket.close();
      server.actors.stopAll();
      server.store.close();
      throw err;
    }
    server.tailTimer = setInterval(() => server.directory.catchUp(), 1000);
    server.tailTimer.unref();
    log.info("Parley started", {
      domains: config.domains.join(","), c2s: `${config.c2s.host}:${server.c2sPort}`,
      directTls: `${config.c2s.host}:${server.directTlsPort}`,
      websocket: `ws://${config.c2s.host}:${server.httpPort}${WEBSOCKET_PATH}`, data: config.dataDir,
      certificate: certificate.certFile, requireEncryption: config.tls.requireEncryption,
    });
    return server;
  }

  /** The in-memory roster state of a running account actor (for tests and debugging). */
  accountState(bareJid: string): RosterState | undefined {
    return this.actors.account(bareJid)?.getSnapshot().context.runtime.roster;
  }

  /** A session actor's state by stream id (the id in the server's stream header). */
  sessionState(sessionId: string): string | undefined {
    return this.sessions.stateOf(sessionId);
  }

  get c2sPort(): number {
    return this.c2s.port;
  }

  get directTlsPort(): number {
    return this.c2s.directTlsPort;
  }

  get httpPort(): number {
    return this.websocket.port;
  }

  /** Close every stream with system-shutdown, then the store. */
  async stop(): Promise<void> {
    if (this.tailTimer) clearInterval(this.tailTimer);
    const listenersClosed = Promise.all([this.c2s.close(), this.websocket.close()]);
    await this.sessions.closeAll();
    await listenersClosed;
    this.actors.stopAll();
    this.lastActivity.flush();
    this.commitGate.flush();
    this.store.close();
    this.log.info("Parley stopped");
  }

  /** A checksum per projection of its live tables (compare with one taken after a rebuild). */
  projectionChecksums(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const p of this.store.projectionsRegistered()) out[p.name] = checksumProjection(this.store.db, p);
    return out;
  }

  // ---- Host ----

  servesDomain(domain: string): boolean {
    return this.domains.has(domain);
  }

  accountExists(bareJid: string): boolean {
    return this.directory.exists(bareJid);
  }

  now(): Date {
    return new Date();
  }

  loadAccountState(runtime: AccountRuntime): void {
    let roster = emptyRosterState;
    let version = 0;
    for (const e of this.store.readStream(accountStreamId(runtime.bareJid))) {
      version = e.streamVersion;
      roster = evolveAccountStream(roster, e);
    }
    runtime.roster = roster;
    runtime.streamVersion = version;
  }

  appendAccountEvents(bareJid: string, expectedVersion: number, events: NewEvent[]): StoredEvent[] {
    return this.store.append(accountStreamId(bareJid), expectedVersion, events);
  }

  route(stanza: XmlElement): void {
    const to = stanza.attrs.to;
    if (to === undefined) {
      this.log.warn("dropping a routed stanza without 'to'", { from: stanza.attrs.from, name: stanza.name });
      return;
    }
    const jid = tryParseJid(to);
    if (!jid) {
      this.bounce(stanza, { condition: "jid-malformed", text: `'${to}' is not a valid JID` }, this.defaultDomain);
      return;
    }
    if (!this.servesDomain(jid.domain)) {
      // No server-to-server yet: other domains are unreachable.
      this.bounce(stanza, { condition: "remote-server-not-found", text: `${jid.domain} is not served here` });
      return;
    }
    if (jid.local === "") {
      this.toServer(stanza, jid.domain);
      return;
    }
    const bare = jid.bareString();
    if (!this.accountExists(bare)) {
      this.toUnknownUser(stanza, bare);
      return;
    }
    this.account(bare).send({ type: "stanza.inbound", stanza });
  }

  bounce(stanza: XmlElement, error: StanzaErrorSpec, from?: string): void {
    if (stanza.attrs.type === "error" || stanza.attrs.from === undefined) return;
    // Results need no answer either (RFC 6120 §8.2.3).
    if (stanza.name === "iq" && stanza.attrs.type === "result") return;
    this.route(errorReply(stanza, error, from ?? stanza.attrs.to ?? this.defaultDomain));
  }

  private toServer(stanza: XmlElement, domain: string): void {
    const from = stanza.attrs.from;
    const requester = from === undefined ? undefined : tryParseJid(from);
    if (stanza.name === "iq") {
      if (requester) serverIq(this, { host: this, domain, requester }, stanza);
      return;
    }
    if (stanza.name === "message") this.bounce(stanza, { condition: "service-unavailable" });
    // Presence to the server itself has no meaning here; dropped.
  }

  /** RFC 6121 §8.5.2.2 (messages, IQs) and §3.1.3/§4.3 (subscriptions, probes) for a user that does not exist. */
  private toUnknownUser(stanza: XmlElement, bare: string): void {
    if (stanza.name === "presence") {
      const type = stanza.attrs.type;
      const from = stanza.attrs.from;
      if ((type === "subscribe" || type === "probe") && from !== undefined) {
        // "unsubscribed" tells the asker this contact will never share presence.
        this.route(el("presence", NS.client, { type: "unsubscribed", from: bare, to: from }));
      }
      return;
    }
    this.bounce(stanza, { condition: "service-unavailable" });
  }

  // ---- SessionEnvironment ----

  /** RFC 6120 §6.4.1: no mechanisms are offered where authentication is not allowed yet. */
  mechanismsFor(conn: StreamPort): string[] {
    if (!this.mayAuthenticate(conn)) return [];
    const plus = conn.secure && Object.keys(conn.channelBindings()).length > 0;
    return plus ? [...CHANNEL_BINDING_MECHANISMS, ...SUPPORTED_MECHANISMS] : [...SUPPORTED_MECHANISMS];
  }

  /** TLS first (RFC 6120 §5.3.1); loopback counts as secure unless encryption is required. */
  mayAuthenticate(conn: StreamPort): boolean {
    return conn.secure || (conn.isLoopback && !this.config.tls.requireEncryption);
  }

  credentialLookup(domain: string): CredentialLookup {
    return (username, hash) => {
      const jid = tryParseJid(`${username}@${domain}`);
      if (!jid || jid.resource !== "") return undefined;
      return getCredential(this.store.db, jid.bareString(), hash);
    };
  }

  account(bareJid: string): AccountRef {
    const running = this.runningAccount(bareJid);
    if (running) return running;
    return this.actors.startAccount({
      jid: parseJid(bareJid),
      host: this,
      onStopped: (jid) => queueMicrotask(() => this.actors.stopAccount(jid)),
    });
  }

  private runningAccount(bareJid: string): AccountRef | undefined {
    return this.actors.account(bareJid);
  }

  noteAuthFailure(address: string, account: string | undefined): void {
    this.authFailures.note(`address ${address}`);
    // Per account too, so that guessing one account's password from many addresses slows down as well.
    if (account !== undefined) this.authFailures.note(`account ${account}`);
  }

  authFailuresFor(address: string, account: string | undefined): number {
    const byAddress = this.authFailures.count(`address ${address}`);
    return account === undefined ? byAddress : Math.max(byAddress, this.authFailures.count(`account ${account}`));
  }

  sessionClosed(sessionId: string): void {
    this.sessions.forget(sessionId);
    queueMicrotask(() => this.actors.stopSession(sessionId));
  }

  preAuthRegistration(domain: string, iq: XmlElement, address: string): XmlElement {
    return preAuthRegistration(this.registration, domain, iq, address);
  }

  /** Start a session actor for a new connection (called by the c2s listener). */
  startSession(sessionId: string, conn: StreamPort) {
    return this.actors.startSession({ sessionId, conn, env: this });
  }
}

