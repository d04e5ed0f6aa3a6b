// Roster, subscription and block-list state and events of one account
// (RFC 6121 §2-3, XEP-0191). Events live on the account's stream; each says
// who caused it (EventMeta.by), so the log can answer "why is bob `from`
// and not `both`?".

/** RFC 6121 §2.1.2.5. */
export type Subscription = "none" | "to" | "from" | "both";

export interface RosterItem {
  readonly jid: string;
  readonly name?: string;
  readonly groups: readonly string[];
  readonly subscription: Subscription;
  /** Pending out: we asked to subscribe to the contact (ask='subscribe'). */
  readonly ask: boolean;
  /** RFC 6121 §3.4: we pre-approved the contact's future subscription request. */
  readonly approved: boolean;
}

/**
 * Read-only here: evolve returns a new state sharing what did not change. A
 * folder that owns its state changes a MutableRosterState in place instead
 * (roster-evolve.ts explains both); the items are immutable either way.
 * Pending-in requests are kept beside the roster, not as items: RFC 6121
 * §3.1.3 says a request from a contact not in the roster creates no item.
 */
export interface RosterState {
  readonly items: ReadonlyMap<string, RosterItem>;
  /** Contact bare JID → the serialised subscribe stanza, for redelivery at login. */
  readonly pendingIn: ReadonlyMap<string, string>;
  /** Bumped on every change visible in the roster (RFC 6121 §2.6). */
  readonly version: number;
  /** XEP-0191: normalised JIDs in any of the four forms of §3.3. */
  readonly blocked: ReadonlySet<string>;
}

export const emptyRosterState: RosterState = {
  items: new Map(),
  pendingIn: new Map(),
  version: 0,
  blocked: new Set(),
};

export type RosterEvent =
  | { type: "RosterItemSet"; payload: { jid: string; name?: string; groups: string[] } }
  | { type: "RosterItemRemoved"; payload: { jid: string } }
  /** We asked to subscribe to the contact's presence (pending out). */
  | { type: "SubscriptionRequested"; payload: { jid: string } }
  /** The contact asked to subscribe to ours (pending in), with the request as received. */
  | { type: "SubscriptionRequestReceived"; payload: { jid: string; stanza: string } }
  /** We approved the contact: they receive our presence (from / both). */
  | { type: "ContactApproved"; payload: { jid: string } }
  /** RFC 6121 §3.4: approval given before the contact asked. */
  | { type: "ContactPreApproved"; payload: { jid: string } }
  /** The contact approved our request: we receive their presence (to / both). */
  | { type: "SubscriptionGranted"; payload: { jid: string } }
  /** The contact's subscription to us ended or was refused (loses from / pending in / pre-approval). */
  | { type: "ContactSubscriptionCancelled"; payload: { jid: string } }
  /** Our subscription to the contact ended or was refused (loses to / pending out). */
  | { type: "SubscriptionCancelled"; payload: { jid: string } }
  | { type: "ContactsBlocked"; payload: { jids: string[] } }
  | { type: "ContactsUnblocked"; payload: { jids: string[] } }
  | { type: "AllContactsUnblocked"; payload: Record<string, never> };

export type RosterEventType = RosterEvent["type"];

export const ROSTER_EVENT_TYPES: readonly RosterEventType[] = [
  "RosterItemSet", "RosterItemRemoved", "SubscriptionRequested", "SubscriptionRequestReceived",
  "ContactApproved", "ContactPreApproved", "SubscriptionGranted", "ContactSubscriptionCancelled",
  "SubscriptionCancelled", "ContactsBlocked", "ContactsUnblocked", "AllContactsUnblocked",
];

export function isRosterEvent(e: { type: string }): e is RosterEvent {
  return (ROSTER_EVENT_TYPES as readonly string[]).includes(e.type);
}
