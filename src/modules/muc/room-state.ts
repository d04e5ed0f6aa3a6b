// A room's durable state (XEP-0045): its configuration, affiliations with
// registered nicknames and reasons, the subject, whether it exists. It is the
// fold of the room's stream `room:<jid>`; the decider turns a command (an
// owner's form, an admin's item, a registration) into events, checking the
// privileges of XEP-0045 §5.2 and §10. Occupants and roles are runtime state
// (room.ts), never events: they end with the sessions.
import type { EventCause, NewEvent, StoredEvent } from "../../events/types.js";
import type { StanzaErrorCondition } from "../../xmpp/errors.js";

export type Affiliation = "owner" | "admin" | "member" | "none" | "outcast";
export type Role = "moderator" | "participant" | "visitor" | "none";

export const AFFILIATIONS: readonly Affiliation[] = ["owner", "admin", "member", "none", "outcast"];
export const ROLES: readonly Role[] = ["moderator", "participant", "visitor", "none"];
const RANK: Record<Affiliation, number> = { owner: 4, admin: 3, member: 2, none: 1, outcast: 0 };

export function isAffiliation(s: string | undefined): s is Affiliation {
  return s !== undefined && (AFFILIATIONS as readonly string[]).includes(s);
}
export function isRole(s: string | undefined): s is Role {
  return s !== undefined && (ROLES as readonly string[]).includes(s);
}

/** muc#roomconfig (XEP-0045 §10.2, §15.5.3). */
export interface RoomConfig {
  name: string;
  description: string;
  persistent: boolean;
  public: boolean;
  membersOnly: boolean;
  moderated: boolean;
  /** "" for none. */
  password: string;
  /** Who may see occupants' real JIDs: §7.2.3 semi-anonymous ("moderators") or non-anonymous ("anyone"). */
  whois: "moderators" | "anyone";
  /** Roles whose presence is broadcast (muc#roomconfig_presencebroadcast); "none" also shows offline members. */
  presenceBroadcast: Role[];
  /** Participants may change the subject (moderators always may). */
  changeSubject: boolean;
  /** Participants may invite (§7.8); admins and owners always may. */
  allowInvites: boolean;
  /** Messages of discussion history kept (§7.2.15). */
  historyLength: number;
  /** 0: the service-wide limit only. */
  maxUsers: number;
}

export function defaultRoomConfig(historyLength: number): RoomConfig {
  return {
    name: "", description: "", persistent: false, public: true, membersOnly: false, moderated: false,
    password: "", whois: "moderators", presenceBroadcast: ["moderator", "participant", "visitor"],
    changeSubject: false, allowInvites: false, historyLength, maxUsers: 0,
  };
}

export interface AffiliationEntry {
  affiliation: Exclude<Affiliation, "none">;
  /** A registered (reserved) nickname, §7.10. */
  nick?: string;
  /** Why, for bans (§9.1) and the others. */
  reason?: string;
}

export interface RoomState {
  exists: boolean;
  /** A new room is locked until its owner submits the configuration form (§10.1.2). */
  locked: boolean;
  config: RoomConfig;
  affiliations: Map<string, AffiliationEntry>;
  subject: { text: string; nick: string } | undefined;
}

export type RoomEvent =
  | NewEvent<"MucRoomCreated", { room: string; owner: string; config: RoomConfig }>
  | NewEvent<"MucRoomConfigured", { room: string; config: RoomConfig }>
  | NewEvent<"MucAffiliationChanged", { room: string; jid: string; affiliation: Affiliation; nick?: string; reason?: string }>
  | NewEvent<"MucSubjectChanged", { room: string; subject: string; nick: string }>
  | NewEvent<"MucRoomDestroyed", { room: string; reason?: string; alternate?: string }>;

export const ROOM_EVENT_TYPES: readonly string[] = ["MucRoomCreated", "MucRoomConfigured", "MucAffiliationChanged", "MucSubjectChanged", "MucRoomDestroyed"];
export const roomStreamId = (room: string): string => `room:${room}`;

export function isRoomEvent(e: StoredEvent): e is StoredEvent & RoomEvent {
  return ROOM_EVENT_TYPES.includes(e.type);
}

