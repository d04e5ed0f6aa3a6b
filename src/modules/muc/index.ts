// Multi-user chat (XEP-0045) as an in-process component at conference.<domain>
// (`[muc]` in the configuration). Each room is a Room (room.ts) started on
// demand: its durable state folds from its stream `room:<jid>`, its occupants
// live in memory; a temporary room is destroyed (an event) when its last
// occupant leaves. The service itself answers disco (XEP-0030, the public
// rooms as items) and the ad-hoc command to destroy rooms (XEP-0050, as
// Prosody's muc_create_destroy.scs asks) for the server's admins.
import { randomUUID } from "node:crypto";
import { el, type XmlElement } from "../../xml/element.js";
import { tryParseJid, type Jid } from "../../jid/jid.js";
import { NS } from "../../xmpp/namespaces.js";
import { errorReply, type StanzaErrorSpec } from "../../xmpp/errors.js";
import type { ModuleApi, ParleyModule } from "../../kernel/module-api.js";
import type { Projection } from "../../events/store.js";
import type { StoredEvent } from "../../events/types.js";
import type { Identity } from "../../kernel/events.js";
import { statement } from "../../projections/statements.js";
import { evolveRoom, initialRoomState, isRoomEvent, roomStreamId, type RoomEvent, type RoomState } from "./room-state.js";
import { NS_MUC, Room, type RoomHost } from "./room.js";
import { fieldValues, NS_DATA } from "./forms.js";

const NS_COMMANDS = "http://jabber.org/protocol/commands";
const DESTROY_NODE = "http://prosody.im/protocol/muc#destroy";

/** muc_rooms: which rooms exist, for the service's disco#items and the rooms-per-user limit. */
export const mucRoomsProjection: Projection = {
  name: "muc_rooms",
  tables: ["muc_rooms"],
  apply(db, event: StoredEvent) {
    if (!isRoomEvent(event)) return;
    const e = event as unknown as RoomEvent;
    switch (e.type) {
      case "MucRoomCreated":
        statement(db, `INSERT INTO muc_rooms (room, creator, persistent, public, name, created_at) VALUES (?, ?, ?, ?, ?, ?)
          ON CONFLICT (room) DO UPDATE SET creator = excluded.creator, persistent = excluded.persistent, public = excluded.public,
          name = excluded.name, created_at = excluded.created_at`)
          .run(e.payload.room, e.payload.owner, e.payload.config.persistent ? 1 : 0, e.payload.config.public ? 1 : 0, e.payload.config.name, e.meta.at);
        return;
      case "MucRoomConfigured":
        statement(db, "UPDATE muc_rooms SET persistent = ?, public = ?, name = ? WHERE room = ?")
          .run(e.payload.config.persistent ? 1 : 0, e.payload.config.public ? 1 : 0, e.payload.config.name, e.payload.room);
        return;
      case "MucRoomDestroyed":
        statement(db, "DELETE FROM muc_rooms WHERE room = ?").run(e.payload.room);
        return;
      default:
        return;
    }
  },
  reset(db) {
    db.prepare("DELETE FROM muc_rooms").run();
  },
};

/** A room's state at the end of its stream (or at `untilVersion`). */
export function foldRoom(events: readonly StoredEvent[], historyLength: number, untilVersion = Infinity): { state: RoomState; version: number } {
  let state = initialRoomState(historyLength);
  let version = 0;
  for (const e of events) {
    if (e.streamVersion > untilVersion) break;
    if (isRoomEvent(e)) state = evolveRoom(state, e as unknown as RoomEvent);
    version = e.streamVersion;
  }
  return { state, version };
}

/** The service's disco#info (XEP-0045 §6.1), also what `parley check features` reads. */
function serviceInfo(): { identities: Identity[]; features: string[] } {
  return {
    identities: [{ category: "conference", type: "text", name: "Chatrooms" }],
    features: [NS.discoInfo, NS.discoItems, NS_MUC, NS_COMMANDS, NS.ping, "http://jabber.org/protocol/muc#unique",
      "http://jabber.org/protocol/muc#self-ping-optimization"],
  };
}

