// evolve(state, event) → state for rosters, subscriptions and blocking.
// The per-item transitions are exported so the SQL projection applies the
// very same rules as the in-memory state: a rebuild cannot disagree.
import { emptyRosterState, isRosterEvent, type RosterEvent, type RosterItem, type RosterState, type Subscription } from "./roster-types.js";

const newItem = (jid: string): RosterItem => ({ jid, groups: [], subscription: "none", ask: false, approved: false });

/** Adds our presence going to the contact: none→from, to→both. */
const gainFrom = (s: Subscription): Subscription => (s === "none" ? "from" : s === "to" ? "both" : s);
/** Adds the contact's presence coming to us: none→to, from→both. */
const gainTo = (s: Subscription): Subscription => (s === "none" ? "to" : s === "from" ? "both" : s);
const loseFrom = (s: Subscription): Subscription => (s === "from" ? "none" : s === "both" ? "to" : s);
const loseTo = (s: Subscription): Subscription => (s === "to" ? "none" : s === "both" ? "from" : s);

/** The roster item after an event about it; undefined when there is none. */
export function evolveItem(item: RosterItem | undefined, event: RosterEvent): RosterItem | undefined {
  switch (event.type) {
    case "RosterItemSet": {
      const base = item ?? newItem(event.payload.jid);
      const { name, ...rest } = base;
      void name;
      return event.payload.name !== undefined
        ? { ...rest, name: event.payload.name, groups: [...event.payload.groups] }
        : { ...rest, groups: [...event.payload.groups] };
    }
    case "RosterItemRemoved":
      return undefined;
    case "SubscriptionRequested":
      return { ...(item ?? newItem(event.payload.jid)), ask: true };
    case "SubscriptionRequestReceived":
      return item;
    case "ContactApproved": {
      const base = item ?? newItem(event.payload.jid);
      return { ...base, subscription: gainFrom(base.subscription), approved: false };
    }
    case "ContactPreApproved":
      return { ...(item ?? newItem(event.payload.jid)), approved: true };
    case "SubscriptionGranted":
      return item && { ...item, subscription: gainTo(item.subscription), ask: false };
    case "ContactSubscriptionCancelled":
      return item && { ...item, subscription: loseFrom(item.subscription), approved: false };
    case "SubscriptionCancelled":
      return item && { ...item, subscription: loseTo(item.subscription), ask: false };
    case "ContactsBlocked":
    case "ContactsUnblocked":
    case "AllContactsUnblocked":
      return item;
  }
}

/** The pending-in request after an event; undefined when there is none. */
export function evolvePending(pending: string | undefined, event: RosterEvent): string | undefined {
  switch (event.type) {
    case "SubscriptionRequestReceived":
      return event.payload.stanza;
    case "RosterItemRemoved":
    case "ContactApproved":
    case "ContactSubscriptionCancelled":
      return undefined;
    default:
      return pending;
  }
}

/** The JID an item-level event is about, or undefined for block-list events. */
export function subjectOf(event: RosterEvent): string | undefined {
  return "jid" in event.payload ? event.payload.jid : undefined;
}

export function sameItem(a: RosterItem | undefined, b: RosterItem | undefined): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  return a.name === b.name && a.subscription === b.subscription && a.ask === b.ask &&
    a.groups.length === b.groups.length && a.groups.every((g, i) => g === b.groups[i]);
}

export function evolveRoster(state: RosterState, event: RosterEvent): RosterState {
  switch (event.type) {
    case "ContactsBlocked": {
      const blocked = new Set(state.blocked);
      for (const j of event.payload.jids) blocked.add(j);
      // A pending request from a JID now blocked is dropped, as Prosody does.
      let pendingIn = state.pendingIn;
      for (const j of event.payload.jids) {
        if (pendingIn.has(j)) {
          if (pendingIn === state.pendingIn) pendingIn = new Map(pendingIn);
          (pendingIn as Map<string, string>).delete(j);
        }
      }
      return { ...state, blocked, pendingIn };
    }
    case "ContactsUnblocked": {
      const blocked = new Set(state.blocked);
      for (const j of event.payload.jids) blocked.delete(j);
      return { ...state, blocked };
    }
    case "AllContactsUnblocked":
      return { ...state, blocked: new Set() };
    default: {
      const jid = subjectOf(event) as string;
      const before = state.items.get(jid);
      const after = evolveItem(before, event);
      const pendingBefore = state.pendingIn.get(jid);
      const pendingAfter = evolvePending(pendingBefore, event);
      let { items, pendingIn, version } = state;
      if (after !== before) {
        const next = new Map(items);
        if (after) next.set(jid, after);
        else next.delete(jid);
        items = next;
      }
      if (pendingAfter !== pendingBefore) {
        const next = new Map(pendingIn);
        if (pendingAfter !== undefined) next.set(jid, pendingAfter);
        else next.delete(jid);
        pendingIn = next;
      }
      // RFC 6121 §2.6: the version changes when what a roster get shows changes.
      if (!sameItem(before, after)) version++;
      return { items, pendingIn, version, blocked: state.blocked };
    }
  }
}

/**
 * The roster after any event of an account stream: roster events fold in,
 * AccountDeleted starts afresh (a re-registered account begins empty), the
 * other account events change nothing. Every reader of a stream uses this.
 */
export function evolveAccountStream(state: RosterState, event: { type: string; payload: unknown }): RosterState {
  if (event.type === "AccountDeleted") return emptyRosterState;
  return isRosterEvent(event) ? evolveRoster(state, event) : state;
}

export function foldRoster(events: Iterable<RosterEvent>, from: RosterState): RosterState {
  let s = from;
  for (const e of events) s = evolveRoster(s, e);
  return s;
}
