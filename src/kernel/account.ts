// The in-memory state of one user while their account actor runs: bound
// sessions with their presence, and the roster and block list folded from
// the account's event stream, so no stanza reads the database. Only the
// account actor mutates it; modules read it through `Account`.
import type { XmlElement } from "../xml/element.js";
import { parseJid, type Jid } from "../jid/jid.js";
import type { SessionRef } from "../actors/session-types.js";
import type { RosterState } from "../roster/roster-types.js";
import { initialAccountStreamState, type AccountStreamState } from "../accounts/decider/index.js";
import { cloneAccountStreamState } from "../projections/account-snapshots.js";

/** One bound resource of a user, as routing and modules see it. */
export interface ResourceSession {
  readonly resource: string;
  readonly jid: Jid;
  readonly fullJid: string;
  readonly session: SessionRef;
  /** Sent initial presence and not yet unavailable (RFC 6121 §4.2). */
  available: boolean;
  /** RFC 6121 §4.7.2.3, from the last available presence. */
  priority: number;
  /** The last available presence broadcast, as sent (from = full JID). */
  presence: XmlElement | undefined;
  /** When that presence was sent, for <delay/> stamps when it is re-sent. */
  presenceAt: string | undefined;
  /** Requested the roster in this session: an "interested resource" (RFC 6121 §2.1.6). */
  interested: boolean;
}

/** What modules may read of an account, and how they reach its sessions. */
export interface Account {
  readonly jid: Jid;
  readonly bareJid: string;
  /** Roster, pending requests and block list, folded from the account's stream. */
  readonly roster: RosterState;
  /** The account stream's version that state reflects. */
  readonly streamVersion: number;
  readonly sessions: ReadonlyMap<string, ResourceSession>;
  /** Sessions that sent available presence. */
  availableSessions(): ResourceSession[];
  /**
   * RFC 6121 §8.5.2.1.1: the resources a message to the bare JID goes to:
   * available with non-negative priority; with `highestOnly`, only the highest.
   */
  messageTargets(highestOnly: boolean): ResourceSession[];
  /** Writes a stanza to one of the user's resources; false when it has none by that name. */
  deliver(resource: string, stanza: XmlElement): boolean;
}

export class AccountRuntime implements Account {
  readonly sessions = new Map<string, ResourceSession>();
  readonly bareJid: string;
  /**
   * The account's stream folded: lifecycle (exists, credentials) and roster.
   * The actor's own working copy, changed in place by the fold (constant cost
   * per event, whatever the roster's size): hold no reference to it across events.
   */
  state: AccountStreamState = cloneAccountStreamState(initialAccountStreamState);
  streamVersion = 0;

  get roster(): RosterState {
    return this.state.roster;
  }

  constructor(readonly jid: Jid) {
    this.bareJid = jid.bareString();
  }

  addSession(resource: string, session: SessionRef): ResourceSession {
    const fullJid = `${this.bareJid}/${resource}`;
    const entry: ResourceSession = {
      resource, jid: parseJid(fullJid), fullJid, session,
      available: false, priority: 0, presence: undefined, presenceAt: undefined, interested: false,
    };
    this.sessions.set(resource, entry);
    return entry;
  }

  availableSessions(): ResourceSession[] {
    const out: ResourceSession[] = [];
    for (const s of this.sessions.values()) if (s.available) out.push(s);
    return out;
  }

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

/**
 * Per-session data a module owns (roster interest, directed presence …):
 * kept beside the session, not in it, so the kernel's session type knows no
 * module's fields. Gone with the session.
 */
export class SessionSlot<T> {
  private readonly values = new WeakMap<ResourceSession, T>();

  constructor(private readonly initial: () => T) {}

  get(session: ResourceSession): T {
    let v = this.values.get(session);
    if (v === undefined) {
      v = this.initial();
      this.values.set(session, v);
    }
    return v;
  }

  set(session: ResourceSession, value: T): void {
    this.values.set(session, value);
  }
}
