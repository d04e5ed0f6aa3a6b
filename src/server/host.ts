// The server-wide services feature modules use: routing, IQ handlers,
// offline storage, configuration. One Host per running server.
import type { XmlElement } from "../xml/element.js";
import type { ServerConfig } from "../config.js";
import type { Logger } from "../util/logger.js";
import type { Jid } from "../jid/jid.js";
import type { StanzaErrorSpec } from "../xmpp/errors.js";
import type { NewEvent, StoredEvent } from "../events/types.js";
import type { IqRegistry } from "../routing/iq-registry.js";
import type { AccountRuntime } from "../actors/account-runtime.js";
import type { OfflineStore } from "../modules/offline-store.js";
import type { LastActivityStore } from "../modules/last-activity.js";

export interface Host {
  readonly config: ServerConfig;
  readonly log: Logger;
  readonly iq: IqRegistry<ServerIqContext, AccountContext>;
  readonly offline: OfflineStore;
  readonly lastActivity: LastActivityStore;
  servesDomain(domain: string): boolean;
  accountExists(bareJid: string): boolean;
  /** Send a stanza toward its `to`: a local account, the server itself, or an error back. */
  route(stanza: XmlElement): void;
  /** Route an error reply to `stanza` unless it is itself an error (RFC 6120 §8.3.1). */
  bounce(stanza: XmlElement, error: StanzaErrorSpec, from?: string): void;
  now(): Date;
  /** Fold the user's stored state (roster, block list) into a starting account actor. */
  loadAccountState(runtime: AccountRuntime): void;
  /** Append to an account stream last seen at `expectedVersion`; throws ConcurrencyError if it moved. */
  appendAccountEvents(bareJid: string, expectedVersion: number, events: NewEvent[]): StoredEvent[];
}

/** An account actor's own view: the user's runtime and the host. */
export interface AccountScope {
  readonly runtime: AccountRuntime;
  readonly host: Host;
}

/** What an account-scoped stanza handler sees: the scope plus who is asking. */
export interface AccountContext extends AccountScope {
  /** The user's own JID when one of their sessions asked; another JID for inbound requests. */
  readonly requester: Jid;
  readonly self: boolean;
  /** The requester may see this account's disco#info (self, or subscribed to its presence). */
  readonly mayDiscover: boolean;
  /** Run after the reply to the current IQ is sent (pushes follow results, RFC 6121 §2.3.2). */
  afterReply(action: () => void): void;
  /** Runs what afterReply queued; called by the IQ dispatcher once the reply is out. */
  runDeferred(): void;
}

export interface ServerIqContext {
  readonly host: Host;
  readonly domain: string;
  readonly requester: Jid;
}
