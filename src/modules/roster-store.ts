// Deciding and committing roster events for an account actor: the decision
// runs on the in-memory state, the events are appended (with their
// projections, in one transaction), then folded into the state. If another
// process wrote to the stream meanwhile, the state is reloaded and the
// decision made again, once.
import type { AccountScope } from "../server/host.js";
import type { EventCause } from "../events/types.js";
import { ConcurrencyError } from "../events/store.js";
import type { RosterEvent, RosterItem } from "../roster/roster-types.js";
import { evolveAccountStream, sameItem } from "../roster/roster-evolve.js";

export function decideAndCommit<D extends { events: RosterEvent[] }>(
  scope: AccountScope,
  by: EventCause,
  decide: () => D,
): D {
  try {
    return commitDecision(scope, by, decide());
  } catch (err) {
    if (!(err instanceof ConcurrencyError)) throw err;
    scope.host.loadAccountState(scope.runtime);
    return commitDecision(scope, by, decide());
  }
}

function commitDecision<D extends { events: RosterEvent[] }>(scope: AccountScope, by: EventCause, decision: D): D {
  if (decision.events.length === 0) return decision;
  const { runtime, host } = scope;
  const at = host.now().toISOString();
  const stored = host.appendAccountEvents(runtime.bareJid, runtime.streamVersion,
    decision.events.map((e) => ({ type: e.type, payload: e.payload, meta: { by, at } })));
  for (const s of stored) {
    runtime.roster = evolveAccountStream(runtime.roster, s);
    runtime.streamVersion = s.streamVersion;
  }
  return decision;
}

/** Snapshot of the items an action may change, to push only what did change. */
export function itemsBefore(scope: AccountScope, jids: string[]): Map<string, RosterItem | undefined> {
  return new Map(jids.map((j) => [j, scope.runtime.roster.items.get(j)]));
}

export function changedItems(scope: AccountScope, before: Map<string, RosterItem | undefined>): string[] {
  const out: string[] = [];
  for (const [jid, item] of before) if (!sameItem(item, scope.runtime.roster.items.get(jid))) out.push(jid);
  return out;
}
