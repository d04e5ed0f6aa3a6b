// Account lifecycle as a decider: decide(command, state) → events,
// evolve(state, event) → state. Pure: the caller derives credentials and
// passes the time.
import type { ScramCredential } from "../sasl/credentials.js";
import type { EventCause, NewEvent } from "../events/types.js";
import type { AccountEvent } from "./events.js";

export interface AccountState {
  exists: boolean;
  credentials: ScramCredential[];
}

export const initialAccountState: AccountState = { exists: false, credentials: [] };

export type AccountCommand =
  | { kind: "register"; jid: string; credentials: ScramCredential[] }
  | { kind: "changePassword"; jid: string; credentials: ScramCredential[] }
  | { kind: "delete"; jid: string; reason: string };

export class AccountError extends Error {
  constructor(readonly code: "exists" | "not-found", readonly jid: string) {
    super(code === "exists" ? `the account ${jid} already exists` : `there is no account ${jid}`);
    this.name = "AccountError";
  }
}

export function decideAccount(
  command: AccountCommand,
  state: AccountState,
  by: EventCause,
  now: string,
): NewEvent<AccountEvent["type"], AccountEvent["payload"]>[] {
  const meta = { by, at: now };
  switch (command.kind) {
    case "register":
      if (state.exists) throw new AccountError("exists", command.jid);
      return [{ type: "AccountRegistered", payload: { jid: command.jid, credentials: command.credentials }, meta }];
    case "changePassword":
      if (!state.exists) throw new AccountError("not-found", command.jid);
      return [{ type: "PasswordChanged", payload: { jid: command.jid, credentials: command.credentials }, meta }];
    case "delete":
      if (!state.exists) throw new AccountError("not-found", command.jid);
      return [{ type: "AccountDeleted", payload: { jid: command.jid, reason: command.reason }, meta }];
  }
}

export function evolveAccount(_state: AccountState, event: AccountEvent): AccountState {
  switch (event.type) {
    case "AccountRegistered":
    case "PasswordChanged":
      return { exists: true, credentials: event.payload.credentials };
    case "AccountDeleted":
      return { exists: false, credentials: [] };
  }
}
