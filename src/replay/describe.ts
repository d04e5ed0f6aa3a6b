// Human-readable lines for events and roster state, for `parley events` and
// `parley replay`. Pure: strings in, strings out.
import type { EventCause, StoredEvent } from "../events/types.js";
import { isRosterEvent, type RosterItem, type RosterState } from "../roster/roster-types.js";
import { summarizeRoomEvent } from "./room.js";

export function describeCause(by: EventCause): string {
  switch (by.kind) {
    case "user": return `by the user's resource '${by.resource}'`;
    case "contact": return `by the contact ${by.jid}`;
    case "server": return `by the server (${by.reason})`;
    case "admin": return `by an administrator (${by.tool})`;
  }
}

function payloadOf<T>(e: StoredEvent): T {
  return e.payload as T;
}

/**
 * The cause, unless the words before it already say it: a contact's own
 * request needs no "by the contact" naming the same JID again.
 */
function causeAfter(e: StoredEvent, subject: string | undefined): string {
  const by = e.meta.by;
  if (by.kind === "contact" && subject !== undefined && by.jid === subject) return "";
  return ` ${describeCause(by)}`;
}

/**
 * A deletion's reason, unless it only repeats the cause ("deleted by an
 * administrator" by an administrator).
 */
function deletionReason(reason: string, by: EventCause): string {
  const lead = describeCause(by).replace(/ \(.*\)$/, "");
  return reason === `deleted ${lead}` || reason === "" ? "" : ` (${reason})`;
}

/** What an event did, in words. */
export function summarizeEvent(e: StoredEvent): string {
  const subject = (e.payload as { jid?: unknown } | null)?.jid;
  /** " by …", or nothing. */
  const cause = causeAfter(e, typeof subject === "string" ? subject : undefined);
  if (isRosterEvent(e)) {
    switch (e.type) {
      case "RosterItemSet": {
        const p = payloadOf<{ jid: string; name?: string; groups: string[] }>(e);
        return `roster item ${p.jid} set${p.name !== undefined ? ` name="${p.name}"` : ""}${p.groups.length ? ` groups=${p.groups.join(",")}` : ""}${cause}`;
      }
      case "RosterItemRemoved": return `roster item ${payloadOf<{ jid: string }>(e).jid} removed${cause}`;
      case "SubscriptionRequested": return `asked to see ${payloadOf<{ jid: string }>(e).jid}'s presence (pending out)${cause}`;
      case "SubscriptionRequestReceived": return `${payloadOf<{ jid: string }>(e).jid} asked to see our presence (pending in)${cause}`;
      case "ContactApproved": return `approved ${payloadOf<{ jid: string }>(e).jid}: they see our presence${cause}`;
      case "ContactPreApproved": return `pre-approved ${payloadOf<{ jid: string }>(e).jid}${cause}`;
      case "SubscriptionGranted": return `${payloadOf<{ jid: string }>(e).jid} approved us: we see their presence${cause}`;
      case "ContactSubscriptionCancelled": return `${payloadOf<{ jid: string }>(e).jid} no longer sees our presence${cause}`;
      case "SubscriptionCancelled": return `we no longer see ${payloadOf<{ jid: string }>(e).jid}'s presence${cause}`;
      case "ContactsBlocked": return `blocked ${payloadOf<{ jids: string[] }>(e).jids.join(", ")}${cause}`;
      case "ContactsUnblocked": return `unblocked ${payloadOf<{ jids: string[] }>(e).jids.join(", ")}${cause}`;
      case "AllContactsUnblocked": return `unblocked everyone${cause}`;
    }
  }
  switch (e.type) {
    case "AccountRegistered": return `account registered${cause}`;
    case "PasswordChanged": return `password changed${cause}`;
    case "AccountDeleted": return `account deleted${deletionReason(payloadOf<{ reason: string }>(e).reason, e.meta.by)}${cause}`;
    default: return summarizeRoomEvent(e) ?? `${JSON.stringify(e.payload)}${cause}`;
  }
}

export function accountOf(e: StoredEvent): string {
  return e.streamId.startsWith("account:") ? e.streamId.slice("account:".length) : e.streamId;
}

export function eventLine(e: StoredEvent): string {
  return `#${e.seq}  ${e.recordedAt}  ${accountOf(e)}  ${e.type}  ${summarizeEvent(e)}`;
}

/** "both", "none + pending out", "from + pending out + pre-approved"… */
export function describeSubscription(item: RosterItem | undefined, pendingIn: boolean): string {
  const parts: string[] = [item?.subscription ?? "none"];
  if (item?.ask) parts.push("pending out");
  if (pendingIn) parts.push("pending in");
  if (item?.approved) parts.push("pre-approved");
  return parts.join(" + ");
}

export function describeRoster(state: RosterState): string[] {
  const lines: string[] = [];
  const jids = [...new Set([...state.items.keys(), ...state.pendingIn.keys()])].sort();
  if (jids.length === 0) lines.push("  (empty roster)");
  for (const jid of jids) {
    const item = state.items.get(jid);
    const extra = item
      ? `${item.name !== undefined ? ` name="${item.name}"` : ""}${item.groups.length ? ` groups=${item.groups.join(",")}` : ""}`
      : " (not in the roster: a pending request only)";
    lines.push(`  ${jid.padEnd(32)} ${describeSubscription(item, state.pendingIn.has(jid))}${extra}`);
  }
  lines.push(`  blocked: ${state.blocked.size ? [...state.blocked].sort().join(", ") : "nobody"}`);
  return lines;
}
