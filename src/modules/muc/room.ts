// One room's runtime (XEP-0045): its durable state folded from `room:<jid>`
// (room-state.ts), and in memory its occupants with their sessions and roles
// and the discussion history. Every stanza for the room passes `handle`, one
// at a time on the event loop (the room's mailbox); a decision that changes
// durable state is appended to the room's stream before anything is sent
// (the commit gate holds the output until it is on disk).
import { el, type XmlElement } from "../../xml/element.js";
import { tryParseJid, type Jid } from "../../jid/jid.js";
import { NS } from "../../xmpp/namespaces.js";
import { StanzaError, type StanzaErrorCondition, type StanzaErrorType } from "../../xmpp/errors.js";
import type { EventCause, StoredEvent } from "../../events/types.js";
import {
  affiliationOf, decideRoom, defaultRole, evolveRoom, nickOwner, RoomDecisionError, isAffiliation, isRole,
  type Affiliation, type RoomCommand, type RoomEvent, type RoomState, type Role,
} from "./room-state.js";
import { applyConfigForm, configForm, FormError, NS_DATA, registerForm, registeredNick, roomInfoForm } from "./forms.js";

export const NS_MUC = "http://jabber.org/protocol/muc";
export const NS_USER = "http://jabber.org/protocol/muc#user";
export const NS_ADMIN = "http://jabber.org/protocol/muc#admin";
export const NS_OWNER = "http://jabber.org/protocol/muc#owner";
const NS_CONFERENCE = "jabber:x:conference";
const NS_HINTS = "urn:xmpp:hints";

export interface RoomHost {
  readonly maxOccupants: number;
  readonly maxHistory: number;
  readonly maxSessionsPerOccupant: number;
  readonly maxInvitesPerMessage: number;
  send(stanza: XmlElement): void;
  now(): Date;
  isServiceAdmin(bareJid: string): boolean;
  /** Appends to the room's stream at the version given; returns the stored events. */
  append(room: string, version: number, events: RoomEvent[]): StoredEvent[];
  /** The room was destroyed (or emptied, when temporary): forget it. */
  forget(room: string): void;
  /** The rooms' message archive (XEP-0313 on the room's JID), when `[muc] archive` is on. */
  readonly archive: RoomArchive | undefined;
  /** XEP-0421: a stable, opaque id of a user in a room (the same across sessions and nickname changes). */
  occupantId(room: string, bareJid: string): string;
  /** Rooms this user created that exist now (the rooms_per_user limit). */
  roomsCreatedBy(bareJid: string): number;
  readonly maxRoomsPerUser: number;
}

/** What a room needs of the archive (index.ts builds it on the mam module's ArchiveStore). */
export interface RoomArchive {
  /** Archives a groupchat message as the room broadcasts it; returns its archive id (the stanza-id). */
  append(room: string, nick: string, stanza: XmlElement): string;
  /** Answers a urn:xmpp:mam:2 query: result messages to `to`, then the <fin/> payload. */
  query(room: string, query: XmlElement, to: string): XmlElement;
  form(): XmlElement;
  /** XEP-0425: the archived message with this stanza-id becomes `tombstone`; false when there is none. */
  retract(room: string, id: string, tombstone: (original: XmlElement) => XmlElement): boolean;
  /** A destroyed room's archive goes with it. */
  drop(room: string): void;
}
const NS_MAM = "urn:xmpp:mam:2";
export const NS_OCCUPANT_ID = "urn:xmpp:occupant-id:0";
const NS_MODERATE = "urn:xmpp:message-moderate:1";
const NS_RETRACT = "urn:xmpp:message-retract:1";
const NS_SID = "urn:xmpp:sid:0";

interface Occupant {
  nick: string;
  bare: string;
  role: Role;
  /** Full JID → that session's last presence, newest last (multi-session nicks). */
  sessions: Map<string, XmlElement>;
}

interface HistoryEntry { stanza: XmlElement; at: Date; chars: number }

class StanzaFailure extends Error {
  constructor(readonly condition: StanzaErrorCondition, readonly type: StanzaErrorType, text?: string) {
    super(text ?? condition);
  }
}
const ERROR_TYPES: Partial<Record<StanzaErrorCondition, StanzaErrorType>> = {
  forbidden: "auth", "not-authorized": "auth", "registration-required": "auth", "bad-request": "modify",
  "jid-malformed": "modify", "not-acceptable": "cancel", "resource-constraint": "wait", "service-unavailable": "wait",
};
function fail(condition: StanzaErrorCondition, text?: string, type?: StanzaErrorType): never {
  throw new StanzaFailure(condition, type ?? ERROR_TYPES[condition] ?? "cancel", text);
}

/** RFC 3454 B.1: what stringprep maps to nothing; a nickname containing it fails strict resourceprep. */
const MAPPED_TO_NOTHING = /[\u00AD\u034F\u1806\u180B-\u180D\u200B-\u200D\u2060\uFE00-\uFE0F\uFEFF]/gu;
export function preparedNick(nick: string): string {
  return nick.replace(MAPPED_TO_NOTHING, "").normalize("NFKC");
}
/** Prosody's strict validation: the nickname is already in its prepared form. */
export function isStrictNick(nick: string): boolean {
  // eslint-disable-next-line no-control-regex
  return nick !== "" && preparedNick(nick) === nick && !/[\u0000-\u001F\u007F]/u.test(nick);
}

export class Room {
  state: RoomState;
  version: number;
  private readonly occupants = new Map<string, Occupant>();
  private readonly nickOfSession = new Map<string, string>();
  private history: HistoryEntry[] = [];

  constructor(readonly jid: string, state: RoomState, version: number, private readonly host: RoomHost) {
    this.state = state;
    this.version = version;
  }

  get occupantCount(): number { return this.occupants.size; }
  get isEmpty(): boolean { return this.occupants.size === 0; }

  // ---- durable changes --------------------------------------------------

  private execute(command: RoomCommand, by: EventCause): RoomEvent[] {
    let decided: { events: RoomEvent[] };
    try {
      decided = decideRoom(command, this.state, { room: this.jid, now: this.host.now(), by, isServiceAdmin: (j) => this.host.isServiceAdmin(j) });
    } catch (e) {
      if (e instanceof RoomDecisionError) fail(e.condition, e.message);
      throw e;
    }
    if (decided.events.length === 0) return [];
    const stored = this.host.append(this.jid, this.version, decided.events);
    for (const e of stored) {
      this.state = evolveRoom(this.state, e as unknown as RoomEvent);
      this.version = e.streamVersion;
    }
    return decided.events;
  }

