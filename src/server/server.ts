// A running Parley server, as a lifecycle: open the event store, build the
// kernel (hook bus, router, account commands), load the configured modules,
// route the served domains, start the listeners; stop them all in order.
import type { XmlElement } from "../xml/element.js";
import { parseJid, type Jid } from "../jid/jid.js";
import { databasePath, validateConfig, type ServerConfig } from "../config.js";
import { Logger } from "../util/logger.js";
import { EventStore } from "../events/store.js";
import type { StoredEvent } from "../events/types.js";
import type { RosterState } from "../roster/roster-types.js";
import { registerStandardProjections, checksumProjection } from "../projections/index.js";
import { listAccounts } from "../accounts/account-service.js";
import type { AccountRef } from "../actors/account-types.js";
import { createAccountMachine } from "../actors/account-machine.js";
import { Supervisor } from "../actors/supervisor.js";
import { CommitGate } from "../events/commit-gate.js";
import { SubjectIndexer } from "../events/subject-indexer.js";
import { subjectIndexFile } from "../events/subject-index.js";
import { Kernel } from "../kernel/kernel.js";
import { localHostDestination } from "../kernel/local-host.js";
import { enabledModules } from "../modules/index.js";
import { C2sListener } from "../net/c2s-listener.js";
import { WebSocketListener, WEBSOCKET_PATH } from "../net/websocket-listener.js";
import { SessionRegistry } from "../net/session-registry.js";
import { loadOrCreateCertificate, type ServerCertificate } from "../net/certificates.js";
import { AccountDirectory } from "./account-directory.js";
import { SessionServices } from "./session-services.js";
import { describeMode, secureDataDir } from "../util/file-modes.js";
import { ConnectionTracker } from "../ops/connections.js";
import { AdminSocketServer } from "../ops/admin-socket.js";
import type { ServerStatus } from "../ops/status.js";
import { PARLEY_VERSION } from "../version.js";
import { X509Certificate } from "node:crypto";
import path from "node:path";
import { ServerMetrics } from "../metrics/metrics.js";
import { metricsRoute, MetricsListener, type MetricsEndpoints } from "../metrics/http.js";
import { UPLOAD_DIR_NAME } from "../ops/backup.js";
import { S2sService } from "../s2s/service.js";
import { DIALBACK_SECRET } from "../s2s/dialback.js";
import { loadOrCreateSecret } from "./server-secret.js";
import { hostMetaRoute } from "../net/host-meta.js";
import { BoshEndpoint, BOSH_PATH } from "../net/bosh.js";

const ACCOUNT_STREAM = "account:";

/** The event store, or an error that names the file and why it cannot be used (corrupt, read-only, locked). */
function openDatabase(file: string): EventStore {
  try {
    return EventStore.open(file);
  } catch (err) {
    throw new Error(`cannot use the database ${file}: ${(err as Error).message}`, { cause: err });
  }
}

export class ParleyServer {
  readonly log: Logger;
  readonly store: EventStore;
  /** Group commit: one transaction per event-loop turn, output held until it is durable. */
  readonly commitGate: CommitGate;
  readonly kernel: Kernel;
  readonly defaultDomain: string;
  private readonly domains: Set<string>;
  private readonly actors: Supervisor;
  private readonly directory: AccountDirectory;
  private readonly c2s: C2sListener;
  private readonly websocket: WebSocketListener;
  /** BOSH at /http-bind on the WebSocket listener, unless bosh.enabled is false. */
  private bosh: BoshEndpoint | undefined;
  private readonly sessions: SessionRegistry;
  private readonly sessionServices: SessionServices;
  private tailTimer: NodeJS.Timeout | undefined;
  /** The thread that keeps the log's index by contact behind the log (none for an in-memory log). */
  private readonly subjectIndexer: SubjectIndexer | undefined;
  /** Every open client connection: the connection log lines, status and metrics. */
  readonly connections: ConnectionTracker;
  readonly startedAt = new Date();
  private adminSocket: AdminSocketServer | undefined;
  /** Undefined when metrics.enabled is false. */
  readonly metrics: ServerMetrics | undefined;
  private metricsListener: MetricsListener | undefined;
  private listening = false;
  private certificate: ServerCertificate;
  /** The local destination every served domain routes to (a domain added by reload gets it too). */
  private readonly localDestination: ReturnType<typeof localHostDestination>;
  /** Federation (src/s2s/); undefined when s2s.enabled is false. */
  readonly s2s: S2sService | undefined;