export function initialRoomState(historyLength = 20): RoomState {
  return { exists: false, locked: false, config: defaultRoomConfig(historyLength), affiliations: new Map(), subject: undefined };
}

/** The fold: pure, one event at a time. */
export function evolveRoom(state: RoomState, event: RoomEvent): RoomState {
  switch (event.type) {
    case "MucRoomCreated":
      return { exists: true, locked: true, config: { ...event.payload.config }, subject: undefined,
        affiliations: new Map([[event.payload.owner, { affiliation: "owner" }]]) };
    case "MucRoomConfigured":
      return { ...state, locked: false, config: { ...event.payload.config } };
    case "MucAffiliationChanged": {
      const affiliations = new Map(state.affiliations);
      const { jid, affiliation, nick, reason } = event.payload;
      if (affiliation === "none") affiliations.delete(jid);
      else affiliations.set(jid, { affiliation, ...(nick === undefined ? {} : { nick }), ...(reason === undefined ? {} : { reason }) });
      return { ...state, affiliations };
    }
    case "MucSubjectChanged":
      return { ...state, subject: { text: event.payload.subject, nick: event.payload.nick } };
    case "MucRoomDestroyed":
      return initialRoomState(state.config.historyLength);
  }
}

export function affiliationOf(state: RoomState, bareJid: string): Affiliation {
  return state.affiliations.get(bareJid)?.affiliation ?? "none";
}

/** The bare JID that registered a nickname, if any (§7.10). */
export function nickOwner(state: RoomState, nick: string): string | undefined {
  for (const [jid, entry] of state.affiliations) if (entry.nick === nick) return jid;
  return undefined;
}

export class RoomDecisionError extends Error {
  constructor(readonly condition: StanzaErrorCondition, message: string) {
    super(message);
    this.name = "RoomDecisionError";
  }
}

export type RoomCommand =
  | { kind: "create"; owner: string }
  | { kind: "configure"; actor: string; config: RoomConfig }
  | { kind: "affiliation"; actor: string; jid: string; affiliation: Affiliation; nick?: string; reason?: string }
  | { kind: "register"; jid: string; nick: string }
  | { kind: "unregister"; jid: string }
  /** The server removes a deleted account's affiliation, whatever it was (even a last owner's). */
  | { kind: "forget"; jid: string }
  | { kind: "subject"; subject: string; nick: string }
  | { kind: "destroy"; actor: string | undefined; reason?: string; alternate?: string };

export interface RoomContext {
  room: string;
  now: Date;
  by: EventCause;
  /** Admins of the service (config `admins`): owners of every room. */
  isServiceAdmin(bareJid: string): boolean;
}

function event<T extends RoomEvent["type"]>(type: T, payload: Extract<RoomEvent, { type: T }>["payload"], ctx: RoomContext): RoomEvent {
  return { type, payload, meta: { by: ctx.by, at: ctx.now.toISOString() } } as RoomEvent;
}

function effectiveAffiliation(state: RoomState, jid: string, ctx: RoomContext): Affiliation {
  return ctx.isServiceAdmin(jid) ? "owner" : affiliationOf(state, jid);
}

/** XEP-0045 §9 and §10: who may give whom which affiliation. */
function checkAffiliationChange(state: RoomState, actor: string, target: string, to: Affiliation, ctx: RoomContext): void {
  const mine = effectiveAffiliation(state, actor, ctx);
  const theirs = affiliationOf(state, target);
  if (mine === "owner") {
    // §10.6.2: an owner may not leave the room without one.
    if (theirs === "owner" && to !== "owner") {
      const owners = [...state.affiliations.values()].filter((e) => e.affiliation === "owner").length;
      if (owners <= 1) throw new RoomDecisionError("conflict", "A room needs at least one owner");
    }
    return;
  }
  if (mine === "admin") {
    // §9: admins manage members and outcasts below themselves.
    if (RANK[theirs] >= RANK.admin || RANK[to] >= RANK.admin) throw new RoomDecisionError("not-allowed", "Only owners may change owners and admins");
    return;
  }
  throw new RoomDecisionError("forbidden", "You are not allowed to change affiliations");
}

