// What `parley inspect`'s page asks of the log, as JSON-ready answers. Each
// query reads through the indexes and snapshots the CLI uses (history.ts), so
// its cost follows the page's size, not the log's: a timeline page is one
// range of the seq or stream index, a state is a snapshot plus fewer than
// `snapshot_every` events, a contact's story is its event_subjects rows.
import type { EventStore } from "../events/store.js";
import type { StoredEvent } from "../events/types.js";
import { accountStreamId } from "../events/types.js";
import { describeCause, describeSubscription, summarizeEvent } from "../replay/describe.js";
import { accountStateAt, diffAccountStates, explainAccountContact, versionAt } from "../replay/history.js";
import type { LogPoint } from "../replay/replay.js";
import { redactSecrets } from "../cli/debug.js";
import type { RosterState } from "../roster/roster-types.js";
import { pairModelGraph, pairStateOf, PAIR_STATES, type PairState } from "../roster/subscription-model.js";

/** An event as the page shows it: its words and its cause beside the (redacted) payload. */
export interface InspectEvent {
  seq: number;
  streamId: string;
  streamVersion: number;
  type: string;
  recordedAt: string;
  decidedAt: string;
  cause: string;
  causeKind: string;
  summary: string;
  payload: unknown;
  correlationId?: string;
}

export function inspectEvent(e: StoredEvent): InspectEvent {
  const shown = redactSecrets(e);
  const out: InspectEvent = {
    seq: e.seq, streamId: e.streamId, streamVersion: e.streamVersion, type: e.type, recordedAt: e.recordedAt,
    decidedAt: e.meta.at, cause: describeCause(e.meta.by), causeKind: e.meta.by.kind, summary: summarizeEvent(e), payload: shown.payload,
  };
  if (e.meta.correlationId !== undefined) out.correlationId = e.meta.correlationId;
  return out;
}

export interface TimelineQuery {
  /** An exact stream (`account:romeo@localhost`, a room's stream…). */
  stream?: string;
  types?: string[];
  /** Only events recorded at or after / at or before these times (ISO-8601). */
  fromTime?: string;
  untilTime?: string;
  /** Paging cursor: events with seq below this (newest first), or above it with `order: "asc"`. */
  cursor?: number;
  order?: "desc" | "asc";
  limit: number;
}

export interface TimelinePage {
  events: InspectEvent[];
  /** Pass as `cursor` for the next page; absent on the last page. */
  next?: number;
  lastSeq: number;
}

export const MAX_PAGE = 500;

/** One page of the log, newest first unless asked otherwise. */
export function timeline(store: EventStore, q: TimelineQuery): TimelinePage {
  const limit = Math.max(1, Math.min(MAX_PAGE, Math.floor(q.limit)));
  const where: string[] = [];
  const args: (string | number)[] = [];
  if (q.stream !== undefined) { where.push("stream_id = ?"); args.push(q.stream); }
  if (q.types && q.types.length > 0) {
    // As in EventStore.queryEvents: with a stream, keep SQLite on the stream's index.
    where.push(`${q.stream !== undefined ? "+" : ""}type IN (${q.types.map(() => "?").join(",")})`);
    args.push(...q.types);
  }
  if (q.fromTime !== undefined) { where.push("recorded_at >= ?"); args.push(q.fromTime); }
  if (q.untilTime !== undefined) { where.push("recorded_at <= ?"); args.push(q.untilTime); }
  const asc = q.order === "asc";
  if (q.cursor !== undefined) { where.push(asc ? "seq > ?" : "seq < ?"); args.push(q.cursor); }
  const sql = `SELECT seq FROM events ${where.length ? "WHERE " + where.join(" AND ") : ""} ORDER BY seq ${asc ? "ASC" : "DESC"} LIMIT ?`;
  const seqs = (store.db.prepare(sql).all(...args, limit + 1) as { seq: number }[]).map((r) => r.seq);
  const more = seqs.length > limit;
  const page = seqs.slice(0, limit);
  const events = store.readSeqs([...page].sort((a, b) => a - b)).map(inspectEvent);
  if (!asc) events.reverse();
  const result: TimelinePage = { events, lastSeq: store.lastSeq() };
  if (more && page.length > 0) result.next = page[page.length - 1] as number;
  return result;
}

/** Events after `afterSeq` matching the query, oldest first: what the live view appends. */
export function eventsAfter(store: EventStore, afterSeq: number, q: Omit<TimelineQuery, "cursor" | "order">): InspectEvent[] {
  return timeline(store, { ...q, cursor: afterSeq, order: "asc" }).events;
}

/**
 * Streams whose id starts with `prefix` (`account:`, `room:`…), in order,
 * after `after`. Each step is one probe of the stream index (MIN over a
 * range), so a log of a million events lists its streams as fast as a small one.
 */
export function streams(store: EventStore, prefix: string, after: string | undefined, limit: number): { id: string; version: number }[] {
  const next = store.db.prepare("SELECT MIN(stream_id) AS id FROM events WHERE stream_id > ? AND stream_id >= ? AND stream_id < ?");
  const end = prefix + "\u{10FFFF}";
  const out: { id: string; version: number }[] = [];
  let from = after ?? "";
  while (out.length < Math.min(limit, MAX_PAGE)) {
    const row = next.get(from, prefix, end) as { id: string | null } | undefined;
    if (!row || row.id === null) break;
    out.push({ id: row.id, version: store.streamVersion(row.id) });
    from = row.id;
  }
  return out;
}

