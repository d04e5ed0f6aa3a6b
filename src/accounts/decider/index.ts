// One decider per account stream (`account:<bare JID>`): the account's
// lifecycle, its roster and subscriptions, its block list.
//
//   decide(command, state, context) → { events, effects }   pure; throws a DecisionError
//   evolve(state, event) → state                             pure; exhaustive over the events
//
// Time and the cause enter as data (context.now, context.by) and are stamped
// on the events' metadata; nothing here reads a clock or does I/O. The
// command handler (../command-handler.ts) loads, decides, appends and folds.
import type { EventMeta, StoredEvent } from "../../events/types.js";
import { emptyRosterState, ROSTER_EVENT_TYPES, type RosterEvent, type RosterState } from "../../roster/roster-types.js";
import { evolveAccountStream } from "../../roster/roster-evolve.js";
import { ACCOUNT_EVENT_TYPES } from "../events.js";
import type { AccountCommand, DecideContext } from "./commands.js";
import type { AccountEffect } from "./effects.js";
import { decideBlockJids, decideUnblockJids } from "./blocking.js";
import { decideDelete, decidePasswordChange, decideRegister, initialAccountState, type AccountState } from "./lifecycle.js";
import { decideRosterItemRemove, decideRosterItemSet } from "./roster.js";
import { decideProbeIn, decideSubscriptionIn, decideSubscriptionOut } from "./subscription.js";
import type { AccountStreamEvent, Outcome } from "./outcome.js";

export type { AccountCommand, AccountCommandKind, DecideContext, DecisionLimits, SubscriptionType } from "./commands.js";
export { NO_LIMITS } from "./commands.js";
export { carryOut, type AccountEffect, type AccountEffectHandlers, type AccountEffectKind } from "./effects.js";
export { DecisionError, AccountError, RosterError, BlockingError, StreamConflictError, type DecisionContext } from "./errors.js";
export { initialAccountState, type AccountState } from "./lifecycle.js";
export type { AccountStreamEvent } from "./outcome.js";
export { cancellationsFor } from "./roster.js";
export { changedContacts } from "./outcome.js";

export interface AccountStreamState {
  readonly account: AccountState;
  readonly roster: RosterState;
}

export const initialAccountStreamState: AccountStreamState = { account: initialAccountState, roster: emptyRosterState };

/** A decided event, ready to append: the domain event with who caused it and when. */
export type NewAccountStreamEvent = AccountStreamEvent & { meta: EventMeta; schemaVersion?: number };

export interface AccountDecision {
  /** To append, in order; empty when nothing changes. */
  readonly events: NewAccountStreamEvent[];
  /** To carry out, in order, after the events are stored and folded (see effects.ts). */
  readonly effects: AccountEffect[];
}

const nothing = (): Outcome => ({ events: [], effects: [] });

function decideOutcome(command: AccountCommand, state: AccountStreamState, context: DecideContext): Outcome {
  const { roster, account } = state;
  const owner = context.account;
  switch (command.kind) {
    case "subscription.out":
      // RFC 6121 §3: a subscription is between the user and a contact; one
      // to oneself means nothing (the user's resources get the user's
      // presence anyway, §4.2.2), so it changes nothing and goes nowhere.
      if (command.contact === owner) return nothing();
      return decideSubscriptionOut(roster, command.type, command.contact);
    case "subscription.in":
      if (command.contact === owner) return nothing();
      return decideSubscriptionIn(roster, command.type, command.contact, command.stanza);
    case "probe.in":
      return decideProbeIn(roster, command.contact, command.from);
    case "roster.set":
      return decideRosterItemSet(roster, owner, command.jid, command.name, command.groups, context.limits.rosterItems);
    case "roster.remove":
      return decideRosterItemRemove(roster, owner, command.jid);
    case "block":
      return decideBlockJids(roster, owner, command.jids, context.limits.blockedItems);
    case "unblock":
      return decideUnblockJids(roster, command.jids);
    case "register":
      return decideRegister(account, owner, command.credentials);
    case "password.change":
      return decidePasswordChange(account, owner, command.credentials);
    case "delete":
      return decideDelete(account, owner, command.reason);
  }
}

export function decide(command: AccountCommand, state: AccountStreamState, context: DecideContext): AccountDecision {
  const { events, effects } = decideOutcome(command, state, context);
  const meta: EventMeta = context.correlationId !== undefined
    ? { by: context.by, at: context.now, correlationId: context.correlationId }
    : { by: context.by, at: context.now };
  return { events: events.map((e) => ({ ...e, meta }) as NewAccountStreamEvent), effects };
}

export function evolve(state: AccountStreamState, event: AccountStreamEvent): AccountStreamState {
  switch (event.type) {
    case "AccountRegistered":
    case "PasswordChanged":
      return { account: { exists: true, credentials: event.payload.credentials }, roster: state.roster };
    case "AccountDeleted":
      // A re-registered account begins empty: the fold resets the roster too.
      return { account: initialAccountState, roster: evolveAccountStream(state.roster, event) };
    case "RosterItemSet":
    case "RosterItemRemoved":
    case "SubscriptionRequested":
    case "SubscriptionRequestReceived":
    case "ContactApproved":
    case "ContactPreApproved":
    case "SubscriptionGranted":
    case "ContactSubscriptionCancelled":
    case "SubscriptionCancelled":
    case "ContactsBlocked":
    case "ContactsUnblocked":
    case "AllContactsUnblocked":
      return { account: state.account, roster: evolveAccountStream(state.roster, event satisfies RosterEvent) };
    default: {
      // A new event type is a compile error here; at run time an unknown
      // one (a newer writer's) changes nothing, as foldStored skips it.
      const unknown: never = event;
      void unknown;
      return state;
    }
  }
}

const STREAM_EVENT_TYPES: ReadonlySet<string> = new Set<string>([...ACCOUNT_EVENT_TYPES, ...ROSTER_EVENT_TYPES]);

export function isAccountStreamEvent<E extends { type: string }>(e: E): e is E & AccountStreamEvent {
  return STREAM_EVENT_TYPES.has(e.type);
}

/**
 * Folds stored events of the stream into the state. An event type this
 * decider does not know (written by a newer version, or by a feature with
 * its own events on the stream) leaves the state as it is.
 */
export function foldStored(state: AccountStreamState, stored: Iterable<StoredEvent>): AccountStreamState {
  let s = state;
  for (const e of stored) if (isAccountStreamEvent(e)) s = evolve(s, e);
  return s;
}

/** The state and version of a stream read from its start (for a `load`). */
export function foldStream(stored: Iterable<StoredEvent>): { state: AccountStreamState; version: number } {
  let state = initialAccountStreamState;
  let version = 0;
  for (const e of stored) {
    version = e.streamVersion;
    if (isAccountStreamEvent(e)) state = evolve(state, e);
  }
  return { state, version };
}

export interface Decider<C, S, E, D extends { events: readonly E[] }, X> {
  readonly initialState: S;
  evolve(state: S, event: E): S;
  decide(command: C, state: S, context: X): D;
}

export type AccountDecider = Decider<AccountCommand, AccountStreamState, AccountStreamEvent, AccountDecision, DecideContext>;

export const accountDecider: AccountDecider = { initialState: initialAccountStreamState, evolve, decide };