class MucService {
  private readonly rooms = new Map<string, Room>();
  private readonly host: RoomHost;

  constructor(private readonly api: ModuleApi, readonly domain: string) {
    const c = api.config.muc;
    const creator = api.db.prepare("SELECT count(*) AS n FROM muc_rooms WHERE creator = ?");
    this.host = {
      maxOccupants: c.occupantsPerRoom,
      maxHistory: c.historyMessages,
      maxSessionsPerOccupant: c.sessionsPerOccupant,
      maxRoomsPerUser: c.roomsPerUser,
      send: (stanza) => api.route(stanza),
      now: () => api.now(),
      isServiceAdmin: (bare) => api.config.admins.includes(bare),
      append: (room, version, events) => api.events.append(roomStreamId(room), version, events),
      forget: (room) => { this.rooms.delete(room); },
      roomsCreatedBy: (bare) => (creator.get(bare) as { n: number }).n,
    };
  }

  accept(stanza: XmlElement, to: Jid): void {
    if (to.local === "") return this.service(stanza, to);
    const jid = to.bareString();
    let room = this.rooms.get(jid);
    if (!room) {
      const loaded = foldRoom(this.api.events.readStream(roomStreamId(jid)), this.api.config.muc.historyMessages);
      room = new Room(jid, loaded.state, loaded.version, this.host);
      if (loaded.state.exists && !loaded.state.config.persistent) {
        // A temporary room whose occupants went with a previous run of the server.
        room.destroy(undefined, undefined, undefined, { kind: "server", reason: "a temporary room outlived the server's restart" });
      }
      const joining = stanza.name === "presence" && stanza.attrs.type === undefined && to.resource !== "";
      if (!room.state.exists && !joining) return this.noRoom(stanza);
      if (this.rooms.size >= this.api.config.muc.maxRooms && !room.state.exists) {
        return this.bounce(stanza, { condition: "resource-constraint", text: "The service has as many rooms as it may" });
      }
      this.rooms.set(jid, room);
    }
    room.handle(stanza, to);
    if (!room.state.exists) this.rooms.delete(jid);
  }

  private noRoom(stanza: XmlElement): void {
    if (stanza.name === "presence" && stanza.attrs.type !== "probe") return;
    this.bounce(stanza, { condition: "item-not-found", text: "No such room" });
  }

  private bounce(stanza: XmlElement, spec: StanzaErrorSpec): void {
    if (stanza.attrs.type === "error" || stanza.attrs.type === "result" || stanza.attrs.from === undefined) return;
    this.api.route(errorReply(stanza, spec));
  }

  /** Stanzas to conference.<domain> itself. */
  private service(stanza: XmlElement, to: Jid): void {
    if (stanza.name !== "iq") {
      if (stanza.name === "message") this.bounce(stanza, { condition: "service-unavailable" });
      return;
    }
    const type = stanza.attrs.type;
    if (type === "result" || type === "error") return;
    const payload = stanza.firstElement();
    const reply = (p?: XmlElement) => this.api.route(el("iq", NS.client, { type: "result", id: stanza.attrs.id, from: to.toString(), to: stanza.attrs.from }, p));
    if (type === "get" && payload?.is("query", NS.discoInfo)) {
      if (payload.attrs.node === NS_COMMANDS) return reply(el("query", NS.discoInfo, { node: NS_COMMANDS }, el("identity", NS.discoInfo, { category: "automation", type: "command-list" })));
      if (payload.attrs.node !== undefined) return this.bounce(stanza, { condition: "item-not-found" });
      const info = serviceInfo();
      return reply(el("query", NS.discoInfo, {},
        ...info.identities.map((i) => el("identity", NS.discoInfo, { category: i.category, type: i.type, name: i.name })),
        ...info.features.map((v) => el("feature", NS.discoInfo, { var: v }))));
    }
    if (type === "get" && payload?.is("query", NS.discoItems)) {
      if (payload.attrs.node === NS_COMMANDS) {
        const from = tryParseJid(stanza.attrs.from ?? "");
        const admin = from !== undefined && this.api.config.admins.includes(from.bareString());
        return reply(el("query", NS.discoItems, { node: NS_COMMANDS },
          admin ? el("item", NS.discoItems, { jid: to.toString(), node: DESTROY_NODE, name: "Destroy rooms" }) : undefined));
      }
      const rows = this.api.db.prepare("SELECT room, name FROM muc_rooms WHERE public = 1 AND room LIKE ? ORDER BY room LIMIT 500").all(`%@${this.domain}`) as { room: string; name: string }[];
      return reply(el("query", NS.discoItems, {}, ...rows.map((r) => el("item", NS.discoItems, { jid: r.room, name: r.name || undefined }))));
    }
    if (type === "get" && payload?.is("ping", NS.ping)) return reply();
    if (type === "get" && payload?.is("unique", "http://jabber.org/protocol/muc#unique")) {
      return reply(el("unique", "http://jabber.org/protocol/muc#unique", {}, randomUUID()));
    }
    if (type === "set" && payload?.is("command", NS_COMMANDS) && payload.attrs.node === DESTROY_NODE) return this.destroyCommand(stanza, payload, to);
    this.bounce(stanza, { condition: "service-unavailable" });
  }

