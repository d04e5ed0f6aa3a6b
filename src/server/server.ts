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
import { Kernel } from "../kernel/kernel.js";
import { localHostDestination } from "../kernel/local-host.js";
import { enabledModules } from "../modules/index.js";
import { C2sListener } from "../net/c2s-listener.js";
import { WebSocketListener, WEBSOCKET_PATH } from "../net/websocket-listener.js";
import { SessionRegistry } from "../net/session-registry.js";
import { loadOrCreateCertificate } from "../net/certificates.js";
import { AccountDirectory } from "./account-directory.js";
import { SessionServices } from "./session-services.js";
import { describeMode, secureDataDir } from "../util/file-modes.js";

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
  private readonly sessions: SessionRegistry;
  private readonly sessionServices: SessionServices;
  private tailTimer: NodeJS.Timeout | undefined;

  private constructor(readonly config: ServerConfig, log: Logger, tlsCredentials: { key: string; cert: string }) {
    this.log = log;
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
    registerStandardProjections(this.store);
    this.kernel = new Kernel({
      config, log, store: this.store, defaultDomain: this.defaultDomain,
      accountExists: (bare) => this.directory.exists(bare),
      continueInAccount: (bare, run) => this.account(bare).send({ type: "account.continue", run }),
      withRunningAccount: (bare, action) => {
        const running = this.actors.account(bare);
        if (!running) return false;
        running.send({ type: "account.continue", run: () => action(running.getSnapshot().context.runtime) });
        return true;
      },
    });
    this.actors = new Supervisor(log, createAccountMachine(this.kernel));
    this.directory = new AccountDirectory(this.store, listAccounts(this.store.db), (event, foreign) => this.accountChanged(event, foreign));
    const local = localHostDestination(this.kernel, {
      exists: (bare) => this.directory.exists(bare),
      running: (bare) => this.actors.account(bare) !== undefined,
      deliverInbound: (bare, stanza, to) => this.account(bare).send({ type: "stanza.inbound", stanza, to }),
    });
    for (const domain of this.domains) this.kernel.router.addDestination(domain, local);
    this.kernel.loadModules(enabledModules(config.modulesEnabled, { store: this.store }));
    this.kernel.catchUpDeletions();
    this.sessions = new SessionRegistry(config.limits);
    this.sessionServices = new SessionServices({
      config, log, store: this.store, hooks: this.kernel.hooks, domains: this.domains, commitGate: this.commitGate,
      account: (bare) => this.account(bare),
      sessionClosed: (id) => {
        this.sessions.forget(id);
        queueMicrotask(() => this.actors.stopSession(id));
      },
      startSession: (sessionId, conn, env) => this.actors.startSession({ sessionId, conn, env }),
    });
    this.c2s = new C2sListener(this.sessionServices, this.sessions, tlsCredentials);
    this.websocket = new WebSocketListener(this.sessionServices, this.sessions);
  }

  static async start(config: ServerConfig, log = new Logger(config.logLevel)): Promise<ParleyServer> {
    validateConfig(config);
    for (const fixed of secureDataDir(config.dataDir)) log.warn(`narrowed the mode of a data file: ${describeMode(fixed)}`);
    const certificate = await loadOrCreateCertificate(config, log);
    const server = new ParleyServer(config, log, { key: certificate.key, cert: certificate.cert });
    // SQLite makes its files with the process's umask: the database, its WAL and shared memory are ours alone.
    secureDataDir(config.dataDir);
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

  /** Sends a stanza as the server would (tests, administration). */
  route(stanza: XmlElement): void {
    this.kernel.router.route(stanza);
  }

  /** Close every stream with system-shutdown, then the store. */
  async stop(): Promise<void> {
    if (this.tailTimer) clearInterval(this.tailTimer);
    const listenersClosed = Promise.all([this.c2s.close(), this.websocket.close()]);
    await this.sessions.closeAll();
    await listenersClosed;
    this.actors.stopAll();
    this.kernel.hooks.fire("server-stopping", {});
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
