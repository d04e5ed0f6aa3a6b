// What each hook's handlers receive. Stanza events carry parsed, normalised
// JIDs (RFC 7622): the edge parsed them once, so no module compares raw
// address strings.
import type { XmlElement } from "../xml/element.js";
import type { Jid } from "../jid/jid.js";
import type { StanzaErrorSpec } from "../xmpp/errors.js";
import type { RosterState } from "../roster/roster-types.js";
import type { Account, ResourceSession } from "./account.js";

/**
 * A stanza one of the user's resources sent, before routing (`pre-message/bare` …).
 * `stanza` is an immutable value; a handler that must change what travels on
 * (an archive adding its stanza-id, XEP-0359) replaces it, and later handlers
 * and the kernel's default see the replacement.
 */
export interface OutboundStanza {
  stanza: XmlElement;
  /** The sender's full JID (the session stamped it, RFC 6120 §8.1.2.1). */
  readonly from: Jid;
  /** Where it goes; the user's own bare JID when the stanza had no `to` (RFC 6120 §8.1.1.1). */
  readonly to: Jid;
  /** Whether the stanza named a `to` at all (presence broadcast has none). */
  readonly addressed: boolean;
  readonly account: Account;
  readonly session: ResourceSession;
}

/** A stanza that reached a local account (`message/bare`, `presence/full` …); `stanza` may be replaced as in OutboundStanza. */
export interface InboundStanza {
  stanza: XmlElement;
  readonly from: Jid;
  readonly to: Jid;
  readonly account: Account;
}

/** A stanza addressed to a served domain itself (`message/host` …), or to an account it does not have (`presence/unknown` …). */
export interface HostStanza {
  readonly stanza: XmlElement;
  readonly from: Jid;
  readonly to: Jid;
}

export type IqResponse = XmlElement | null | StanzaErrorSpec;

interface IqRequestBase {
  readonly iq: XmlElement;
  /** The one payload child (RFC 6120 §8.2.3). */
  readonly payload: XmlElement;
  readonly from: Jid;
  /** Sends the result (a payload, or null for an empty one) or an error. Call it once. */
  respond(response: IqResponse): void;
}

/** An IQ get/set to a user's bare JID: from the user (`iq-set/self/…`) or anyone else (`iq-get/bare/…`). */
export interface AccountIqRequest extends IqRequestBase {
  readonly account: Account;
  readonly self: boolean;
  /** The requester may see this account's details: the user, or a contact subscribed to its presence. */
  readonly mayDiscover: boolean;
  /** Runs after the reply is sent (roster pushes follow results, RFC 6121 §2.3.2). */
  afterReply(action: () => void): void;
}

/** An IQ get/set to a served domain (`iq-get/host/…`). */
export interface HostIqRequest extends IqRequestBase {
  readonly domain: string;
}

export interface Identity {
  readonly category: string;
  readonly type: string;
  readonly name?: string;
}

/**
 * XEP-0030 disco#info being built; handlers add what depends on the moment.
 * With a `node` (XEP-0030 §3.2: a PEP or pubsub node, a caps node), only a
 * handler that knows the node adds to it and sets `nodeFound`; a node nobody
 * knows is item-not-found.
 */
export interface DiscoInfoBuild {
  readonly requester: Jid;
  readonly node: string | undefined;
  nodeFound: boolean;
  readonly identities: Identity[];
  readonly features: Set<string>;
  /** XEP-0128 data forms. */
  readonly extensions: XmlElement[];
}

export interface DiscoItem {
  readonly jid: string;
  readonly node?: string;
  readonly name?: string;
  /** The item's own disco#info, when a component states it (for `parley check features`). */
  readonly info?: () => { readonly identities: readonly Identity[]; readonly features: readonly string[] };
}

/** XEP-0030 disco#items being built (§4); with a `node`, as in DiscoInfoBuild. */
export interface DiscoItemsBuild {
  readonly requester: Jid;
  readonly node: string | undefined;
  nodeFound: boolean;
  readonly items: DiscoItem[];
}

