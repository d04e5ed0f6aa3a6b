// The kernel: the hook bus, the router, the account commands, and the module
// loader. It knows no feature module by name: the server hands it the list
// that `modules_enabled` names, and each module gets a ModuleApi of its own.
import { isoTimestamp } from "../util/iso-time.js";
import type { SnapshotOffer } from "../projections/account-snapshots.js";
import type { Database } from "better-sqlite3";
import type { ServerConfig } from "../config.js";
import type { Logger } from "../util/logger.js";
import type { EventStore } from "../events/store.js";
import { accountStreamId, type EventCause } from "../events/types.js";
import type { OutputCauses } from "../events/commit-gate.js";
import { AccountCommandHandler, type Versioned } from "../accounts/command-handler.js";
import type { AccountCommand, AccountEffect, AccountStreamState } from "../accounts/decider/index.js";
import { accountStreamStateAt, foldStoredInPlace, loadAccountStreamState, type MutableAccountStreamState } from "../projections/account-snapshots.js";
import { carryOutEffects } from "./effects.js";
import { parseJid, tryParseJid } from "../jid/jid.js";
import type { XmlElement } from "../xml/element.js";
import { HookBus, type HookName, type HookHandler } from "./hooks.js";
import { Router } from "./router.js";
import { AccountRuntime, SessionSlot, type Account } from "./account.js";
import type { AccountCommands, ComponentDestination, ModuleApi, ParleyModule } from "./module-api.js";
import { dispatchAccountIq, iqHookHandler } from "./iq-dispatch.js";
import { iqHookName } from "./hooks.js";
import { SqliteModuleStore, deleteAccountFromModuleStores } from "./module-store.js";
import type { KernelServices } from "./services.js";
import type { HttpRoute } from "../net/websocket-listener.js";

export interface KernelDeps {
  readonly config: ServerConfig;
  readonly log: Logger;
  readonly store: EventStore;
  /** The snapshot writer (registerStandardProjections): the account actors offer it the state they append from. */
  readonly snapshots?: SnapshotOffer;
  readonly defaultDomain: string;
  accountExists(bareJid: string): boolean;
  /** Runs `action` as an event of the account's actor. */
  continueInAccount(bareJid: string, action: () => void): void;
  /** Runs `action` with a running account actor's state, if that account's actor runs. */
  withRunningAccount(bareJid: string, action: (account: AccountRuntime) => void): boolean;
  /** The HTTP listener's port, once it listens (modules' httpPort()). */
  httpPort?(): number;
}

export class UnknownModuleError extends Error {
  constructor(readonly module: string, readonly known: readonly string[]) {
    super(`modules_enabled names '${module}', which is not a Parley module (known: ${known.join(", ")})`);
    this.name = "UnknownModuleError";
  }
}

const DELETION_CURSOR = "account-deletions";

export class Kernel implements KernelServices {
  readonly hooks = new HookBus();
  readonly router: Router;
  readonly config: ServerConfig;
  readonly log: Logger;
  readonly commands: AccountCommands;
  private readonly loaded: string[] = [];
  /** Routes modules added with httpRoute, for the server to put on its HTTP listener. */
  readonly httpRoutes: HttpRoute[] = [];
  /** Components modules serve, by domain (their disco#info for `parley check features`). */
  readonly components = new Map<string, ComponentDestination>();
  private readonly handler: AccountCommandHandler;

  /** The store, which passes them to its commit gate (given after the kernel is made). */
  readonly causes: OutputCauses;

  constructor(private readonly deps: KernelDeps) {
    this.config = deps.config;
    this.log = deps.log;
    this.causes = deps.store;
    this.router = new Router(deps.defaultDomain, deps.log, this.causes);
    this.handler = new AccountCommandHandler({
      load: (bareJid) => this.foldStream(bareJid),
      append: (bareJid, expectedVersion, events, stateBefore) => {
        const stream = accountStreamId(bareJid);
        const append = () => deps.store.append(stream, expectedVersion, events);
        return deps.snapshots ? deps.snapshots.appendingFrom(stream, expectedVersion, stateBefore, append) : append();
      },
      // In place, on the actor's own copy: the per-event cost does not grow with the roster.
      fold: (state, stored) => foldStoredInPlace(state as MutableAccountStreamState, stored),
      now: () => isoTimestamp(this.now().getTime()),
      limits: { rosterItems: deps.config.limits.rosterItems, blockedItems: deps.config.limits.blockedItems },
    });
    this.commands = {
      execute: (account, command, by) => this.execute(runtimeOf(account), command, by),
      carryOut: (account, effects, stanza) => carryOutEffects(this, runtimeOf(account), effects, stanza),
      later: (account, action) => deps.continueInAccount(account.bareJid, action),
    };
  }

  now(): Date {
    return new Date();
  }

  get db(): Database {
    return this.deps.store.db;
  }

  /** Loads modules in order; each registers its hooks, features and handlers. */
  loadModules(modules: readonly ParleyModule[]): void {
    for (const m of modules) {
      m.load(this.apiFor(m.name));
      this.loaded.push(m.name);
    }
  }

  get modulesLoaded(): readonly string[] {
    return this.loaded;
  }