  private affiliation(bare: string): Affiliation {
    return this.host.isServiceAdmin(bare) ? "owner" : affiliationOf(this.state, bare);
  }

  // ---- entry point --------------------------------------------------------

  handle(stanza: XmlElement, to: Jid): void {
    const from = tryParseJid(stanza.attrs.from ?? "");
    if (!from) return;
    try {
      if (stanza.name === "presence") this.presence(stanza, from, to);
      else if (stanza.name === "message") this.message(stanza, from, to);
      else if (stanza.name === "iq") this.iq(stanza, from, to);
    } catch (e) {
      if (e instanceof StanzaError) return this.error(stanza, e.spec.condition, e.spec.type ?? ERROR_TYPES[e.spec.condition] ?? "cancel", e.spec.text);
      if (!(e instanceof StanzaFailure)) throw e;
      this.error(stanza, e.condition, e.type, e.message === e.condition ? undefined : e.message);
    }
  }

  /** An error reply from the room (XEP-0045 errors carry `by`, RFC 6120 §8.3.2). */
  private error(stanza: XmlElement, condition: StanzaErrorCondition, type: StanzaErrorType, text?: string, from?: string): void {
    const t = stanza.attrs.type;
    if (t === "error" || (stanza.name === "iq" && t === "result")) return;
    this.host.send(el(stanza.name, NS.client, { type: "error", id: stanza.attrs.id, from: from ?? stanza.attrs.to, to: stanza.attrs.from },
      el("error", NS.client, { type, by: this.jid }, el(condition, NS.stanzas), text === undefined ? undefined : el("text", NS.stanzas, {}, text))));
  }

  // ---- presence -----------------------------------------------------------

  private presence(stanza: XmlElement, from: Jid, to: Jid): void {
    const full = from.toString();
    const type = stanza.attrs.type;
    const current = this.nickOfSession.get(full);
    if (type === "probe") return this.probe(from, to);
    if (type === "error") {
      if (current !== undefined) this.sessionGone(full, "error", stanza);
      return;
    }
    if (type === "unavailable") {
      if (current !== undefined) this.sessionGone(full, "left", stanza);
      return;
    }
    if (type !== undefined) return;
    if (to.resource === "") {
      if (current === undefined) fail("jid-malformed", "A nickname is needed to join", "modify");
      return this.presenceUpdate(full, stanza, false);
    }
    const nick = to.resource;
    if (!isStrictNick(stanza.attrs.to?.split("/").slice(1).join("/") ?? nick)) {
      return this.error(stanza, "jid-malformed", "modify", "Nickname must pass strict validation", `${this.jid}/${preparedNick(nick)}`);
    }
    if (current === undefined) return this.join(stanza, from, nick);
    if (current === nick) return this.presenceUpdate(full, stanza, stanza.getChild("x", NS_MUC) !== undefined);
    this.changeNick(full, current, nick, stanza);
  }

  private join(stanza: XmlElement, from: Jid, nick: string): void {
    const full = from.toString();
    const bare = from.bareString();
    const joinX = stanza.getChild("x", NS_MUC);
    let created = false;
    if (!this.state.exists) {
      if (this.host.roomsCreatedBy(bare) >= this.host.maxRoomsPerUser && !this.host.isServiceAdmin(bare)) {
        fail("resource-constraint", `A user may create at most ${this.host.maxRoomsPerUser} rooms`, "wait");
      }
      this.execute({ kind: "create", owner: bare }, { kind: "user", resource: full });
      created = true;
    }
    const affiliation = this.affiliation(bare);
    if (this.state.locked && affiliation !== "owner") fail("item-not-found", "This room is locked until its owner configures it");
    if (affiliation === "outcast") fail("forbidden", this.state.affiliations.get(bare)?.reason ?? "You are banned from this room");
    if (this.state.config.membersOnly && affiliation === "none") fail("registration-required", "This room is for members only");
    const holder = nickOwner(this.state, nick);
    if (holder !== undefined && holder !== bare) fail("conflict", "This nickname is reserved");
    const existing = this.occupants.get(nick);
    if (existing && existing.bare !== bare) fail("conflict", "This nickname is in use");
    if (existing && existing.sessions.size >= this.host.maxSessionsPerOccupant) fail("resource-constraint", "Too many sessions under this nickname", "wait");
    if (!existing) {
      const max = this.state.config.maxUsers > 0 ? Math.min(this.state.config.maxUsers, this.host.maxOccupants) : this.host.maxOccupants;
      if (this.occupants.size >= max && affiliation !== "owner" && affiliation !== "admin") fail("service-unavailable", "The room is full", "wait");
    }
    // §7.2.6: the password, unless the user owns the room.
    if (this.state.config.password !== "" && affiliation !== "owner" && joinX?.getChildText("password", NS_MUC) !== this.state.config.password) {
      fail("not-authorized", "A password is required", "auth");
    }
    const occupant: Occupant = existing ?? { nick, bare, role: defaultRole(affiliation, this.state.config), sessions: new Map() };
    occupant.sessions.delete(full);
    occupant.sessions.set(full, stanza);
    if (!existing) this.occupants.set(nick, occupant);
    this.nickOfSession.set(full, nick);
    this.sendRoomState(occupant, full, created, joinX);
    this.broadcastPresence(occupant, { exceptSession: full });
  }

  /** What a session is told on joining (§7.2.2-§7.2.16): the others, itself, history, subject. */
  private sendRoomState(occupant: Occupant, full: string, created: boolean, joinX: XmlElement | undefined): void {
    const viewer = occupant;
    for (const other of this.occupants.values()) {
      if (other === occupant || !this.broadcasts(other.role)) continue;
      this.host.send(this.presenceOf(other, viewer, full, {}));
    }
    if (this.state.config.presenceBroadcast.includes("none")) {
      for (const [jid, entry] of this.state.affiliations) {
        if (entry.nick === undefined || this.occupants.has(entry.nick) || jid === occupant.bare) continue;
        this.host.send(el("presence", NS.client, { from: `${this.jid}/${entry.nick}`, to: full, type: "unavailable" },
          el("x", NS_USER, {}, el("item", NS_USER, { affiliation: entry.affiliation, role: "none", nick: entry.nick,
            jid: this.canSeeJids(viewer) ? jid : undefined }))));
      }
    }
    const codes = [...(created ? ["201"] : []), ...(this.state.config.whois === "anyone" ? ["100"] : [])];
    this.host.send(this.presenceOf(occupant, viewer, full, { codes, self: true }));
    this.sendHistory(full, joinX?.getChild("history", NS_MUC));
    const subject = this.state.subject;
    this.host.send(el("message", NS.client, { type: "groupchat", from: subject && subject.nick !== "" ? `${this.jid}/${subject.nick}` : this.jid, to: full },
      el("subject", NS.client, {}, ...(subject && subject.text !== "" ? [subject.text] : []))));
  }