/** A XEP-0050 command offered at a served domain (the adhoc module runs it). */
export interface AdhocCommand {
  /** §2.2 the command's node, e.g. http://jabber.org/protocol/admin#add-user (XEP-0133). */
  readonly node: string;
  readonly name: string;
  /** §3.2: the XEP-0004 form the requester fills in. */
  form(): XmlElement;
  /** §3.4: carries out the submitted form; throws a StanzaError for bad input (RFC 6120 §8.3). */
  submit(request: AdhocSubmission): AdhocOutcome | Promise<AdhocOutcome>;
}

export interface AdhocSubmission {
  readonly requester: Jid;
  readonly domain: string;
  /** The submitted form's values by field var. */
  readonly values: ReadonlyMap<string, readonly string[]>;
}

/** A completed command: a note for the requester and, for a report, a result form. */
export interface AdhocOutcome {
  readonly note?: string;
  readonly result?: XmlElement;
}

export interface HookPayloads {
  "pre-stanza": OutboundStanza;
  stanza: InboundStanza;
  "stanza/host": HostStanza;
  "iq/account-request": AccountIqRequest;
  "iq/host-request": HostIqRequest;
  /** A session bound a resource (RFC 6120 §7). */
  "resource-bind": { readonly account: Account; readonly session: ResourceSession };
  /** A bound session ended, cleanly or not, after its unavailable presence went out. */
  "resource-unbind": { readonly account: Account; readonly session: ResourceSession };
  /**
   * XEP-0198 §5: a managed stream ended (its resumption timed out, or it closed)
   * with stanzas sent to `resource` that the client never acknowledged; fired
   * after the resource is unbound. The stream_management module keeps the
   * messages among them (offline storage) so that none is lost.
   */
  "session/unacknowledged": { readonly account: Account; readonly resource: string; readonly stanzas: readonly XmlElement[] };
  /** XEP-0198 §5: a managed stream lost its connection and waits, resumable; deliveries to `resource` are queued. */
  "session/detached": { readonly bareJid: string; readonly resource: string };
  /** XEP-0198 §5: a detached stream was resumed on a new connection; deliveries reach the client again. */
  "session/resumed": { readonly bareJid: string; readonly resource: string };
  /** A resource sent its initial presence (RFC 6121 §4.2), after the broadcast. */
  "presence/initial": { readonly account: Account; readonly session: ResourceSession; readonly stanza: XmlElement };
  /** A resource became unavailable (RFC 6121 §4.5), after the broadcast. */
  "presence/unavailable": { readonly account: Account; readonly session: ResourceSession; readonly stanza: XmlElement };
  /** A chat or normal message for an account with no resource to take it (RFC 6121 §8.5.2.2.1; XEP-0160). */
  "message/offline": InboundStanza;
  /**
   * The kernel's delivery (RFC 6121 §8.5) handed a message to `resources` (the
   * resource a full JID names, or the most available ones for a bare JID), or,
   * with none, to `message/offline`, which took it (`offline`). Fired once per
   * message, after the delivery; `event.stanza` is the message as delivered.
   * Message Carbons (XEP-0280 §7) copies it to the resources that did not get it.
   */
  "message/delivered": { readonly event: InboundStanza; readonly resources: readonly ResourceSession[]; readonly offline: boolean };
  /** An account actor started with its state loaded. */
  "account-loaded": { readonly account: Account };
  /**
   * An account was deleted (by the user, an administrator or the CLI). Every
   * module that keeps storage for accounts removes this one's. `rosterBefore`
   * is the roster as it was before the deletion.
   */
  "account-deleted": { readonly jid: Jid; readonly rosterBefore: RosterState };
  "disco-info/host": DiscoInfoBuild & { readonly domain: string };
  "disco-info/account": DiscoInfoBuild & { readonly account: Account };
  /** disco#items of a served domain: components list themselves (XEP-0030 §4.1). */
  "disco-items/host": DiscoItemsBuild & { readonly domain: string };
  /** disco#items of an account (PEP nodes, XEP-0163 §7). */
  "disco-items/account": DiscoItemsBuild & { readonly account: Account };
  /**
   * A presence probe (RFC 6121 §4.3) for an account whose actor does not run,
   * so it has no session: a handler may answer it from the read model
   * without starting the actor; unhandled, the actor starts and answers.
   */
  "presence/probe-offline": HostStanza;
  /** The server is shutting down: flush what is buffered. */
  "server-stopping": Record<string, never>;
  /**
   * The server listens (not fired where modules are only asked what they
   * offer, as by `parley check features`): start timers, tidy the data directory.
   */
  "server-started": Record<string, never>;
  /** Roster items changed (RFC 6121 §2.1.6): the roster module pushes them to interested resources. */
  "roster/changed": { readonly account: Account; readonly jids: readonly string[] };
  /** Someone asks to create an account in-band (XEP-0077): a handler may refuse. */
  "user-registering": { readonly jid: Jid; refuse(reason: string): void };
  /** The block list changed (XEP-0191 §3.3, §3.4): the blocking module pushes it to the resources that asked for it. */
  "blocklist/changed": { readonly account: Account; readonly action: "block" | "unblock"; readonly jids: readonly string[] };
  /**
   * Stream features being offered (RFC 6120 §4.3.2): before authentication
   * (`authenticating`: SASL is on offer) or after it, beside bind.
   */
  "stream-features": { readonly stage: "pre-auth" | "post-auth"; readonly authenticating: boolean; readonly features: XmlElement[]; /** The domain the stream is for (its header's `to`). */ readonly domain: string };
  /**
   * Publish on one of the account's PEP nodes as its owner would (XEP-0163 §3,
   * with publish-options, §7.1.5 of XEP-0060), for a module that bridges an
   * older protocol (XEP-0048 bookmarks, vCard avatars). The pubsub module
   * sets `error` when it refused; unhandled when PEP is not loaded.
   */
  "pep/publish": { readonly account: Account; readonly node: string; readonly id: string; readonly payload: XmlElement; readonly options: ReadonlyMap<string, string[]>; error?: StanzaErrorSpec };
  /** Retract one item of the account's PEP node (notifying, XEP-0060 §7.2). */
  "pep/retract": { readonly account: Account; readonly node: string; readonly id: string };
  /** An item was published on the account's PEP node (by the owner or a bridge), after it was stored: bridges update their older copy (XEP-0398). */
  "pep/published": { readonly account: Account; readonly node: string; readonly id: string; readonly payload: XmlElement | undefined };
  /** An item was retracted from the account's PEP node (by the owner or a bridge). */
  "pep/retracted": { readonly account: Account; readonly node: string; readonly id: string };
  /** Read the items of the account's PEP node, oldest first; `found` stays false when there is no such node. */
  "pep/items": { readonly account: Account; readonly node: string; found: boolean; readonly items: { readonly id: string; readonly payload: XmlElement | undefined }[] };
  /**
   * XEP-0386 Bind 2: the features a SASL2 <authenticate/> may enable inline
   * with the bind, offered in <bind><inline><feature var=…/></inline></bind>
   * (carbons: urn:xmpp:carbons:2; the session services add urn:xmpp:sm:3, which the session enables itself).
   */
  "bind2/features": { readonly features: string[] };
  /**
   * XEP-0386 §3: a session bound inline; `request` is the client's <bind/>.
   * A module whose feature the request enables (a child in its namespace)
   * enables it for `session` and may add its answer to `results`, which go in
   * <bound/>. Fired before `resource-bind`.
   */
  "bind2/inline": { readonly account: Account; readonly session: ResourceSession; readonly request: XmlElement; readonly results: XmlElement[] };
  /** XEP-0050: the commands `requester` may run at `domain`; modules add theirs (admin_adhoc: XEP-0133 for admins). */
  "adhoc/commands": { readonly requester: Jid; readonly domain: string; readonly commands: AdhocCommand[] };
  /** XEP-0050: whether a module has a command at this node at all (HANDLED: yes), so that one hidden from the requester is forbidden, not item-not-found. */
  "adhoc/exists": { readonly node: string };
  /** XEP-0077 before authentication: an IQ in jabber:iq:register on an unauthenticated stream. */
  "pre-auth/register": { readonly domain: string; readonly iq: XmlElement; readonly address: string; respond(reply: XmlElement): void };
}