export interface ContactView {
  jid: string;
  name?: string;
  groups: readonly string[];
  subscription: string;
  /** Appendix A.1's name for it, e.g. "From + Pending Out". */
  appendixA: string;
  pendingOut: boolean;
  pendingIn: boolean;
  preApproved: boolean;
  blocked: boolean;
  inRoster: boolean;
}

export interface AccountView {
  account: string;
  /** The stream version shown (0: before the first event) and the newest one. */
  version: number;
  latest: number;
  /** The last event folded in, if any. */
  at?: InspectEvent;
  contacts: ContactView[];
  blocked: string[];
}

function contactsOf(state: RosterState): ContactView[] {
  const jids = [...new Set([...state.items.keys(), ...state.pendingIn.keys()])].sort();
  return jids.map((jid) => {
    const item = state.items.get(jid);
    const pendingIn = state.pendingIn.has(jid);
    const view: ContactView = {
      jid, groups: item?.groups ?? [], subscription: describeSubscription(item, pendingIn),
      appendixA: PAIR_STATES[pairStateOf(item?.subscription ?? "none", item?.ask ?? false, pendingIn)],
      pendingOut: item?.ask ?? false, pendingIn, preApproved: item?.approved ?? false,
      blocked: state.blocked.has(jid), inRoster: item !== undefined,
    };
    if (item?.name !== undefined) view.name = item.name;
    return view;
  });
}

/** The account's roster, pending requests and block list as they were at the point (now, without one). */
export function accountAt(store: EventStore, account: string, point?: LogPoint): AccountView {
  const streamId = accountStreamId(account);
  const latest = store.streamVersion(streamId);
  const { state, last } = accountStateAt(store, account, point);
  const view: AccountView = {
    account, version: last?.streamVersion ?? 0, latest, contacts: contactsOf(state), blocked: [...state.blocked].sort(),
  };
  if (last) view.at = inspectEvent(last);
  return view;
}

/** The account at a stream version (the slider's position). */
export function accountAtVersion(store: EventStore, account: string, version: number): AccountView {
  const streamId = accountStreamId(account);
  if (version <= 0) return accountAt(store, account, { seq: 0 });
  const e = store.eventAt(streamId, Math.min(version, store.streamVersion(streamId)));
  return accountAt(store, account, { seq: e?.seq ?? 0 });
}

export interface StepView {
  /** The event at this version, and what it changed against the version before. */
  event?: InspectEvent;
  changes: { jid: string; before: string; after: string }[];
  blockedAdded: string[];
  blockedRemoved: string[];
}

/** What the event at `version` of the account's stream changed: the --diff view of one step. */
export function stepAt(store: EventStore, account: string, version: number): StepView {
  const streamId = accountStreamId(account);
  const e = version > 0 ? store.eventAt(streamId, version) : undefined;
  if (!e) return { changes: [], blockedAdded: [], blockedRemoved: [] };
  const before = version > 1 ? store.eventAt(streamId, version - 1)?.seq ?? 0 : 0;
  return diffBetween(store, account, { seq: before }, { seq: e.seq }, e);
}

/** What changed between two points (the CLI's --diff). */
export function diffBetween(store: EventStore, account: string, from: LogPoint, to: LogPoint, event?: StoredEvent): StepView {
  const d = diffAccountStates(store, account, from, to);
  const before = new Set(d.blockedBefore);
  const after = new Set(d.blockedAfter);
  const view: StepView = {
    changes: d.changes.map((c) => ({ jid: c.jid, before: c.before, after: c.after })),
    blockedAdded: d.blockedAfter.filter((j) => !before.has(j)),
    blockedRemoved: d.blockedBefore.filter((j) => !after.has(j)),
  };
  if (event) view.event = inspectEvent(event);
  return view;
}

export interface StoryStep {
  event: InspectEvent;
  /** The subscription after this event, in words, and as an Appendix A state. */
  state: string;
  pairState: PairState;
  /** One sentence of the story. */
  sentence: string;
}

/** The --explain chain for one contact, as a story, with the path through Appendix A for the graph. */
export function contactStory(store: EventStore, account: string, contact: string): { account: string; contact: string; steps: StoryStep[]; graph: ReturnType<typeof pairModelGraph> } {
  const steps = explainAccountContact(store, account, contact);
  // The pair state after each step: fold the contact's own flags from the words
  // explainContact gives ("from + pending out (blocked)") back to the model.
  const out: StoryStep[] = steps.map((s) => {
    const words = s.state;
    const sub = (/^(none|to|from|both)/.exec(words)?.[1] ?? "none") as "none" | "to" | "from" | "both";
    const pair = pairStateOf(sub, words.includes("pending out"), words.includes("pending in"));
    const when = s.event.recordedAt.replace("T", " ").replace(/\.\d+Z$/, "Z");
    return {
      event: inspectEvent(s.event), state: words, pairState: pair,
      sentence: `At ${when} (event #${s.event.seq}), ${summarizeEvent(s.event)}; ${account} and ${contact} were then ${words} (${PAIR_STATES[pair]}).`,
    };
  });
  return { account, contact, steps: out, graph: pairModelGraph() };
}

/** The stream version at a point, for the page's "go to event/time" box. */
export function versionAtPoint(store: EventStore, account: string, point: LogPoint): number {
  return versionAt(store, accountStreamId(account), point);
}