  private sendHistory(full: string, request: XmlElement | undefined): void {
    let entries = this.history;
    const maxStanzas = request?.attrs.maxstanzas === undefined ? undefined : Number(request.attrs.maxstanzas);
    const seconds = request?.attrs.seconds === undefined ? undefined : Number(request.attrs.seconds);
    const since = request?.attrs.since === undefined ? undefined : Date.parse(request.attrs.since);
    const maxChars = request?.attrs.maxchars === undefined ? undefined : Number(request.attrs.maxchars);
    const now = this.host.now().getTime();
    if (seconds !== undefined && Number.isFinite(seconds)) entries = entries.filter((e) => now - e.at.getTime() <= seconds * 1000);
    if (since !== undefined && Number.isFinite(since)) entries = entries.filter((e) => e.at.getTime() > since);
    if (maxStanzas !== undefined && Number.isFinite(maxStanzas)) entries = maxStanzas <= 0 ? [] : entries.slice(-maxStanzas);
    if (maxChars !== undefined && Number.isFinite(maxChars)) {
      let total = 0;
      const kept: HistoryEntry[] = [];
      for (let i = entries.length - 1; i >= 0; i--) {
        const e = entries[i] as HistoryEntry;
        total += e.chars;
        if (total > maxChars) break;
        kept.unshift(e);
      }
      entries = kept;
    }
    for (const e of entries) {
      this.host.send(e.stanza.withAttrs({ to: full }).withChildren(
        el("delay", NS.delay, { stamp: e.at.toISOString().replace(/\.\d{3}Z$/, "Z"), from: this.jid })));
    }
  }

  private presenceUpdate(full: string, stanza: XmlElement, rejoin: boolean): void {
    const occupant = this.occupantOfSession(full);
    if (!occupant) return;
    occupant.sessions.set(full, stanza);
    if (rejoin) this.sendRoomState(occupant, full, false, stanza.getChild("x", NS_MUC));
    this.broadcastPresence(occupant, rejoin ? { exceptSession: full } : {});
  }

  private changeNick(full: string, oldNick: string, nick: string, stanza: XmlElement): void {
    const occupant = this.occupants.get(oldNick);
    if (!occupant) return;
    const holder = nickOwner(this.state, nick);
    if (holder !== undefined && holder !== occupant.bare) fail("conflict", "This nickname is reserved");
    if (this.occupants.has(nick)) fail("conflict", "This nickname is in use");
    // §7.6: unavailable from the old nickname with 303 and the new one, then presence from the new.
    this.broadcastPresence(occupant, { type: "unavailable", codes: ["303"], newNick: nick, all: true });
    this.occupants.delete(oldNick);
    occupant.nick = nick;
    occupant.sessions.set(full, stanza);
    this.occupants.set(nick, occupant);
    for (const s of occupant.sessions.keys()) this.nickOfSession.set(s, nick);
    this.broadcastPresence(occupant, { all: true });
  }

  /** A session left (unavailable), failed (presence error, Prosody's 333) or was removed. */
  private sessionGone(full: string, why: "left" | "error", stanza: XmlElement): void {
    const occupant = this.occupantOfSession(full);
    if (!occupant) return;
    this.nickOfSession.delete(full);
    if (occupant.sessions.size > 1) {
      occupant.sessions.delete(full);
      if (why === "left") this.host.send(this.presenceOf(occupant, occupant, full, { type: "unavailable", self: true, onlySession: full, extra: statusOf(stanza) }));
      this.broadcastPresence(occupant, { exceptSession: full });
      return;
    }
    if (why === "error") {
      const err = stanza.getChild("error", NS.client);
      const condition = err?.getChildren().find((c) => c.ns === NS.stanzas && c.name !== "text")?.name ?? "undefined-condition";
      const text = err?.getChildText("text", NS.stanzas);
      const status = el("status", NS.client, {}, `Kicked: ${condition.replace(/-/g, " ")}${text ? `: ${text}` : ""}`);
      this.removeOccupant(occupant, { codes: ["333"], extra: [status], skipSelf: true });
    } else {
      this.removeOccupant(occupant, { extra: statusOf(stanza) });
    }
  }

  private removeOccupant(occupant: Occupant, opts: PresenceOpts & { skipSelf?: boolean }): void {
    this.broadcastPresence(occupant, { ...opts, type: "unavailable", role: "none", all: true, skipSelf: opts.skipSelf });
    this.occupants.delete(occupant.nick);
    for (const s of occupant.sessions.keys()) this.nickOfSession.delete(s);
    this.emptied();
  }

  /** A temporary room ends with its last occupant (§10.1.3: only persistent rooms outlive them). */
  private emptied(): void {
    if (this.occupants.size > 0 || !this.state.exists || this.state.config.persistent) return;
    this.execute({ kind: "destroy", actor: undefined }, { kind: "server", reason: "the last occupant of a temporary room left" });
    this.host.archive?.drop(this.jid);
    this.history = [];
    this.host.forget(this.jid);
  }

  private probe(from: Jid, to: Jid): void {
    const full = from.toString();
    const viewer = this.occupantOfSession(full);
    if (!viewer) fail("not-acceptable", undefined, "cancel");
    const target = this.occupants.get(to.resource);
    if (target) return this.host.send(this.presenceOf(target, viewer, full, {}));
    const holder = nickOwner(this.state, to.resource);
    if (holder === undefined) fail("item-not-found", undefined, "cancel");
    const entry = this.state.affiliations.get(holder);
    this.host.send(el("presence", NS.client, { from: `${this.jid}/${to.resource}`, to: full, type: "unavailable" },
      el("x", NS_USER, {}, el("item", NS_USER, { nick: to.resource, affiliation: entry?.affiliation ?? "none", role: "none",
        jid: this.canSeeJids(viewer) ? holder : undefined }))));
  }

  // ---- building and broadcasting presence -------------------------------------

  private broadcasts(role: Role): boolean {
    return this.state.config.presenceBroadcast.includes(role);
  }

  private canSeeJids(viewer: Occupant): boolean {
    return this.state.config.whois === "anyone" || viewer.role === "moderator";
  }

  private occupantOfSession(full: string): Occupant | undefined {
    const nick = this.nickOfSession.get(full);
    return nick === undefined ? undefined : this.occupants.get(nick);
  }

