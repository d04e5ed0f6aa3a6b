// evolve(state, event) → state for rosters, subscriptions and blocking.
// The per-item transitions are exported so the SQL projection applies the
// very same rules as the in-memory state: a rebuild cannot disagree.
//
// Two ways to fold, one set of rules:
//
// - Pure: `evolveAccountStream(state, event)` / `evolveRoster` / `foldRoster`
//   return a new state and never change their input. Each call copies the
//   container it changes (the items Map or the blocked Set), so it costs
//   O(roster size): right for deciders and their tests, wrong for a long log.
// - In place, for folders that own their state (replay, snapshots, an
//   account actor): `foldAccountStream(events, from?)` clones `from` once and
//   then `applyAccountEvent(draft, event)` changes that working copy per
//   event in O(1) (O(jids named) for block events; the one O(size) step is
//   AllContactsUnblocked's clear). Items stay immutable objects, so a caller
//   may keep an item it read; only the containers change. Whoever holds a
//   `MutableRosterState` must not hand it to code that expects it to stay
//   as it was: clone it (`cloneRosterState`) for that.
//
// test/unit/roster-fold.test.ts checks both agree on random event sequences.
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

/** The state after roster events, from `from` (not changed): the in-place fold on a clone. */
export function foldRoster(events: Iterable<RosterEvent>, from: RosterState): RosterState {
  const draft = cloneRosterState(from);
  for (const e of events) applyRosterEvent(draft, e);
  return draft;
}

/** A roster state owned by one folder and changed in place (see the top of this file). */
export interface MutableRosterState extends RosterState {
  readonly items: Map<string, RosterItem>;
  readonly pendingIn: Map<string, string>;
  version: number;
  readonly blocked: Set<string>;
}

/** A private working copy of a state: O(size), once per fold. */
export function cloneRosterState(state: RosterState): MutableRosterState {
  return { items: new Map(state.items), pendingIn: new Map(state.pendingIn), version: state.version, blocked: new Set(state.blocked) };
}

/** `evolveRoster`, changing `draft` instead of copying it. */
export function applyRosterEvent(draft: MutableRosterState, event: RosterEvent): void {
  switch (event.type) {
    case "ContactsBlocked":
      for (const j of event.payload.jids) {
        draft.blocked.add(j);
        // As in evolveRoster: a pending request from a JID now blocked is dropped.
        draft.pendingIn.delete(j);
      }
      return;
    case "ContactsUnblocked":
      for (const j of event.payload.jids) draft.blocked.delete(j);
      return;
    case "AllContactsUnblocked":
      draft.blocked.clear();
      return;
    default: {
      const jid = subjectOf(event) as string;
      const before = draft.items.get(jid);
      const after = evolveItem(before, event);
      if (after !== before) {
        if (after) draft.items.set(jid, after);
        else draft.items.delete(jid);
      }
      const pendingBefore = draft.pendingIn.get(jid);
      const pendingAfter = evolvePending(pendingBefore, event);
      if (pendingAfter !== pendingBefore) {
        if (pendingAfter !== undefined) draft.pendingIn.set(jid, pendingAfter);
        else draft.pendingIn.delete(jid);
      }
      // RFC 6121 §2.6: the version changes when what a roster get shows changes.
      if (!sameItem(before, after)) draft.version++;
    }
  }
}

/** `evolveAccountStream`, in place: AccountDeleted empties the draft, other account events change nothing. */
export function applyAccountEvent(draft: MutableRosterState, event: { type: string; payload: unknown }): void {
  if (event.type === "AccountDeleted") {
    draft.items.clear();
    draft.pendingIn.clear();
    draft.blocked.clear();
    draft.version = emptyRosterState.version;
    return;
  }
  if (isRosterEvent(event)) applyRosterEvent(draft, event);
}

/**
 * The state after `events` of an account stream, starting from `from`
 * (which is not changed): one clone, then O(1) per event.
 */
export function foldAccountStream(events: Iterable<{ type: string; payload: unknown }>, from: RosterState = emptyRosterState): MutableRosterState {
  const draft = cloneRosterState(from);
  for (const e of events) applyAccountEvent(draft, e);
  return draft;
}
