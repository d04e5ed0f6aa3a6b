// The in-memory state of one user while their account actor runs: bound
// sessions with their presence, and the roster and block list folded from
// the account's event stream when the actor starts, so no stanza reads the
// database. Only the account actor mutates this object.
import type { XmlElement } from "../xml/element.js";
import type { Jid } from "../jid/jid.js";
import type { SessionRef } from "./session-types.js";
import { emptyRosterState, type RosterState } from "../roster/roster-types.js";

export interface ResourceSession {
  readonly resource: string;
  readonly fullJid: string;
  readonly session: SessionRef;
  /** Sent initial presence and not yet unavailable (RFC 6121 §4.2). */
  available: boolean;
  priority: number;
  /** The last available presence broadcast, as sent (from = full JID). */
  presence: XmlElement | undefined;
  /** When that presence was sent, for <delay/> stamps when it is re-sent. */
  presenceAt: string | undefined;
  /** Requested the roster in this session: receives roster pushes (RFC 6121 §2.1.6). */
  interested: boolean;
  /** Requested the block list in this session: receives block-list pushes (XEP-0191 §3.2). */
  blocklistInterested: boolean;
  /** Full or bare JIDs this resource sent directed presence to (RFC 6121 §4.6). */
  readonly directedTo: Set<string>;
}

export class AccountRuntime {
  readonly sessions = new Map<string, ResourceSession>();
  readonly bareJid: string;
  /** Roster, pending requests and block list, folded from the account's stream. */
  roster: RosterState = emptyRosterState;
  /** The account stream's version this state reflects (for optimistic concurrency). */
  streamVersion = 0;

  constructor(readonly jid: Jid) {
    this.bareJid = jid.bareString();
  }

  addSession(resource: string, session: SessionRef): ResourceSession {
    const entry: ResourceSession = {
      resource,
      fullJid: `${this.bareJid}/${resource}`,
      session,
      available: false,
      priority: 0,
      presence: undefined,
      presenceAt: undefined,
      interested: false,
      blocklistInterested: false,
      directedTo: new Set(),
    };
    this.sessions.set(resource, entry);
    return entry;
  }

  /** Sessions that sent available presence. */
  availableSessions(): ResourceSession[] {
    const out: ResourceSession[] = [];
    for (const s of this.sessions.values()) if (s.available) out.push(s);
    return out;
  }

  /**
   * RFC 6121 §8.5.2.1.1: the resources a message to the bare JID goes to:
   * available with non-negative priority; for `normal` only the highest.
   */
  messageTargets(highestOnly: boolean): ResourceSession[] {
    let best = -Infinity;
    const candidates: ResourceSession[] = [];
    for (const s of this.sessions.values()) {
      if (!s.available || s.priority < 0) continue;
      candidates.push(s);
      if (s.priority > best) best = s.priority;
    }
    return highestOnly ? candidates.filter((s) => s.priority === best) : candidates;
  }

  deliver(resource: string, stanza: XmlElement): boolean {
    const s = this.sessions.get(resource);
    if (!s) return false;
    s.session.send({ type: "deliver", stanza });
    return true;
  }
}