  /** The occupant's presence as one session of `viewer` gets it (§7.2.3, §7.2.4). */
  private presenceOf(o: Occupant, viewer: Occupant, viewerSession: string, opts: PresenceOpts): XmlElement {
    const self = opts.self === true && viewer === o;
    const latest = [...o.sessions.values()].pop();
    const kept = opts.type === "unavailable" ? (opts.extra ?? [])
      : (latest?.children.filter((c) => typeof c === "string" || (c.ns !== NS_MUC && c.ns !== NS_USER && c.ns !== NS_OCCUPANT_ID)) ?? []);
    const seeJid = self || this.canSeeJids(viewer);
    const affiliation = opts.affiliation ?? this.affiliation(o.bare);
    const role = opts.role ?? o.role;
    const actor = opts.actor === undefined ? undefined
      : el("actor", NS_USER, { nick: opts.actor.nick, jid: !self && viewer.role === "moderator" ? opts.actor.jid : undefined });
    const reason = opts.reason === undefined ? undefined : el("reason", NS_USER, {}, opts.reason);
    const itemFor = (jid: string | undefined) => el("item", NS_USER, { affiliation, role, jid, nick: opts.newNick }, actor, reason);
    let items: XmlElement[];
    if (self && opts.onlySession !== undefined) items = [itemFor(opts.onlySession)];
    else if (self) items = [itemFor(viewerSession)];
    else if (seeJid) items = [...o.sessions.keys()].reverse().map((j) => itemFor(j));
    else items = [itemFor(undefined)];
    const x = el("x", NS_USER, {},
      opts.destroy,
      ...(opts.codes ?? []).map((code) => el("status", NS_USER, { code })),
      ...items,
      self ? el("status", NS_USER, { code: "110" }) : undefined);
    return el("presence", NS.client, { from: `${this.jid}/${o.nick}`, to: viewerSession, type: opts.type }, ...kept, x,
      el("occupant-id", NS_OCCUPANT_ID, { id: this.host.occupantId(this.jid, o.bare) }));
  }

  /** Sends an occupant's presence to everyone in the room who gets it (presencebroadcast), itself included. */
  private broadcastPresence(o: Occupant, opts: PresenceOpts & { exceptSession?: string; all?: boolean; skipSelf?: boolean }): void {
    const shown = opts.all === true || this.broadcasts(opts.role ?? o.role);
    for (const viewer of this.occupants.values()) {
      if (viewer !== o && !shown) continue;
      if (viewer === o && opts.skipSelf) continue;
      for (const session of viewer.sessions.keys()) {
        if (session === opts.exceptSession) continue;
        this.host.send(this.presenceOf(o, viewer, session, { ...opts, self: viewer === o }));
      }
    }
  }

  // ---- messages -------------------------------------------------------------

  private message(stanza: XmlElement, from: Jid, to: Jid): void {
    const full = from.toString();
    const type = stanza.attrs.type ?? "normal";
    if (type === "error") return;
    const sender = this.occupantOfSession(full);
    if (to.resource !== "") return this.privateMessage(stanza, sender, to.resource);
    if (type === "groupchat") {
      if (!sender) fail("not-acceptable", "You are not currently connected to this chat", "cancel");
      return this.groupchat(stanza, sender);
    }
    const user = stanza.getChild("x", NS_USER);
    const invites = user?.getChildren("invite", NS_USER) ?? [];
    if (invites.length > 0) return this.invite(stanza, from, sender, invites);
    const decline = user?.getChild("decline", NS_USER);
    if (decline) return this.decline(from, decline);
    fail("bad-request", "Send groupchat messages to the room, or invitations", "modify");
  }

  private groupchat(stanza: XmlElement, sender: Occupant): void {
    if (sender.role === "visitor" || sender.role === "none") fail("forbidden", "You have no voice in this room", "auth");
    const subject = stanza.getChild("subject", NS.client);
    // XEP-0359 §3: a stanza-id a sender claims in the room's name is not the room's.
    // XEP-0421 §4: the room's occupant-id replaces any the sender put in.
    let out = stanza.withAttrs({ from: `${this.jid}/${sender.nick}`, to: undefined })
      .withoutChildren((c) => (c.name === "stanza-id" && c.ns === NS_SID && c.attrs.by?.toLowerCase() === this.jid) || c.ns === NS_OCCUPANT_ID)
      .withChildren(el("occupant-id", NS_OCCUPANT_ID, { id: this.host.occupantId(this.jid, sender.bare) }));
    // §8.1: <subject/> without <body/> (Prosody: nor <thread/>) changes the subject.
    if (subject && !stanza.getChild("body", NS.client) && !stanza.getChild("thread", NS.client)) {
      if (sender.role !== "moderator" && !this.state.config.changeSubject) fail("forbidden", "You may not change the subject", "auth");
      this.execute({ kind: "subject", subject: subject.text(), nick: sender.nick }, { kind: "user", resource: [...sender.sessions.keys()].pop() ?? sender.bare });
      this.broadcastMessage(out);
      return;
    }
    if (isHistoric(stanza)) {
      // XEP-0313 §5: the room archives what it broadcasts and stamps it with the archive's id.
      if (this.host.archive) out = out.withChildren(el("stanza-id", NS_SID, { id: this.host.archive.append(this.jid, sender.nick, out), by: this.jid }));
      this.history.push({ stanza: out, at: this.host.now(), chars: (stanza.getChildText("body", NS.client) ?? "").length });
      const keep = Math.min(this.state.config.historyLength, this.host.maxHistory);
      if (this.history.length > keep) this.history.splice(0, this.history.length - keep);
    }
    this.broadcastMessage(out);
  }

  private broadcastMessage(out: XmlElement): void {
    for (const o of this.occupants.values()) for (const s of o.sessions.keys()) this.host.send(out.withAttrs({ to: s }));
  }

  /** §7.5: private messages between occupants, from the sender's occupant JID. */
  private privateMessage(stanza: XmlElement, sender: Occupant | undefined, nick: string): void {
    if (!sender) fail("not-acceptable", "You are not currently connected to this chat", "cancel");
    if (stanza.attrs.type === "groupchat") fail("bad-request", "Private messages are not groupchat", "modify");
    const target = this.occupants.get(nick);
    if (!target) fail("item-not-found", "No occupant has that nickname", "cancel");
    const out = stanza.withAttrs({ from: `${this.jid}/${sender.nick}` }).withoutChildren((c) => c.ns === NS_OCCUPANT_ID)
      .withChildren(el("x", NS_USER), el("occupant-id", NS_OCCUPANT_ID, { id: this.host.occupantId(this.jid, sender.bare) }));
    for (const s of target.sessions.keys()) this.host.send(out.withAttrs({ to: s }));
  }