  private constructor(readonly config: ServerConfig, log: Logger, certificate: ServerCertificate) {
    this.log = log;
    this.certificate = certificate;
    const tlsCredentials = { key: certificate.key, cert: certificate.cert };
    this.connections = new ConnectionTracker(log);
    this.domains = new Set(config.domains.map((d) => d.toLowerCase()));
    this.defaultDomain = config.domains[0] ?? "localhost";
    this.store = openDatabase(databasePath(config));
    this.commitGate = new CommitGate(this.store.db, {
      fatal: (message, error) => {
        log.error(message, { error });
        process.exit(75);
      },
      warn: (message) => log.warn(message),
    });
    this.store.useCommitGate(this.commitGate);
    const file = databasePath(config);
    if (subjectIndexFile(file) !== undefined) this.subjectIndexer = new SubjectIndexer(file, { problem: (message) => log.warn(message) });
    const snapshots = registerStandardProjections(this.store);
    this.kernel = new Kernel({
      config, log, store: this.store, snapshots, defaultDomain: this.defaultDomain,
      accountExists: (bare) => this.directory.exists(bare),
      continueInAccount: (bare, run) => this.account(bare).send({ type: "account.continue", run }),
      withRunningAccount: (bare, action) => {
        const running = this.actors.account(bare);
        if (!running) return false;
        running.send({ type: "account.continue", run: () => action(running.getSnapshot().context.runtime) });
        return true;
      },
      httpPort: () => this.websocket.port,
    });
    this.actors = new Supervisor(log, createAccountMachine(this.kernel));
    this.directory = new AccountDirectory(this.store, listAccounts(this.store.db), (event, foreign) => this.accountChanged(event, foreign));
    const local = localHostDestination(this.kernel, {
      exists: (bare) => this.directory.exists(bare),
      running: (bare) => this.actors.account(bare) !== undefined,
      deliverInbound: (bare, stanza, to) => this.account(bare).send({ type: "stanza.inbound", stanza, to }),
    });
    this.localDestination = local;
    for (const domain of this.domains) this.kernel.router.addDestination(domain, local);
    if (config.s2s.enabled) {
      this.s2s = new S2sService({
        config, log, router: this.kernel.router, gate: this.commitGate, domains: this.domains, credentials: tlsCredentials,
        secret: loadOrCreateSecret(this.store.db, DIALBACK_SECRET),
      });
      this.kernel.router.setRemote(this.s2s.destination());
    }
    this.kernel.loadModules(enabledModules(config.modulesEnabled, { store: this.store }));
    this.kernel.catchUpDeletions();
    this.sessions = new SessionRegistry(config.limits);
    this.kernel.hooks.on("resource-bind", ({ session }) => this.connections.bound(session.session.sessionId, session.fullJid), 0, "ops");
    this.kernel.hooks.on("resource-unbind", ({ session }) => this.connections.unbound(session.session.sessionId), 0, "ops");
    this.sessionServices = new SessionServices({
      config, log, store: this.store, hooks: this.kernel.hooks, domains: this.domains, commitGate: this.commitGate,
      connections: this.connections,
      account: (bare) => this.account(bare),
      sessionClosed: (id) => {
        this.sessions.forget(id);
        queueMicrotask(() => this.actors.stopSession(id));
      },
      startSession: (sessionId, conn, env) => this.actors.startSession({ sessionId, conn, env }),
    });
    this.c2s = new C2sListener(this.sessionServices, this.sessions, tlsCredentials);
    // TLS on the HTTP port (https, wss) when a certificate is configured; plain HTTP beside a generated one.
    this.websocket = new WebSocketListener(this.sessionServices, this.sessions, config.tls.certFile !== undefined ? tlsCredentials : undefined);
    for (const route of this.kernel.httpRoutes) this.websocket.addRoute(route);
    if (config.bosh.enabled) {
      this.bosh = new BoshEndpoint(this.sessionServices, this.sessions, config.bosh);
      this.websocket.addRoute(this.bosh.route());
    }
    this.websocket.addRoute(hostMetaRoute({
      websocketPath: WEBSOCKET_PATH, boshPath: config.bosh.enabled ? BOSH_PATH : undefined, publicUrl: config.http.publicUrl, tls: this.websocket.secure,
    }));
    if (config.metrics.enabled) {
      const metrics = new ServerMetrics({
        connections: () => this.connections.summary(),
        accounts: () => this.directory.count,
        accountActors: () => this.actors.accountCount,
        db: this.store.db,
        databaseFile: databasePath(config),
        uploadDir: path.join(config.dataDir, UPLOAD_DIR_NAME),
        version: PARLEY_VERSION,
        startedAt: this.startedAt,
      });
      this.metrics = metrics;
      this.connections.countWith(metrics);
      this.commitGate.measureWith(metrics);
      this.store.onAppended((events) => metrics.appended(events));
      const endpoints: MetricsEndpoints = { exposition: () => metrics.exposition(), unhealthy: () => this.unhealthy() };
      const route = metricsRoute(endpoints, config.metrics, config.metrics.bind === "", (err) => log.error("collecting the metrics failed", { error: err.message }));
      if (config.metrics.bind === "") this.websocket.addRoute(route);
      else this.metricsListener = new MetricsListener(route);
    }
  }

