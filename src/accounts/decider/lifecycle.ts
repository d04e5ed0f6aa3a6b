// The account's own life: registration, password change, deletion
// (XEP-0077 §3.1-3.3, and the CLI). Credentials are SCRAM keys the caller
// derived (RFC 5802 §3), never the password: deciding stays pure and cheap.
import type { ScramCredential } from "../../sasl/credentials.js";
import { AccountError } from "./errors.js";
import type { Outcome } from "./outcome.js";

export interface AccountState {
  readonly exists: boolean;
  readonly credentials: readonly ScramCredential[];
}

export const initialAccountState: AccountState = { exists: false, credentials: [] };

export function decideRegister(account: AccountState, jid: string, credentials: readonly ScramCredential[]): Outcome {
  // XEP-0077 §3.1: a taken username is a conflict.
  if (account.exists) throw new AccountError("exists", jid, "register");
  return { events: [{ type: "AccountRegistered", payload: { jid, credentials: [...credentials] } }], effects: [] };
}

export function decidePasswordChange(account: AccountState, jid: string, credentials: readonly ScramCredential[]): Outcome {
  if (!account.exists) throw new AccountError("not-found", jid, "password.change");
  return { events: [{ type: "PasswordChanged", payload: { jid, credentials: [...credentials] } }], effects: [] };
}

/**
 * The account goes, and with it the roster (AccountDeleted resets it); then
 * every session ends. Telling former contacts (RFC 6121 §2.5.2, Prosody on
 * deregistration) is not an effect of this decision: a deletion made by the
 * CLI is never decided in the server, so the server does it when it sees
 * AccountDeleted in the log, for every deletion alike, with the roster as it
 * was before (cancellationsFor in ./roster.ts says what each contact gets).
 */
export function decideDelete(account: AccountState, jid: string, reason: string): Outcome {
  if (!account.exists) throw new AccountError("not-found", jid, "delete");
  return {
    events: [{ type: "AccountDeleted", payload: { jid, reason } }],
    effects: [{ kind: "kickSessions", condition: "not-authorized", text: "This account has been deleted" }],
  };
}