  /** §7.8.2: mediated invitations, sent on by the room. */
  private invite(stanza: XmlElement, from: Jid, sender: Occupant | undefined, invites: XmlElement[]): void {
    const affiliation = this.affiliation(from.bareString());
    if (!sender && affiliation !== "owner" && affiliation !== "admin") fail("not-acceptable", "You are not currently connected to this chat", "cancel");
    if (!this.state.config.allowInvites && sender?.role !== "moderator" && affiliation !== "owner" && affiliation !== "admin" && this.state.config.membersOnly) {
      fail("forbidden", "You may not invite to this room", "auth");
    }
    if (invites.length > this.host.maxInvitesPerMessage) fail("policy-violation", `At most ${this.host.maxInvitesPerMessage} invitations a message`, "modify");
    const inviter = sender ? `${this.jid}/${sender.nick}` : from.bareString();
    for (const invite of invites) {
      const invitee = tryParseJid(invite.attrs.to ?? "");
      if (!invitee) fail("jid-malformed", "The invitee's address is not a JID", "modify");
      // §7.8.2: in a members-only room, an admin's or owner's invitation makes the invitee a member.
      const bareInvitee = invitee.bareString();
      if (this.state.config.membersOnly && (affiliation === "owner" || affiliation === "admin") && this.affiliation(bareInvitee) === "none") {
        const reason = `Invited by ${sender?.nick ?? from.bareString()}`;
        this.execute({ kind: "affiliation", actor: from.bareString(), jid: bareInvitee, affiliation: "member", reason }, { kind: "user", resource: from.toString() });
        this.affiliationChanged(bareInvitee, "member", sender ? { nick: sender.nick, jid: from.toString() } : undefined, undefined);
      }
      const reason = invite.getChildText("reason", NS_USER) ?? "";
      const password = this.state.config.password;
      this.host.send(el("message", NS.client, { from: this.jid, to: invitee.toString(), id: stanza.attrs.id },
        el("x", NS_USER, {}, el("invite", NS_USER, { from: inviter }, el("reason", NS_USER, {}, ...(reason ? [reason] : []))),
          password !== "" ? el("password", NS_USER, {}, password) : undefined),
        el("body", NS.client, {}, `${inviter} invited you to the room ${this.jid}${reason ? ` (${reason})` : ""}`),
        el("x", NS_CONFERENCE, { jid: this.jid, reason: reason || undefined, password: password || undefined })));
    }
  }

  /** The account is gone (account-deleted): its affiliation is removed by the server. */
  forgetAccount(bare: string): void {
    this.execute({ kind: "forget", jid: bare }, { kind: "server", reason: "the account was deleted" });
    this.affiliationChanged(bare, "none", undefined, undefined);
    this.emptied();
  }

  /** §7.8.2: an invitee's decline goes on to the inviter, from the room. */
  private decline(from: Jid, decline: XmlElement): void {
    const to = tryParseJid(decline.attrs.to ?? "");
    if (!to) fail("jid-malformed", "Say whose invitation you decline", "modify");
    const reason = decline.getChildText("reason", NS_USER);
    this.host.send(el("message", NS.client, { from: this.jid, to: to.toString() },
      el("x", NS_USER, {}, el("decline", NS_USER, { from: from.bareString() }, reason === undefined ? undefined : el("reason", NS_USER, {}, reason)))));
  }

  // ---- IQs ---------------------------------------------------------------------

  private iq(stanza: XmlElement, from: Jid, to: Jid): void {
    const type = stanza.attrs.type;
    if (type === "result" || type === "error") {
      if (to.resource !== "") this.iqAnswerToOccupant(stanza, from, to.resource);
      return;
    }
    const payload = stanza.firstElement();
    if (!payload || (type !== "get" && type !== "set")) fail("bad-request", "An IQ get or set with one payload", "modify");
    if (to.resource !== "") {
      // XEP-0410: a self-ping is answered by the room for a joined session.
      const nick = this.nickOfSession.get(from.toString());
      // §6.7: a non-occupant's disco request to an occupant is bad-request; other IQs (XEP-0410's self-ping) not-acceptable.
      if (nick === undefined && (payload.is("query", NS.discoInfo) || payload.is("query", NS.discoItems))) {
        fail("bad-request", "Only occupants may query an occupant (XEP-0045 §6.7)", "modify");
      }
      if (nick === undefined) fail("not-acceptable", "You are not currently connected to this chat", "cancel");
      if (payload.is("ping", NS.ping) && nick === to.resource) return this.result(stanza);
      return this.iqToOccupant(stanza, from, nick, to.resource);
    }
    const key = `${type} ${payload.ns} ${payload.name}`;
    switch (key) {
      case `get ${NS.discoInfo} query`: return this.result(stanza, this.discoInfo(from, payload.attrs.node));
      case `get ${NS.discoItems} query`: return this.result(stanza, this.discoItems(from, payload.attrs.node));
      case `get ${NS.ping} ping`: return this.result(stanza);
      case `get ${NS_OWNER} query`: return this.ownerGet(stanza, from);
      case `set ${NS_OWNER} query`: return this.ownerSet(stanza, from, payload);
      case `get ${NS_ADMIN} query`: return this.adminGet(stanza, from, payload);
      case `set ${NS_ADMIN} query`: return this.adminSet(stanza, from, payload);
      case `get ${NS_MAM} query`: return this.mamForm(stanza, from);
      case `set ${NS_MAM} query`: return this.mamQuery(stanza, from, payload);
      case `set ${NS_MODERATE} moderate`: return this.moderate(stanza, from, payload);
      case `get ${NS.register} query`: return this.registerGet(stanza, from);
      case `set ${NS.register} query`: return this.registerSet(stanza, from, payload);
      default: fail("service-unavailable", undefined, "cancel");
    }
  }

  /**
   * As Prosody does (XEP-0045 does not say how): an IQ to an occupant's JID (a vCard, a version
   * query) goes to its newest session, from the asker's occupant JID; the id
   * carries who asked, so that the answer finds its way back.
   */
  private iqToOccupant(stanza: XmlElement, from: Jid, askerNick: string, nick: string): void {
    const target = this.occupants.get(nick);
    if (!target) fail("item-not-found", "No occupant has that nickname", "cancel");
    const session = [...target.sessions.keys()].pop() as string;
    const id = `muc-${Buffer.from(JSON.stringify([from.toString(), stanza.attrs.id ?? ""])).toString("base64url")}`;
    this.host.send(stanza.withAttrs({ from: `${this.jid}/${askerNick}`, to: session, id }));
  }