  /** /health: undefined when the listeners are up and the database answers, else what is wrong. */
  unhealthy(): string | undefined {
    if (!this.listening) return "not listening (starting or stopping)";
    try {
      this.store.db.prepare("SELECT 1").get();
    } catch (err) {
      return `the database does not answer: ${(err as Error).message}`;
    }
    return undefined;
  }

  static async start(config: ServerConfig, log = new Logger(config.logLevel)): Promise<ParleyServer> {
    validateConfig(config);
    for (const fixed of secureDataDir(config.dataDir)) log.warn(`narrowed the mode of a data file: ${describeMode(fixed)}`);
    const certificate = await loadOrCreateCertificate(config, log);
    const server = new ParleyServer(config, log, certificate);
    // SQLite makes its files with the process's umask: the database, its WAL and shared memory are ours alone.
    secureDataDir(config.dataDir);
    try {
      const also = config.c2s.extraHosts ?? [];
      await server.c2s.listen(config.c2s.host, config.c2s.port, config.c2s.directTlsPort, also);
      await server.websocket.listen(config.c2s.host, config.http.port, also);
      await server.s2s?.listen();
      if (server.metricsListener) await server.metricsListener.listen(config.metrics.bind);
      server.adminSocket = await AdminSocketServer.listen(config.dataDir, (request) => server.adminCommand(request.command),
        (reason) => log.warn(reason));
    } catch (err) {
      await server.c2s.close();
      await server.websocket.close();
      await server.s2s?.stop();
      await server.metricsListener?.close();
      server.actors.stopAll();
      server.store.close();
      throw err;
    }
    server.listening = true;
    server.kernel.hooks.fire("server-started", {});
    server.tailTimer = setInterval(() => server.directory.catchUp(), 1000);
    server.tailTimer.unref();
    server.subjectIndexer?.start();
    log.info("Parley started", {
      domains: config.domains.join(","), c2s: `${config.c2s.host}:${server.c2sPort}`,
      directTls: `${config.c2s.host}:${server.directTlsPort}`,
      websocket: `${server.websocket.secure ? "wss" : "ws"}://${config.c2s.host}:${server.httpPort}${WEBSOCKET_PATH}`,
      s2s: server.s2s ? `${config.s2s.host}:${server.s2s.port}` : "disabled",
      alsoOn: (config.c2s.extraHosts ?? []).join(",") || undefined, data: config.dataDir,
      certificate: certificate.certFile, requireEncryption: config.tls.requireEncryption,
      modules: server.kernel.modulesLoaded.join(","),
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

  /** The port of the metrics listener of its own (metrics.bind), if there is one. */
  get metricsPort(): number | undefined {
    return this.metricsListener?.port;
  }

  /** Sends a stanza as the server would (tests, administration). */
  route(stanza: XmlElement): void {
    this.kernel.router.route(stanza);
  }

  /** What `parley status` shows. */
  status(): ServerStatus {
    const x509 = new X509Certificate(this.certificate.cert);
    return {
      pid: process.pid, version: PARLEY_VERSION, node: process.versions.node,
      startedAt: this.startedAt.toISOString(), uptimeSeconds: Math.round((Date.now() - this.startedAt.getTime()) / 1000),
      domains: [...this.domains], dataDir: this.config.dataDir,
      hosts: [this.config.c2s.host, ...(this.config.c2s.extraHosts ?? [])],
      ports: {
        c2s: this.c2sPort, directTls: this.directTlsPort, http: this.httpPort,
        metrics: this.metrics === undefined ? undefined : this.metricsListener ? `${this.config.metrics.bind.replace(/:\d+$/, "")}:${this.metricsListener.port}` : `http port, /metrics`,
        s2s: this.s2s === undefined ? undefined : `${this.config.s2s.host}:${this.s2s.port}${this.s2s.directTlsPort === undefined ? "" : ` (Direct TLS ${this.s2s.directTlsPort})`}`,
      },
      certificate: { file: this.certificate.certFile, selfSigned: this.certificate.selfSigned, sha256: x509.fingerprint256, validTo: x509.validTo },
      connections: this.connections.summary(),
      accountsRunning: this.actors.accountCount,
      accounts: this.directory.count,
      modules: [...this.kernel.modulesLoaded],
      logLevel: this.config.logLevel,
    };
  }

  /** The admin socket's commands (src/ops/admin-socket.ts). */
  private adminCommand(command: string): unknown {
    switch (command) {
      case "status": return this.status();
      case "online": return this.connections.boundJids();
      default: throw new Error(`unknown command (status, online)`);
    }
  }

  /**
   * SIGHUP (issue 20, part 4): applies what can change without dropping a
   * session — the log level, the limits (to everything that reads them per
   * use: connection caps, timeouts, rates; a value a module copied at start
   * stays until a restart), new domains, and the TLS certificate (new
   * handshakes use it; established streams keep theirs). Everything else that
   * changed is returned as needing a restart, and left as it was. An invalid
   * configuration throws and changes nothing.
   */
  async reload(next: ServerConfig): Promise<{ applied: string[]; restartNeeded: string[] }> {
    validateConfig(next);
    const applied: string[] = [];
    const restartNeeded: string[] = [];
    const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
    const nextDomains = next.domains.map((d) => d.toLowerCase());
    const removed = [...this.domains].filter((d) => !nextDomains.includes(d));
    if (removed.length > 0) restartNeeded.push(`removing domains (${removed.join(", ")})`);
    // The certificate first: a new domain's self-signed certificate must cover it before it is served.
    const certificate = await loadOrCreateCertificate({ ...this.config, domains: [...this.config.domains, ...nextDomains.filter((d) => !this.domains.has(d))], tls: next.tls }, this.log);
    if (certificate.cert !== this.certificate.cert || certificate.key !== this.certificate.key) {
      this.c2s.setCredentials({ key: certificate.key, cert: certificate.cert });
      this.s2s?.setCredentials({ key: certificate.key, cert: certificate.cert });
      this.websocket.setCredentials({ key: certificate.key, cert: certificate.cert });
      this.certificate = certificate;
      const x509 = new X509Certificate(certificate.cert);
      applied.push(`certificate ${certificate.certFile} (SHA-256 ${x509.fingerprint256}, valid to ${x509.validTo})`);
    }
    // The HTTP port is HTTPS or HTTP from the start (a configured certificate or none).
    if ((next.tls.certFile !== undefined) !== this.websocket.secure) restartNeeded.push("tls.cert on the HTTP port (https when started with a certificate)");
    this.config.tls.certFile = next.tls.certFile;
    this.config.tls.keyFile = next.tls.keyFile;
    const added = nextDomains.filter((d) => !this.domains.has(d));
    for (const d of added) {
      this.domains.add(d);
      this.config.domains.push(d);
      this.kernel.router.addDestination(d, this.localDestination);
    }
    if (added.length > 0) applied.push(`domains added: ${added.join(", ")}`);
    // Components are made per domain when their module loads (pubsub.<domain>, the MUC service).
    const withComponents = this.kernel.modulesLoaded.filter((m) => m === "pubsub" || m === "muc");
    if (added.length > 0 && withComponents.length > 0) restartNeeded.push(`the ${withComponents.join(" and ")} services of ${added.join(", ")}`);
    if (next.logLevel !== this.log.level) {
      applied.push(`log level ${this.log.level} → ${next.logLevel}`);
      this.log.setLevel(next.logLevel);
      this.config.logLevel = next.logLevel;
    }
    const limits = this.config.limits as unknown as Record<string, unknown>;
    const nextLimits = next.limits as unknown as Record<string, unknown>;
    const changedLimits = Object.keys(nextLimits).filter((k) => !same(limits[k], nextLimits[k]));
    for (const k of changedLimits) limits[k] = nextLimits[k];
    if (changedLimits.length > 0) applied.push(`limits: ${changedLimits.map((k) => `${k}=${JSON.stringify(nextLimits[k])}`).join(", ")}`);
    if (next.tls.requireEncryption !== this.config.tls.requireEncryption) {
      this.config.tls.requireEncryption = next.tls.requireEncryption;
      applied.push(`require_encryption ${next.tls.requireEncryption}`);
    }
    const handled = new Set(["domains", "logLevel", "limits", "tls"]);
    const current = this.config as unknown as Record<string, unknown>;
    const incoming = next as unknown as Record<string, unknown>;
    for (const key of Object.keys(incoming)) {
      if (!handled.has(key) && !same(current[key], incoming[key])) restartNeeded.push(key);
    }
    return { applied, restartNeeded };
  }

  /** Close every stream with system-shutdown, then the store. */
  async stop(): Promise<void> {
    if (this.tailTimer) clearInterval(this.tailTimer);
    this.listening = false;
    await this.adminSocket?.close();
    await this.metricsListener?.close();
    const listenersClosed = Promise.all([this.c2s.close(), this.websocket.close()]);
    await this.sessions.closeAll();
    await this.s2s?.stop();
    this.bosh?.closeAll();
    await listenersClosed;
    this.actors.stopAll();
    this.kernel.hooks.fire("server-stopping", {});
    this.commitGate.flush();
    await this.subjectIndexer?.stop();
    this.store.close();
    await this.commitGate.threadsStopped();
    this.log.info("Parley stopped");
  }

  /** A checksum per projection of its live tables (compare with one taken after a rebuild). */
  projectionChecksums(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const p of this.store.projectionsRegistered()) out[p.name] = checksumProjection(this.store.db, p);
    return out;
  }

  /** The account actor of a local user, started on demand. */
  private account(bareJid: string): AccountRef {
    const running = this.actors.account(bareJid);
    if (running) return running;
    return this.actors.startAccount({
      jid: parseJid(bareJid) as Jid,
      onStopped: (jid) => queueMicrotask(() => this.actors.stopAccount(jid)),
    });
  }

  /**
   * An account event from this process or another (the CLI): a deletion
   * closes the account's sessions and removes its storage; anything another
   * process appended is folded into the running actor.
   */
  private accountChanged(event: StoredEvent, foreign: boolean): void {
    if (!event.streamId.startsWith(ACCOUNT_STREAM)) return;
    const bare = event.streamId.slice(ACCOUNT_STREAM.length);
    const running = this.actors.account(bare);
    if (event.type === "AccountDeleted") {
      running?.send({ type: "account.deleted" });
      this.kernel.accountDeleted(bare, event.seq, event.streamVersion);
      return;
    }
    if (foreign) running?.send({ type: "account.refresh" });
  }
}
