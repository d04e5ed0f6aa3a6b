// The one way to change an account stream: take the state (the caller's
// cached copy, or load it), decide, append with the version the decision
// saw, fold what was stored. The append's UNIQUE(stream_id, stream_version)
// is the optimistic lock: if another writer (the CLI, while the server runs)
// moved the stream, the append throws ConcurrencyError, the state is loaded
// afresh and the command decided again, once; a second conflict is an error.
//
// Collaborators come by name, so the account actor, the CLI and the tests
// each give their own (the store's stream, the actor's fold, a fixed clock).
import { ConcurrencyError, type EventStore } from "../events/store.js";
import { accountStreamId, type EventCause, type NewEvent, type StoredEvent } from "../events/types.js";
import {
  accountDecider, foldStored, foldStream, NO_LIMITS, StreamConflictError,
  type AccountCommand, type AccountEffect, type AccountStreamState, type DecisionLimits,
} from "./decider/index.js";

export interface Versioned<S> {
  readonly state: S;
  /** The stream version the state includes (0: an empty stream). */
  readonly version: number;
}

export interface AccountCommandHandlerDeps {
  /** The account's state and version, folded from its stream. */
  load(bareJid: string): Versioned<AccountStreamState>;
  /**
   * Appends to the account's stream last seen at `expectedVersion`; throws
   * ConcurrencyError if it moved. `stateBefore`: the state at that version
   * (read only; the snapshot writer may start from it, SnapshotOffer).
   */
  append(bareJid: string, expectedVersion: number, events: NewEvent[], stateBefore: AccountStreamState): StoredEvent[];
  /** The state after the stored events (accountDecider's evolve over them, or the actor's own fold). */
  fold(state: AccountStreamState, stored: readonly StoredEvent[]): AccountStreamState;
  /** The time of a decision, ISO-8601 UTC. */
  now(): string;
  readonly limits: DecisionLimits;
}

export interface AccountCommandResult extends Versioned<AccountStreamState> {
  /** What was appended (empty when the decision changed nothing). */
  readonly events: StoredEvent[];
  /** To carry out in order, now that the events are stored (see decider/effects.ts). */
  readonly effects: AccountEffect[];
}

export class AccountCommandHandler {
  constructor(private readonly deps: AccountCommandHandlerDeps) {}

  /**
   * Decides `command` for the account and commits it. `cached`: the caller's
   * state and version, used as they are (the account actor, the single
   * writer, keeps them); undefined: load them. Decision errors (AccountError,
   * RosterError, BlockingError) propagate and nothing is appended.
   *
   * The caller must adopt the returned state and version even when no event
   * was appended: after a conflict they are the reloaded ones.
   */
  execute(
    bareJid: string,
    cached: Versioned<AccountStreamState> | undefined,
    command: AccountCommand,
    by: EventCause,
    correlationId?: string,
  ): AccountCommandResult {
    const first = cached ?? this.deps.load(bareJid);
    try {
      return this.attempt(bareJid, first, command, by, correlationId);
    } catch (err) {
      if (!(err instanceof ConcurrencyError)) throw err;
      const reloaded = this.deps.load(bareJid);
      try {
        return this.attempt(bareJid, reloaded, command, by, correlationId);
      } catch (again) {
        if (!(again instanceof ConcurrencyError)) throw again;
        throw new StreamConflictError(bareJid, command.kind, again.expected, again.actual, again);
      }
    }
  }

  private attempt(
    bareJid: string,
    current: Versioned<AccountStreamState>,
    command: AccountCommand,
    by: EventCause,
    correlationId: string | undefined,
  ): AccountCommandResult {
    const context = { account: bareJid, now: this.deps.now(), by, limits: this.deps.limits, ...(correlationId !== undefined ? { correlationId } : {}) };
    const decision = accountDecider.decide(command, current.state, context);
    if (decision.events.length === 0) return { state: current.state, version: current.version, events: [], effects: decision.effects };
    const stored = this.deps.append(bareJid, current.version, decision.events, current.state);
    const last = stored[stored.length - 1];
    return {
      state: this.deps.fold(current.state, stored),
      version: last !== undefined ? last.streamVersion : current.version,
      events: stored,
      effects: decision.effects,
    };
  }
}

/**
 * The handler over an EventStore's account streams, folding with the
 * account decider: for the CLI, the tests, and any caller without a cached
 * state of its own.
 */
export function storeCommandHandler(
  store: Pick<EventStore, "readStream" | "append">,
  options: { now?: () => string; limits?: DecisionLimits } = {},
): AccountCommandHandler {
  return new AccountCommandHandler({
    load: (bareJid) => foldStream(store.readStream(accountStreamId(bareJid))),
    append: (bareJid, expectedVersion, events) => store.append(accountStreamId(bareJid), expectedVersion, events),
    fold: foldStored,
    now: options.now ?? (() => new Date().toISOString()),
    limits: options.limits ?? NO_LIMITS,
  });
}