  private iqAnswerToOccupant(stanza: XmlElement, from: Jid, nick: string): void {
    const responder = this.nickOfSession.get(from.toString());
    const id = stanza.attrs.id ?? "";
    if (responder === undefined || !id.startsWith("muc-")) return;
    let asker: unknown;
    try {
      asker = JSON.parse(Buffer.from(id.slice(4), "base64url").toString("utf8"));
    } catch {
      return;
    }
    if (!Array.isArray(asker) || typeof asker[0] !== "string" || typeof asker[1] !== "string") return;
    // Only to a session that is still the occupant the answer is addressed to.
    if (this.nickOfSession.get(asker[0]) !== nick) return;
    this.host.send(stanza.withAttrs({ from: `${this.jid}/${responder}`, to: asker[0], id: asker[1] === "" ? undefined : asker[1] }));
  }

  private result(stanza: XmlElement, payload?: XmlElement): void {
    this.host.send(el("iq", NS.client, { type: "result", id: stanza.attrs.id, from: stanza.attrs.to, to: stanza.attrs.from }, payload));
  }

  /**
   * §6.5: the occupants' room JIDs, for a public room or to an occupant (as
   * Prosody answers); nobody else learns who is there.
   */
  private discoItems(from: Jid, node: string | undefined): XmlElement {
    if (node !== undefined) return el("query", NS.discoItems, { node });
    const occupant = this.nickOfSession.has(from.toString());
    const visible = this.state.config.public || occupant;
    return el("query", NS.discoItems, {},
      ...(visible ? [...this.occupants.values()].map((o) => el("item", NS.discoItems, { jid: `${this.jid}/${o.nick}`, name: o.nick })) : []));
  }

  private discoInfo(from: Jid, node: string | undefined): XmlElement {
    if (node === "x-roomuser-item") {
      // §7.12: the user's registered nickname, if any.
      const nick = this.state.affiliations.get(from.bareString())?.nick;
      return el("query", NS.discoInfo, { node }, nick === undefined ? undefined : el("identity", NS.discoInfo, { category: "conference", name: nick, type: "text" }));
    }
    if (node !== undefined) fail("item-not-found", undefined, "cancel");
    const c = this.state.config;
    const features = [
      NS_MUC, NS.register, "urn:xmpp:ping", NS_OCCUPANT_ID, ...(this.host.archive ? [NS_MAM, NS_SID, NS_MODERATE] : []),
      c.persistent ? "muc_persistent" : "muc_temporary", c.public ? "muc_public" : "muc_hidden",
      c.membersOnly ? "muc_membersonly" : "muc_open", c.moderated ? "muc_moderated" : "muc_unmoderated",
      c.password !== "" ? "muc_passwordprotected" : "muc_unsecured", c.whois === "anyone" ? "muc_nonanonymous" : "muc_semianonymous",
    ];
    return el("query", NS.discoInfo, {},
      el("identity", NS.discoInfo, { category: "conference", type: "text", name: c.name || this.jid.split("@")[0] }),
      ...features.map((v) => el("feature", NS.discoInfo, { var: v })),
      roomInfoForm(c, this.occupants.size, this.state.subject?.text ?? ""));
  }

  /** Who may read the room's archive: not outcasts; in a members-only room, the affiliated. */
  private mayReadArchive(from: Jid): void {
    if (!this.host.archive) fail("service-unavailable", "This service keeps no archive of rooms", "cancel");
    const affiliation = this.affiliation(from.bareString());
    if (affiliation === "outcast" || (this.state.config.membersOnly && affiliation === "none")) fail("forbidden", "You may not read this room's archive", "auth");
  }

  private mamForm(stanza: XmlElement, from: Jid): void {
    this.mayReadArchive(from);
    this.result(stanza, el("query", NS_MAM, {}, (this.host.archive as RoomArchive).form()));
  }

  private mamQuery(stanza: XmlElement, from: Jid, query: XmlElement): void {
    this.mayReadArchive(from);
    this.result(stanza, (this.host.archive as RoomArchive).query(this.jid, query, from.toString()));
  }

  /**
   * XEP-0425 §4: a moderator retracts a message: the archive keeps a tombstone
   * in its place and every occupant is told, so clients hide it.
   */
  private moderate(stanza: XmlElement, from: Jid, moderate: XmlElement): void {
    const moderator = this.occupantOfSession(from.toString());
    if (moderator?.role !== "moderator") fail("forbidden", "Only moderators may moderate messages", "auth");
    if (!moderate.getChild("retract", NS_RETRACT)) fail("feature-not-implemented", "Only retraction is supported", "cancel");
    const id = moderate.attrs.id;
    if (id === undefined || !this.host.archive) fail("item-not-found", "No such message in this room's archive", "cancel");
    const reason = moderate.getChildText("reason", NS_MODERATE);
    const moderated = el("moderated", NS_MODERATE, { by: `${this.jid}/${moderator.nick}` },
      el("occupant-id", NS_OCCUPANT_ID, { id: this.host.occupantId(this.jid, moderator.bare) }));
    const stamp = this.host.now().toISOString().replace(/\.\d{3}Z$/, "Z");
    const found = this.host.archive.retract(this.jid, id, (original) => el("message", NS.client, { type: "groupchat", from: original.attrs.from, id: original.attrs.id },
      el("retracted", NS_RETRACT, { stamp }, moderated, reason === undefined ? undefined : el("reason", NS_MODERATE, {}, reason)),
      ...original.getChildren("occupant-id", NS_OCCUPANT_ID)));
    if (!found) fail("item-not-found", "No such message in this room's archive", "cancel");
    this.history = this.history.filter((e) => e.stanza.getChild("stanza-id", NS_SID)?.attrs.id !== id);
    this.broadcastMessage(el("message", NS.client, { type: "groupchat", from: this.jid, id: `retract-${id}` },
      el("retract", NS_RETRACT, { id }, moderated, reason === undefined ? undefined : el("reason", NS_MODERATE, {}, reason)),
      el("fallback", "urn:xmpp:fallback:0", { for: NS_RETRACT }),
      el("body", NS.client, {}, `This message was retracted by a moderator${reason === undefined ? "" : `: ${reason}`}`)));
    this.result(stanza);
  }

  private ownerGet(stanza: XmlElement, from: Jid): void {
    if (this.affiliation(from.bareString()) !== "owner") fail("forbidden", "Only owners may configure the room", "auth");
    this.result(stanza, el("query", NS_OWNER, {}, configForm(this.state.config, this.host.maxHistory)));
  }