  /** XEP-0050: the admins' command that destroys rooms (Prosody's node name, which its script uses). */
  private destroyCommand(stanza: XmlElement, command: XmlElement, to: Jid): void {
    const from = tryParseJid(stanza.attrs.from ?? "");
    if (!from || !this.api.config.admins.includes(from.bareString())) return this.bounce(stanza, { condition: "forbidden", text: "Only the server's admins may destroy rooms" });
    const reply = (status: string, sessionid: string, ...children: XmlElement[]) => this.api.route(el("iq", NS.client,
      { type: "result", id: stanza.attrs.id, from: to.toString(), to: stanza.attrs.from },
      el("command", NS_COMMANDS, { node: DESTROY_NODE, status, sessionid }, ...children)));
    const sessionid = command.attrs.sessionid ?? randomUUID();
    if (command.attrs.action === "cancel") return reply("canceled", sessionid);
    const form = command.getChild("x", NS_DATA);
    if (!form) {
      const rows = this.api.db.prepare("SELECT room FROM muc_rooms WHERE room LIKE ? ORDER BY room LIMIT 500").all(`%@${this.domain}`) as { room: string }[];
      return reply("executing", sessionid, el("x", NS_DATA, { type: "form" },
        el("title", NS_DATA, {}, "Destroy rooms"),
        el("field", NS_DATA, { type: "list-multi", var: "rooms", label: "Rooms to destroy" },
          ...rows.map((r) => el("option", NS_DATA, {}, el("value", NS_DATA, {}, r.room))))));
    }
    const destroyed: string[] = [];
    for (const raw of fieldValues(form, "rooms")) {
      const jid = tryParseJid(raw);
      if (!jid || jid.domain !== this.domain || jid.local === "") continue;
      const name = jid.bareString();
      const room = this.rooms.get(name) ?? this.load(name);
      if (!room.state.exists) continue;
      room.destroy(undefined, undefined, undefined, { kind: "admin", tool: `ad-hoc command by ${from.bareString()}` });
      this.rooms.delete(name);
      destroyed.push(name);
    }
    reply("completed", sessionid, el("note", NS_COMMANDS, { type: "info" },
      destroyed.length === 0 ? "No rooms were destroyed" : `The following rooms were destroyed:\n${destroyed.join("\n")}`));
  }

  private load(jid: string): Room {
    const loaded = foldRoom(this.api.events.readStream(roomStreamId(jid)), this.api.config.muc.historyMessages);
    return new Room(jid, loaded.state, loaded.version, this.host);
  }
}

export const muc: ParleyModule = {
  name: "muc",
  projections: [mucRoomsProjection],
  load(api) {
    const c = api.config.muc;
    if (!c.enabled) return;
    for (const domain of api.config.domains) {
      const service = new MucService(api, `${c.subdomain}.${domain}`);
      api.component(service.domain, { accept: (stanza, to) => service.accept(stanza, to), name: "Chatrooms", info: serviceInfo });
    }
  },
};
