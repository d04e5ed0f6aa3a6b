// Events an account actor accepts. An account actor is the single writer of
// one user's state: sessions, presence, roster and block list.
import type { XmlElement } from "../xml/element.js";
import type { Jid } from "../jid/jid.js";
import type { SessionRef } from "./session-types.js";

export type AccountCommand =
  /** A session authenticated as this user asks for a resource (RFC 6120 §7), or binds inline with SASL2 (`bind2`: XEP-0386's <bind/>). */
  | { type: "session.bind"; session: SessionRef; requestedResource: string | undefined; bind2?: XmlElement }
  /** A bound session ended, cleanly or not. */
  | { type: "session.ended"; sessionId: string; resource: string; unacknowledged?: readonly XmlElement[] }
  /** A stanza one of this user's sessions sent; `from` is already the full JID, `to` parsed (undefined: none). */
  | { type: "stanza.outbound"; resource: string; stanza: XmlElement; to: Jid | undefined }
  /** A stanza addressed to this user (bare or full JID, parsed by the router) from anywhere. */
  | { type: "stanza.inbound"; stanza: XmlElement; to: Jid }
  /** The rest of a module's work after something asynchronous (a key derivation), run in turn with the others. */
  | { type: "account.continue"; run: () => void }
  /** The account was deleted (possibly by the CLI in another process). */
  | { type: "account.deleted" }
  /** Another process appended events to this account's stream; fold them in. */
  | { type: "account.refresh" };

export interface AccountRef {
  send(command: AccountCommand): void;
}
