// What a feature module is given: its collaborators by name (as xmpp.js
// packages take theirs), and nothing of the server beyond them. A module is
// `{ name, load(api) }`; which modules load is `modules_enabled` in the
// configuration. A module that adds storage for accounts removes an
// account's share of it on `account-deleted`.
import type { Database } from "better-sqlite3";
import type { XmlElement } from "../xml/element.js";
import type { Jid } from "../jid/jid.js";
import type { ServerConfig } from "../config.js";
import type { Logger } from "../util/logger.js";
import type { StanzaErrorSpec } from "../xmpp/errors.js";
import type { EventCause, NewEvent, StoredEvent } from "../events/types.js";
import type { Projection } from "../events/store.js";
import type { OutputGate } from "../net/connection.js";
import type { AccountCommand, AccountEffect } from "../accounts/decider/index.js";
import type { HookHandler, HookName, IqTarget, PayloadOf } from "./hooks.js";
import type { AccountIqRequest, HostIqRequest, Identity } from "./events.js";
import type { Account, SessionSlot } from "./account.js";
import type { ModuleStore } from "./module-store.js";
import type { HttpRoute } from "../net/websocket-listener.js";

/** The IQ handler of xmpp.js's middleware: returns the result payload (null: an empty result) or throws a StanzaError. */
export type IqHandler<R> = (request: R) => XmlElement | null | Promise<XmlElement | null>;
export type IqRequestFor<T extends IqTarget> = T extends "host" ? HostIqRequest : AccountIqRequest;

export interface AccountCommands {
  /**
   * Runs a command on the account's stream (src/accounts/decider): decides on
   * the actor's current state, appends the events (with their projections, in
   * the turn's transaction), folds them in; on a concurrent append by another
   * process, reloads and decides once more. Returns the effects, to carry out
   * (now, or after an IQ's result). Throws a DecisionError for an illegal
   * command (an IQ handler's caller turns it into its stanza error). Call it
   * only while handling one of this account's events.
   */
  execute(account: Account, command: AccountCommand, by: EventCause): readonly AccountEffect[];
  /** Carries effects out in order; `stanza` is the command's own (to route on, or to deliver). */
  carryOut(account: Account, effects: readonly AccountEffect[], stanza?: XmlElement): void;
  /** Runs `action` as a later event of the account's actor (after asynchronous work such as a key derivation). */
  later(account: Account, action: () => void): void;
}

/** A component's domain (conference.example, pubsub.example): every stanza addressed there. */
export interface ComponentDestination {
  /** Takes a stanza whose parsed `to` has the component's domain; the `from` is a full or bare JID the edge checked. */
  accept(stanza: XmlElement, to: Jid): void;
  /** XEP-0030 §4.1 item name in the served domain's disco#items. */
  readonly name?: string;
  /** Listed in the disco#items of the served domain it is a subdomain of (the default), of every one, or none. */
  readonly listed?: boolean | "everywhere";
  /** Its disco#info (XEP-0030 §3), for `parley check features` to read without a stanza. */
  readonly info?: () => ComponentInfo;
}

/** What a component's disco#info says of it. */
export interface ComponentInfo {
  readonly identities: readonly Identity[];
  readonly features: readonly string[];
  /** XEP-0128 forms. */
  readonly forms?: readonly XmlElement[];
}

/**
 * The event log, for a module's own streams (a room's `room:<jid>`, a pubsub
 * node's configuration): configuration that must replay is an event, as an
 * account's roster is. Appends join the turn's transaction and are durable
 * before any output of the turn leaves (src/events/commit-gate.ts).
 */
export interface ModuleEventLog {
  /** Appends at `expectedVersion` (the stream's current version); a ConcurrencyError when another writer got there first. */
  append(streamId: string, expectedVersion: number, events: NewEvent[]): StoredEvent[];
  /** The stream's events after a version, in order. */
  readStream(streamId: string, afterVersion?: number): StoredEvent[];
  /** The stream's current version (0: no events yet). */
  streamVersion(streamId: string): number;
}

