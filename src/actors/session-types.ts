// What session actors and account actors say to each other. Kept apart from
// both machines so neither imports the other.
import type { XmlElement } from "../xml/element.js";
import type { Jid } from "../jid/jid.js";
import type { StanzaErrorSpec, StreamErrorCondition } from "../xmpp/errors.js";

/** Events a session actor accepts from the rest of the server. */
export type SessionCommand =
  /** A stanza routed to this session's full JID; written to the socket as is. */
  | { type: "deliver"; stanza: XmlElement }
  /** The account actor bound the requested resource; `inline`: what Bind2's inline features answered (XEP-0386 §3). */
  | { type: "bind.result"; jid: Jid; inline?: readonly XmlElement[] }
  | { type: "bind.error"; error: StanzaErrorSpec }
  /** Close the stream with a stream error: conflict, shutdown, idle, account deleted. */
  | { type: "session.kick"; condition: StreamErrorCondition; text?: string }
  /** XEP-0198 §5: another connection resumed this session's stream; it goes on there. */
  | { type: "sm.takeover" }
  /** XEP-0198: more unacknowledged stanzas than stream_management.max_queue. */
  | { type: "sm.overflow" };

/** The part of a session actor other actors may use. */
export interface SessionRef {
  readonly sessionId: string;
  send(command: SessionCommand): void;
}