  private ownerSet(stanza: XmlElement, from: Jid, query: XmlElement): void {
    const bare = from.bareString();
    const by: EventCause = { kind: "user", resource: from.toString() };
    const destroy = query.getChild("destroy", NS_OWNER);
    if (destroy) {
      this.destroy(bare, destroy.getChildText("reason", NS_OWNER), destroy.attrs.jid, by);
      return this.result(stanza);
    }
    const form = query.getChild("x", NS_DATA);
    if (!form) fail("bad-request", "Expected a data form or <destroy/>", "modify");
    if (this.affiliation(bare) !== "owner") fail("forbidden", "Only owners may configure the room", "auth");
    if (form.attrs.type === "cancel") {
      // §10.1.3: cancelling the initial configuration destroys the new room.
      if (this.state.locked) this.destroy(bare, undefined, undefined, by);
      return this.result(stanza);
    }
    if (form.attrs.type !== "submit") fail("bad-request", "The form must be submitted or cancelled", "modify");
    let config;
    try {
      config = applyConfigForm(form, this.state.config, this.host.maxHistory);
    } catch (e) {
      if (e instanceof FormError) fail("not-acceptable", e.message, "modify");
      throw e;
    }
    const before = this.state.config;
    this.execute({ kind: "configure", actor: bare, config }, by);
    this.result(stanza);
    // §10.2.1: 104 tells occupants the configuration changed (172/173: now non-anonymous / semi-anonymous).
    if (JSON.stringify(before) !== JSON.stringify(config)) {
      const codes = ["104", ...(before.whois !== config.whois ? [config.whois === "anyone" ? "172" : "173"] : [])];
      this.broadcastMessage(el("message", NS.client, { type: "groupchat", from: this.jid },
        el("x", NS_USER, {}, ...codes.map((code) => el("status", NS_USER, { code })))));
    }
    // §9.4 / §10.2: a room that became members-only removes those without membership (322).
    if (config.membersOnly && !before.membersOnly) {
      for (const o of [...this.occupants.values()]) {
        if (this.affiliation(o.bare) === "none") this.removeOccupant(o, { codes: ["322"] });
      }
    }
  }

  /** §10.9: every occupant is told, with the reason and alternate venue; then the room is gone. */
  destroy(actor: string | undefined, reason: string | undefined, alternate: string | undefined, by: EventCause): void {
    // The occupants are told their standing as it was (an owner leaves as owner): read it before the room goes.
    const standing = new Map([...this.occupants.values()].map((o) => [o, this.affiliation(o.bare)] as const));
    this.execute({ kind: "destroy", actor, ...(reason === undefined ? {} : { reason }), ...(alternate === undefined ? {} : { alternate }) }, by);
    const d = el("destroy", NS_USER, { jid: alternate }, reason === undefined ? undefined : el("reason", NS_USER, {}, reason));
    for (const o of this.occupants.values()) {
      for (const s of o.sessions.keys()) {
        const affiliation = standing.get(o);
        this.host.send(this.presenceOf(o, o, s, { type: "unavailable", role: "none", self: true, onlySession: s, destroy: d, ...(affiliation === undefined ? {} : { affiliation }) }));
      }
    }
    this.host.archive?.drop(this.jid);
    this.occupants.clear();
    this.nickOfSession.clear();
    this.history = [];
    this.host.forget(this.jid);
  }

  private adminGet(stanza: XmlElement, from: Jid, query: XmlElement): void {
    const bare = from.bareString();
    const mine = this.affiliation(bare);
    const item = query.getChild("item", NS_ADMIN);
    const wantedAffiliation = item?.attrs.affiliation;
    const wantedRole = item?.attrs.role;
    if (isAffiliation(wantedAffiliation) && wantedAffiliation !== "none") {
      // §9.5, §10.5: admins and owners; members too in a members-only room whose JIDs anyone may see (Prosody).
      const allowed = mine === "owner" || mine === "admin" || (mine === "member" && this.state.config.membersOnly && this.state.config.whois === "anyone");
      if (!allowed) fail("forbidden", "You may not see this list", "auth");
      const items = [...this.state.affiliations].filter(([, e]) => e.affiliation === wantedAffiliation).map(([jid, e]) =>
        el("item", NS_ADMIN, { affiliation: e.affiliation, jid, nick: e.nick }, e.reason === undefined ? undefined : el("reason", NS_ADMIN, {}, e.reason)));
      return this.result(stanza, el("query", NS_ADMIN, {}, ...items));
    }
    if (isRole(wantedRole) && wantedRole !== "none") {
      const viewer = this.occupantOfSession(from.toString());
      if (viewer?.role !== "moderator") fail("forbidden", "Only moderators may see this list", "auth");
      const items = [...this.occupants.values()].filter((o) => o.role === wantedRole).map((o) =>
        el("item", NS_ADMIN, { role: o.role, nick: o.nick, affiliation: this.affiliation(o.bare), jid: [...o.sessions.keys()].pop() }));
      return this.result(stanza, el("query", NS_ADMIN, {}, ...items));
    }
    fail("bad-request", "Ask for an affiliation or a role", "modify");
  }

  private adminSet(stanza: XmlElement, from: Jid, query: XmlElement): void {
    const items = query.getChildren("item", NS_ADMIN);
    if (items.length === 0) fail("bad-request", "No item", "modify");
    const actorSession = this.occupantOfSession(from.toString());
    const actor = { nick: actorSession?.nick, jid: from.toString() };
    const by: EventCause = { kind: "user", resource: from.toString() };
    for (const item of items) {
      const reason = item.getChildText("reason", NS_ADMIN);
      const affiliation = item.attrs.affiliation;
      const role = item.attrs.role;
      if (affiliation !== undefined) {
        if (!isAffiliation(affiliation)) fail("bad-request", `Unknown affiliation ${affiliation}`, "modify");
        // A client that names only the nickname (Prosody issue 1224): the occupant's bare JID.
        let target = item.attrs.jid === undefined ? undefined : tryParseJid(item.attrs.jid)?.bareString();
        if (target === undefined && item.attrs.nick !== undefined && item.attrs.jid === undefined) target = this.occupants.get(item.attrs.nick)?.bare;
        if (target === undefined) fail(item.attrs.jid === undefined ? "item-not-found" : "jid-malformed", "Name the JID whose affiliation changes", "modify");
        const nick = item.attrs.jid !== undefined ? item.attrs.nick : undefined;
        if (nick !== undefined && !isStrictNick(nick)) fail("jid-malformed", "Nickname must pass strict validation", "modify");
        this.execute({ kind: "affiliation", actor: from.bareString(), jid: target, affiliation,
          ...(nick === undefined ? {} : { nick }), ...(reason === undefined ? {} : { reason }) }, by);
        this.affiliationChanged(target, affiliation, actor, reason);
      } else if (role !== undefined) {
        if (!isRole(role)) fail("bad-request", `Unknown role ${role}`, "modify");
        const nick = item.attrs.nick;
        const target = nick === undefined ? undefined : this.occupants.get(nick);
        if (!target) fail("item-not-found", "No occupant has that nickname", "cancel");
        this.setRole(target, role, actorSession, from, reason);
      } else {
        fail("bad-request", "An item needs an affiliation or a role", "modify");
      }
    }
    this.result(stanza);
  }