export function decideRoom(command: RoomCommand, state: RoomState, ctx: RoomContext): { events: RoomEvent[] } {
  const room = ctx.room;
  switch (command.kind) {
    case "create":
      if (state.exists) throw new RoomDecisionError("conflict", "The room exists");
      return { events: [event("MucRoomCreated", { room, owner: command.owner, config: state.config }, ctx)] };
    case "configure":
      if (!state.exists) throw new RoomDecisionError("item-not-found", "No such room");
      if (effectiveAffiliation(state, command.actor, ctx) !== "owner") throw new RoomDecisionError("forbidden", "Only owners may configure the room");
      return { events: [event("MucRoomConfigured", { room, config: command.config }, ctx)] };
    case "affiliation": {
      if (!state.exists) throw new RoomDecisionError("item-not-found", "No such room");
      checkAffiliationChange(state, command.actor, command.jid, command.affiliation, ctx);
      const nick = command.nick ?? (command.affiliation === "none" || command.affiliation === "outcast" ? undefined : state.affiliations.get(command.jid)?.nick);
      if (nick !== undefined) {
        const holder = nickOwner(state, nick);
        if (holder !== undefined && holder !== command.jid) throw new RoomDecisionError("conflict", "That nickname is registered by someone else");
      }
      return { events: [event("MucAffiliationChanged", {
        room, jid: command.jid, affiliation: command.affiliation,
        ...(nick === undefined ? {} : { nick }), ...(command.reason === undefined ? {} : { reason: command.reason }),
      }, ctx)] };
    }
    case "register": {
      // §7.10, as Prosody by default: only those already affiliated register a nickname.
      const entry = state.affiliations.get(command.jid);
      if (!entry || entry.affiliation === "outcast") throw new RoomDecisionError("registration-required", "Only members may register a nickname");
      const holder = nickOwner(state, command.nick);
      if (holder !== undefined && holder !== command.jid) throw new RoomDecisionError("conflict", "That nickname is registered by someone else");
      return { events: [event("MucAffiliationChanged", { room, jid: command.jid, affiliation: entry.affiliation, nick: command.nick }, ctx)] };
    }
    case "unregister": {
      // §7.10.2 (cancelling): the registration and the membership go.
      const entry = state.affiliations.get(command.jid);
      if (!entry || entry.affiliation === "outcast") throw new RoomDecisionError("item-not-found", "You are not registered");
      if (entry.affiliation === "owner") checkAffiliationChange(state, command.jid, command.jid, "none", ctx);
      return { events: [event("MucAffiliationChanged", { room, jid: command.jid, affiliation: "none" }, ctx)] };
    }
    case "forget":
      if (!state.affiliations.has(command.jid)) return { events: [] };
      return { events: [event("MucAffiliationChanged", { room, jid: command.jid, affiliation: "none" }, ctx)] };
    case "subject":
      return { events: [event("MucSubjectChanged", { room, subject: command.subject, nick: command.nick }, ctx)] };
    case "destroy":
      if (!state.exists) throw new RoomDecisionError("item-not-found", "No such room");
      if (command.actor !== undefined && effectiveAffiliation(state, command.actor, ctx) !== "owner") {
        throw new RoomDecisionError("forbidden", "Only owners may destroy the room");
      }
      return { events: [event("MucRoomDestroyed", {
        room, ...(command.reason === undefined ? {} : { reason: command.reason }), ...(command.alternate === undefined ? {} : { alternate: command.alternate }),
      }, ctx)] };
  }
}

/** The decider, for given/when/then tests (test/helpers/decider-spec.ts). */
export function roomDecider(historyLength = 20) {
  return {
    initialState: initialRoomState(historyLength),
    evolve: evolveRoom,
    decide: decideRoom,
  };
}

/** The default role of an affiliation on joining (§5.1.2). */
export function defaultRole(affiliation: Affiliation, config: RoomConfig): Role {
  switch (affiliation) {
    case "owner": case "admin": return "moderator";
    case "member": return "participant";
    case "none": return config.moderated ? "visitor" : "participant";
    case "outcast": return "none";
  }
}
