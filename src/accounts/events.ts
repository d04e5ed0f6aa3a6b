// The account stream (`account:<bare JID>`): lifecycle events. Credentials
// are SCRAM keys for each hash, never the password (RFC 5802 §3).
import type { ScramCredential } from "../sasl/credentials.js";
import type { StoredEvent } from "../events/types.js";

export type AccountEvent =
  | { type: "AccountRegistered"; payload: { jid: string; credentials: ScramCredential[] } }
  | { type: "PasswordChanged"; payload: { jid: string; credentials: ScramCredential[] } }
  | { type: "AccountDeleted"; payload: { jid: string; reason: string } };

export type AccountEventType = AccountEvent["type"];
export const ACCOUNT_EVENT_TYPES: readonly AccountEventType[] = ["AccountRegistered", "PasswordChanged", "AccountDeleted"];

export function isAccountEvent(e: StoredEvent): e is StoredEvent & AccountEvent {
  return (ACCOUNT_EVENT_TYPES as readonly string[]).includes(e.type);
}
