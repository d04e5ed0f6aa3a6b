// Debugging a room (XEP-0045) from its stream `room:<jid>`: its state at a
// point of the log (`parley replay --room ROOM [--until P]`) and the chain of
// events behind one user's standing in it (`--explain JID`): who made alice
// an admin and when, why bob cannot join.
import type { EventStore } from "../events/store.js";
import type { StoredEvent } from "../events/types.js";
import type { LogPoint } from "./replay.js";
import { describeCause } from "./describe.js";
import { evolveRoom, initialRoomState, isRoomEvent, roomStreamId, type RoomEvent, type RoomState } from "../modules/muc/room-state.js";

type Out = (line: string) => void;

function within(e: StoredEvent, until: LogPoint | undefined): boolean {
  if (until === undefined) return true;
  return "seq" in until ? e.seq <= until.seq : e.meta.at <= until.time;
}

/** One room event in words (`parley events` uses it too). */
export function summarizeRoomEvent(e: StoredEvent): string | undefined {
  if (!isRoomEvent(e)) return undefined;
  const r = e as unknown as RoomEvent;
  const cause = ` ${describeCause(e.meta.by)}`;
  switch (r.type) {
    case "MucRoomCreated": return `room created, owned by ${r.payload.owner}${cause}`;
    case "MucRoomConfigured": return `configured: ${describeConfig(r.payload.config).join(", ")}${cause}`;
    case "MucAffiliationChanged": {
      const p = r.payload;
      return `${p.jid} is now ${p.affiliation}${p.nick !== undefined ? ` (nickname ${p.nick})` : ""}${p.reason !== undefined ? `, reason "${p.reason}"` : ""}${cause}`;
    }
    case "MucSubjectChanged": return `subject "${r.payload.subject}" set by the occupant ${r.payload.nick}${cause}`;
    case "MucRoomDestroyed": return `destroyed${r.payload.reason !== undefined ? `: "${r.payload.reason}"` : ""}${r.payload.alternate !== undefined ? ` (go to ${r.payload.alternate})` : ""}${cause}`;
  }
}

function describeConfig(c: RoomState["config"]): string[] {
  return [
    c.persistent ? "persistent" : "temporary", c.public ? "public" : "hidden", c.membersOnly ? "members-only" : "open",
    c.moderated ? "moderated" : "unmoderated", c.password !== "" ? "password-protected" : "no password",
    c.whois === "anyone" ? "non-anonymous" : "semi-anonymous", `history ${c.historyLength}`,
    ...(c.name !== "" ? [`name "${c.name}"`] : []),
  ];
}

function roomEvents(store: EventStore, room: string): StoredEvent[] {
  const events = store.readStream(roomStreamId(room));
  if (events.length === 0) throw new Error(`there are no events for the room ${room}`);
  return events;
}

/** The room's state after the events up to `until`. */
export function roomStateAt(store: EventStore, room: string, until: LogPoint | undefined): { state: RoomState; last: StoredEvent | undefined } {
  let state = initialRoomState();
  let last: StoredEvent | undefined;
  for (const e of roomEvents(store, room)) {
    if (!within(e, until)) break;
    if (isRoomEvent(e)) state = evolveRoom(state, e as unknown as RoomEvent);
    last = e;
  }
  return { state, last };
}

export function replayRoom(store: EventStore, room: string, until: LogPoint | undefined, out: Out): void {
  const { state, last } = roomStateAt(store, room, until);
  out(`${room} ${last ? `after event #${last.seq} (${last.meta.at}), stream version ${last.streamVersion}` : "before its first event"}`);
  if (!state.exists) {
    out("  does not exist (never created, or destroyed)");
    return;
  }
  out(`  ${state.locked ? "locked (not configured yet); " : ""}${describeConfig(state.config).join(", ")}`);
  out(`  subject: ${state.subject && state.subject.text !== "" ? `"${state.subject.text}" (by ${state.subject.nick})` : "none"}`);
  const entries = [...state.affiliations].sort(([a], [b]) => a.localeCompare(b));
  if (entries.length === 0) out("  no affiliations");
  for (const [jid, e] of entries) out(`  ${jid}: ${e.affiliation}${e.nick !== undefined ? `, nickname ${e.nick}` : ""}${e.reason !== undefined ? `, reason "${e.reason}"` : ""}`);
}

/** The events that decided `jid`'s standing in the room, and what it means for joining now. */
export function explainRoom(store: EventStore, room: string, jid: string, out: Out): void {
  const events = roomEvents(store, room);
  let state = initialRoomState();
  const steps: string[] = [];
  for (const e of events) {
    if (!isRoomEvent(e)) continue;
    const r = e as unknown as RoomEvent;
    state = evolveRoom(state, r);
    const about = (r.type === "MucAffiliationChanged" && r.payload.jid === jid) || (r.type === "MucRoomCreated" && r.payload.owner === jid)
      || r.type === "MucRoomDestroyed" || (r.type === "MucRoomConfigured" && state.config.membersOnly);
    if (about) steps.push(`  #${e.seq}  ${e.meta.at}  ${summarizeRoomEvent(e) ?? e.type}`);
  }
  out(`${room} and ${jid}:`);
  for (const s of steps) out(s);
  if (!state.exists) return out(`  now: the room does not exist; ${jid} joining would create it and own it`);
  const entry = state.affiliations.get(jid);
  const affiliation = entry?.affiliation ?? "none";
  let verdict: string;
  if (affiliation === "outcast") verdict = `banned${entry?.reason !== undefined ? ` ("${entry.reason}")` : ""}: joining is forbidden`;
  else if (state.config.membersOnly && affiliation === "none") verdict = "not a member of a members-only room: joining needs registration (registration-required)";
  else if (state.config.password !== "" && affiliation !== "owner") verdict = `${affiliation}; the room has a password: joining without it is not-authorized`;
  else if (state.locked && affiliation !== "owner") verdict = "the room is locked until its owner configures it: item-not-found";
  else verdict = `${affiliation}: may join`;
  out(`  now: ${verdict}`);
}