  private apiFor(name: string): ModuleApi {
    const k = this;
    const log = this.log.child({ module: name });
    return {
      name,
      config: this.config,
      log,
      now: () => k.now(),
      hook<N extends HookName>(event: N, handler: HookHandler<N>, priority = 0) {
        k.hooks.on(event, handler, priority, name);
      },
      fire: (event, payload) => k.hooks.fire(event, payload),
      iq(type, target, ns, payloadName, handler, priority = 0) {
        k.hooks.on(iqHookName(type, target, ns, payloadName), iqHookHandler(handler, log, name) as HookHandler<HookName>, priority, name);
      },
      route: (stanza) => k.router.route(stanza),
      replyToOrigin: (stanza) => k.replyToOrigin(stanza),
      bounce: (stanza, error, from) => k.router.bounce(stanza, error, from),
      answerAsSelf: (account, iq, from) => dispatchAccountIq(k.hooks, k.router, log, runtimeOf(account), iq, from, true),
      addFeature(scope, feature) {
        k.hooks.on(scope === "host" ? "disco-info/host" : "disco-info/account", (b) => { if (b.node === undefined) b.features.add(feature); }, 0, name);
      },
      addIdentity(scope, identity) {
        k.hooks.on(scope === "host" ? "disco-info/host" : "disco-info/account", (b) => { if (b.node === undefined) b.identities.push(identity); }, 0, name);
      },
      addExtension(form) {
        k.hooks.on("disco-info/host", (b) => {
          if (b.node !== undefined) return;
          const f = form();
          if (f) b.extensions.push(f);
        }, 0, name);
      },
      component(domain, destination) {
        k.router.addDestination(domain, { kind: "component", accept: destination.accept });
        k.components.set(domain, destination);
        if (destination.listed !== false) {
          k.hooks.on("disco-items/host", (b) => {
            if (b.node === undefined && (domain.endsWith(`.${b.domain}`) || destination.listed === "everywhere")) {
              b.items.push({ jid: domain, ...(destination.name === undefined ? {} : { name: destination.name }), ...(destination.info === undefined ? {} : { info: destination.info }) });
            }
          }, 0, name);
        }
      },
      sessionData: <T>(initial: () => T) => new SessionSlot<T>(initial),
      store: () => new SqliteModuleStore(k.db, name, (account) => k.deps.store.joinTurn(accountStreamId(account))),
      db: k.db,
      joinTurn: (account) => k.deps.store.joinTurn(account === undefined ? undefined : accountStreamId(account)),
      whenDurable: (release) => k.deps.store.whenDurable(release),
      output: { hold: (release) => k.deps.store.whenDurable(release), get turn() { return k.deps.store.turn; }, get free() { return k.deps.store.outputFree; } },
      httpRoute: (route) => { k.httpRoutes.push(route); },
      httpPort: () => k.deps.httpPort?.() ?? k.config.http.port,
      accounts: this.commands,
      events: {
        append: (streamId, expectedVersion, events) => k.deps.store.append(streamId, expectedVersion, events),
        readStream: (streamId, afterVersion) => k.deps.store.readStream(streamId, afterVersion),
        streamVersion: (streamId) => k.deps.store.streamVersion(streamId),
      },
      accountExists: (bareJid) => k.deps.accountExists(bareJid),
    };
  }

  replyToOrigin(stanza: XmlElement): void {
    const to = stanza.attrs.to === undefined ? undefined : tryParseJid(stanza.attrs.to);
    if (to && to.resource !== "" && to.local !== "" && this.router.kindOf(to.domain) === "local host" &&
      this.deps.withRunningAccount(to.bareString(), (account) => {
        if (!account.deliver(to.resource, stanza)) this.router.route(stanza);
      })) return;
    this.router.route(stanza);
  }

  /** The user's stream folded as of its last event. */
  loadAccountState(runtime: AccountRuntime): void {
    const { state, version } = this.foldStream(runtime.bareJid);
    runtime.state = state;
    runtime.streamVersion = version;
  }

  /** The newest snapshot and the events after it (bounded work, src/projections/account-snapshots.ts). */
  private foldStream(bareJid: string, beforeVersion = Infinity): Versioned<AccountStreamState> {
    return beforeVersion === Infinity
      ? loadAccountStreamState(this.deps.store, bareJid)
      : accountStreamStateAt(this.deps.store, bareJid, beforeVersion - 1);
  }

  private execute(runtime: AccountRuntime, command: AccountCommand, by: EventCause): readonly AccountEffect[] {
    const result = this.handler.execute(runtime.bareJid, { state: runtime.state, version: runtime.streamVersion }, command, by);
    // Adopted even when nothing was appended: after a conflict they are the reloaded ones.
    runtime.state = result.state;
    runtime.streamVersion = result.version;
    return result.effects;
  }

  /**
   * An AccountDeleted event at `seq`: every module removes the account's
   * storage (`account-deleted`), with the roster as it was before, so that
   * former contacts can be told. Recorded in kernel_cursors, so each deletion
   * is carried out once even across restarts.
   */
  accountDeleted(bareJid: string, seq: number, streamVersion: number): void {
    const rosterBefore = this.foldStream(bareJid, streamVersion).state.roster;
    this.deps.store.joinTurn();
    deleteAccountFromModuleStores(this.db, bareJid);
    this.hooks.fire("account-deleted", { jid: parseJid(bareJid), rosterBefore });
    this.db.prepare(`INSERT INTO kernel_cursors (name, seq) VALUES (?, ?)
      ON CONFLICT (name) DO UPDATE SET seq = max(seq, excluded.seq)`).run(DELETION_CURSOR, seq);
  }

  /** Deletions appended while no server ran (the CLI on a stopped server) are carried out at start. */
  catchUpDeletions(): void {
    const row = this.db.prepare("SELECT seq FROM kernel_cursors WHERE name = ?").get(DELETION_CURSOR) as { seq: number } | undefined;
    const deletions = [...this.deps.store.queryEvents({ types: ["AccountDeleted"], afterSeq: row?.seq ?? 0 })];
    for (const e of deletions) this.accountDeleted(e.streamId.slice("account:".length), e.seq, e.streamVersion);
  }
}

function runtimeOf(account: Account): AccountRuntime {
  if (!(account instanceof AccountRuntime)) throw new Error(`account ${account.bareJid} is not a running account actor's state`);
  return account;
}
