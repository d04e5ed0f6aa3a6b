// The account lifecycle's former API (register, changePassword, delete),
// kept for callers not yet moved to the account decider in ./decider/,
// which now makes these decisions. New code: accountDecider and the
// AccountCommandHandler.
import type { ScramCredential } from "../sasl/credentials.js";
import type { EventCause, NewEvent } from "../events/types.js";
import type { AccountEvent } from "./events.js";
import { accountDecider, NO_LIMITS, type AccountCommand as StreamCommand, type AccountState } from "./decider/index.js";
import { emptyRosterState } from "../roster/roster-types.js";

export { AccountError, initialAccountState, type AccountState } from "./decider/index.js";

export type AccountCommand =
  | { kind: "register"; jid: string; credentials: ScramCredential[] }
  | { kind: "changePassword"; jid: string; credentials: ScramCredential[] }
  | { kind: "delete"; jid: string; reason: string };

function toStreamCommand(command: AccountCommand): StreamCommand {
  switch (command.kind) {
    case "register":
      return { kind: "register", credentials: command.credentials };
    case "changePassword":
      return { kind: "password.change", credentials: command.credentials };
    case "delete":
      return { kind: "delete", reason: command.reason };
  }
}

/** @deprecated use accountDecider.decide with a register / password.change / delete command. */
export function decideAccount(
  command: AccountCommand,
  state: AccountState,
  by: EventCause,
  now: string,
): NewEvent<AccountEvent["type"], AccountEvent["payload"]>[] {
  const d = accountDecider.decide(toStreamCommand(command), { account: state, roster: emptyRosterState },
    { account: command.jid, now, by, limits: NO_LIMITS });
  return d.events as NewEvent<AccountEvent["type"], AccountEvent["payload"]>[];
}

/** @deprecated use accountDecider.evolve. */
export function evolveAccount(state: AccountState, event: AccountEvent): AccountState {
  return accountDecider.evolve({ account: state, roster: emptyRosterState }, event).account;
}