  /** §8.2-§8.6, §9.6: kick, voice, moderator privileges. Roles are runtime state. */
  private setRole(target: Occupant, role: Role, actorOccupant: Occupant | undefined, from: Jid, reason: string | undefined): void {
    const actorAffiliation = this.affiliation(from.bareString());
    const targetAffiliation = this.affiliation(target.bare);
    const isModerator = actorOccupant?.role === "moderator" || actorAffiliation === "owner" || actorAffiliation === "admin";
    if (!isModerator) fail("forbidden", "Only moderators may change roles", "auth");
    const rank: Record<Affiliation, number> = { owner: 4, admin: 3, member: 2, none: 1, outcast: 0 };
    if ((role === "moderator" || target.role === "moderator") && rank[actorAffiliation] < rank.admin) fail("not-allowed", "Only admins and owners change moderators", "cancel");
    if (role !== "moderator" && rank[targetAffiliation] >= rank.admin && rank[actorAffiliation] <= rank[targetAffiliation] && actorAffiliation !== "owner") {
      fail("not-allowed", "You may not change the role of an admin or owner", "cancel");
    }
    if (role !== "moderator" && targetAffiliation === "owner") fail("not-allowed", "An owner cannot be kicked or silenced", "cancel");
    const actor = { nick: actorOccupant?.nick, jid: from.toString() };
    if (role === "none") {
      this.removeOccupant(target, { codes: ["307"], actor, ...(reason === undefined ? {} : { reason }) });
      return;
    }
    target.role = role;
    this.broadcastPresence(target, { actor, ...(reason === undefined ? {} : { reason }), all: true });
  }

  /** What follows an affiliation change (§9.1-§9.8, §10.3-§10.8). */
  private affiliationChanged(bare: string, affiliation: Affiliation, actor: { nick: string | undefined; jid: string } | undefined, reason: string | undefined): void {
    const entry = this.state.affiliations.get(bare);
    // A registered nickname held by someone else in the room: they make way (Prosody's 307).
    if (entry?.nick !== undefined) {
      const squatter = this.occupants.get(entry.nick);
      if (squatter && squatter.bare !== bare) this.removeOccupant(squatter, { codes: ["307"], reason: "This nickname is reserved" });
    }
    const present = [...this.occupants.values()].filter((o) => o.bare === bare);
    const withReason = reason === undefined ? {} : { reason };
    for (const o of present) {
      if (affiliation === "outcast") this.removeOccupant(o, { codes: ["301"], actor, ...withReason });
      else if (this.state.config.membersOnly && affiliation === "none") this.removeOccupant(o, { codes: ["321"], actor, ...withReason });
      else {
        o.role = defaultRole(affiliation, this.state.config);
        this.broadcastPresence(o, { actor, ...withReason, all: true });
      }
    }
    if (present.length > 0) return;
    // Not in the room: those who may see JIDs hear of it in a message.
    const x = el("x", NS_USER, {},
      affiliation === "outcast" ? el("status", NS_USER, { code: "301" }) : undefined,
      el("item", NS_USER, { jid: bare, affiliation }, reason === undefined ? undefined : el("reason", NS_USER, {}, reason)));
    for (const o of this.occupants.values()) {
      if (!this.canSeeJids(o)) continue;
      for (const s of o.sessions.keys()) this.host.send(el("message", NS.client, { from: this.jid, to: s }, x));
    }
  }

  private registerGet(stanza: XmlElement, from: Jid): void {
    const entry = this.state.affiliations.get(from.bareString());
    if (!entry || entry.affiliation === "outcast") fail("registration-required", undefined, "auth");
    // §7.10.2: a registered user learns so, and the nickname (XEP-0077's <registered/>, <username/>).
    this.result(stanza, el("query", NS.register, {}, entry.nick === undefined ? undefined : el("registered", NS.register),
      entry.nick === undefined ? undefined : el("username", NS.register, {}, entry.nick), registerForm()));
  }

  private registerSet(stanza: XmlElement, from: Jid, query: XmlElement): void {
    const bare = from.bareString();
    const by: EventCause = { kind: "user", resource: from.toString() };
    if (query.getChild("remove", NS.register)) {
      const before = this.affiliation(bare);
      if (before === "none" || before === "outcast") fail("registration-required", undefined, "auth");
      this.execute({ kind: "unregister", jid: bare }, by);
      this.affiliationChanged(bare, "none", undefined, undefined);
      return this.result(stanza);
    }
    const form = query.getChild("x", NS_DATA);
    let nick: string | undefined;
    try {
      nick = form ? registeredNick(form) : query.getChildText("username", NS.register);
    } catch (e) {
      if (e instanceof FormError) fail("bad-request", e.message, "modify");
      throw e;
    }
    if (nick === undefined || nick === "") fail("not-acceptable", "A nickname is required", "modify");
    if (!isStrictNick(nick)) fail("jid-malformed", "Nickname must pass strict validation", "modify");
    const entry = this.state.affiliations.get(bare);
    if (!entry || entry.affiliation === "outcast") fail("registration-required", undefined, "auth");
    this.execute({ kind: "register", jid: bare, nick }, by);
    this.affiliationChanged(bare, entry.affiliation, undefined, undefined);
    this.result(stanza);
  }
}

interface PresenceOpts {
  type?: "unavailable";
  codes?: string[];
  self?: boolean;
  role?: Role;
  newNick?: string;
  actor?: { nick: string | undefined; jid: string };
  reason?: string;
  destroy?: XmlElement;
  /** The affiliation to state, when it is not the room's current one (a destroyed room's). */
  affiliation?: Affiliation;
  extra?: XmlElement[];
  onlySession?: string;
}

/** The status text of an unavailable presence, passed on (Prosody issue 505). */
function statusOf(stanza: XmlElement): XmlElement[] {
  return stanza.getChildren("status", NS.client);
}

/** Prosody's muc-message-is-historic: bodies, and what hints ask to store. */
function isHistoric(stanza: XmlElement): boolean {
  if (stanza.getChild("no-store", NS_HINTS) || stanza.getChild("no-permanent-store", NS_HINTS)) return false;
  if (stanza.getChild("store", NS_HINTS)) return true;
  return stanza.getChild("body", NS.client) !== undefined;
}
