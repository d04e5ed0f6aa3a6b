// What can be asked of an account stream: one command union for everything
// that appends to `account:<bare JID>`. Contacts are normalised bare JIDs;
// the modules parse and normalise them before building a command.
import type { EventCause } from "../../events/types.js";
import type { ScramCredential } from "../../sasl/credentials.js";

export type SubscriptionType = "subscribe" | "subscribed" | "unsubscribe" | "unsubscribed";

export type AccountCommand =
  /** The user sent a subscription stanza to `contact` (RFC 6121 §3, Appendix A.2 / A.3 outbound). */
  | { kind: "subscription.out"; type: SubscriptionType; contact: string }
  /**
   * A contact's subscription stanza reached the user (Appendix A inbound).
   * `stanza` is the request serialised as it is stored for redelivery at
   * login (§3.1.3), already stamped from the contact's bare JID.
   */
  | { kind: "subscription.in"; type: SubscriptionType; contact: string; stanza: string }
  /** A probe from `contact` (bare) sent by `from` (the full JID to answer, RFC 6121 §4.3.2). */
  | { kind: "probe.in"; contact: string; from: string }
  /** Add or update a roster item (RFC 6121 §2.3). `name` undefined: the item has no name. */
  | { kind: "roster.set"; jid: string; name: string | undefined; groups: readonly string[] }
  /** Remove a roster item and cancel both subscriptions (RFC 6121 §2.5). */
  | { kind: "roster.remove"; jid: string }
  /** XEP-0191 §3.3: at least one JID. */
  | { kind: "block"; jids: readonly string[] }
  /** XEP-0191 §3.4: an empty list unblocks every JID. */
  | { kind: "unblock"; jids: readonly string[] }
  /** Create the account (CLI, XEP-0077 §3.1). Credentials are derived by the caller: decide stays pure. */
  | { kind: "register"; credentials: readonly ScramCredential[] }
  /** XEP-0077 §3.3, or the CLI. */
  | { kind: "password.change"; credentials: readonly ScramCredential[] }
  /** XEP-0077 §3.2 (the user cancels), or the CLI. */
  | { kind: "delete"; reason: string };

export type AccountCommandKind = AccountCommand["kind"];

export interface DecisionLimits {
  /** Most items a roster may hold (a roster set of a new item beyond it is policy-violation). */
  readonly rosterItems: number;
  /** Most JIDs a block list may hold (XEP-0191 leaves the limit to the server). */
  readonly blockedItems: number;
}

export const NO_LIMITS: DecisionLimits = { rosterItems: Infinity, blockedItems: Infinity };

/** Everything a decision needs besides the command and the state: passed in, never looked up. */
export interface DecideContext {
  /** The account's bare JID (the stream's owner). */
  readonly account: string;
  /** When the decision is made (ISO-8601 UTC); stamped on the events as meta.at. */
  readonly now: string;
  /** Who caused the command; stamped on the events as meta.by (the log answers "why" with it). */
  readonly by: EventCause;
  readonly limits: DecisionLimits;
  /** Ties the events to a request (e.g. the IQ id), when the caller has one. */
  readonly correlationId?: string;
}