export interface ModuleApi {
  readonly name: string;
  readonly config: ServerConfig;
  readonly log: Logger;
  now(): Date;
  /** Prosody's module:hook: higher priorities run first; HANDLED stops the chain. */
  hook<N extends HookName>(event: N, handler: HookHandler<N>, priority?: number): void;
  /** Prosody's module:fire_event: runs a hook's chain; true when a handler returned HANDLED. */
  fire<N extends HookName>(event: N, payload: PayloadOf<N>): boolean;
  /** Answers one IQ payload; registering the same one twice at one priority is an error. */
  iq<T extends IqTarget>(type: "get" | "set", target: T, ns: string, name: string, handler: IqHandler<IqRequestFor<T>>, priority?: number): void;
  /** Sends a stanza toward its `to`: a local account, a served domain, a component, or an error back. */
  route(stanza: XmlElement): void;
  /**
   * Prosody's origin.send: an answer that goes straight to the session that
   * sent the stanza being answered, when that is a local user's resource,
   * without passing the user's inbound handling; routed otherwise.
   */
  replyToOrigin(stanza: XmlElement): void;
  /** Routes an error reply to `stanza` unless it is itself an error or a result (RFC 6120 §8.3.1, §8.2.3). */
  bounce(stanza: XmlElement, error: StanzaErrorSpec, from?: string): void;
  /**
   * Answers an IQ that one of the user's resources sent to its server's
   * domain as if it had been sent to the user's own bare JID (the
   * `iq-<type>/self/…` handlers), the reply coming from the domain: what
   * Prosody's c2s IQ handlers do for XEP-0077 §3.3, whose password change is
   * addressed to the server. Call it from a `pre-iq/host` handler, then return HANDLED.
   */
  answerAsSelf(account: Account, iq: XmlElement, from: Jid): void;
  /** XEP-0030: a feature of every served domain, or of every account. */
  addFeature(scope: "host" | "account", feature: string): void;
  addIdentity(scope: "host" | "account", identity: Identity): void;
  /** XEP-0128: a data form in the domain's disco#info (undefined: none now). */
  addExtension(form: () => XmlElement | undefined): void;
  /**
   * Serves a domain as a component (XEP-0114's role, in process): the router
   * hands it every stanza to that domain and its JIDs; it answers with
   * `route`. A domain already served is a DestinationConflictError.
   */
  component(domain: string, destination: ComponentDestination): void;
  /** Per-session data this module owns. */
  sessionData<T>(initial: () => T): SessionSlot<T>;
  /** A key-value store this module owns, per account; emptied for an account when it is deleted. */
  store(): ModuleStore;
  /** The database, for a module's own tables (created by a migration). */
  readonly db: Database;
  /**
   * Call before writing to a module's own tables on the stanza path: the write
   * joins the turn's transaction (the group commit, src/events/commit-gate.ts),
   * so it costs no fsync of its own and is durable before any output of the
   * turn leaves. A plain write outside that transaction commits by itself (one
   * fsync each, synchronous=FULL); inside it, it already rides along.
   * `account`: the bare JID whose data the write is (its archive, its offline
   * messages), so that output about other accounts need not wait for this
   * write's fdatasync (commit-gate.ts, free output); without it, every output
   * of the turn waits. Every write a module makes while the server runs must
   * come after a joinTurn, or output could reveal it before it is durable.
   */
  joinTurn(account?: string): void;
  /**
   * Runs `release` once every write made so far (joinTurn's included) is
   * durable: an answer given outside XMPP (an HTTP response) waits for it
   * as stanzas wait for the commit gate.
   */
  whenDurable(release: () => void): void;
  /**
   * The same gate as an OutputGate, for a module with connections of its own
   * (the XEP-0114 component listener): writes of one turn are held together
   * until that turn's commit is durable, as sessions' are.
   */
  readonly output: OutputGate;
  /**
   * Serves plain HTTP requests on the server's HTTP listener (the one of
   * XMPP over WebSocket): the route answers and returns true, or returns
   * false to leave the request to others.
   */
  httpRoute(route: HttpRoute): void;
  /** The HTTP listener's port (known once the server listens). */
  httpPort(): number;
  readonly accounts: AccountCommands;
  readonly events: ModuleEventLog;
  accountExists(bareJid: string): boolean;
}

export interface ParleyModule {
  readonly name: string;
  load(api: ModuleApi): void;
  /**
   * Projections of the module's own streams. Listed in
   * src/modules/projections.ts, they are registered wherever the standard
   * ones are (the server, the CLI's replay and verify), whether or not the
   * module is enabled, so a log always rebuilds the same tables.
   */
  readonly projections?: readonly Projection[];
}
