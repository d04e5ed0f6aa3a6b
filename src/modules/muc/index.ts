// Multi-user chat (XEP-0045) as an in-process component at conference.<domain>
// (`[muc]` in the configuration). Each room is a Room (room.ts) started on
// demand: its durable state folds from its stream `room:<jid>`, its occupants
// live in memory; a temporary room is destroyed (an event) when its last
// occupant leaves. The service itself answers disco (XEP-0030, the public
// rooms as items) and the ad-hoc command to destroy rooms (XEP-0050, as
// Prosody's muc_create_destroy.scs asks) for the server's admins.
import { createHmac, randomUUID } from "node:crypto";
import { el, type XmlElement } from "../../xml/element.js";
import { tryParseJid, type Jid } from "../../jid/jid.js";
import { NS } from "../../xmpp/namespaces.js";
import { errorReply, StanzaError, type StanzaErrorSpec } from "../../xmpp/errors.js";
import type { ModuleApi, ParleyModule } from "../../kernel/module-api.js";
import type { Projection } from "../../events/store.js";
import type { StoredEvent } from "../../events/types.js";
import type { Identity } from "../../kernel/events.js";
import { statement } from "../../projections/statements.js";
import { evolveRoom, initialRoomState, isRoomEvent, roomStreamId, type RoomEvent, type RoomState } from "./room-state.js";
import { NS_MUC, NS_OCCUPANT_ID, Room, type RoomArchive, type RoomHost } from "./room.js";
import { ArchiveStore, UnknownArchiveId } from "../mam/archive-store.js";
import { ArchiveIds } from "../mam/archive-ids.js";
import { MAM, finElement, parseQuery, queryForm, resultMessage } from "../mam/query.js";
import { loadOrCreateSecret } from "../../server/server-secret.js";
import { serialize } from "../../xml/serialize.js";
import { parseFragment } from "../../xml/fragment.js";
import { parseJid } from "../../jid/jid.js";
import { fieldValues, NS_DATA } from "./forms.js";

const NS_COMMANDS = "http://jabber.org/protocol/commands";
const DESTROY_NODE = "http://prosody.im/protocol/muc#destroy";
/** The mam module's secret for archive ids (src/modules/mam): one id space for accounts and rooms. */
const ARCHIVE_ID_KEY = "mam-archive-ids";

/** muc_rooms: which rooms exist, for the service's disco#items and the rooms-per-user limit; muc_affiliations: who is affiliated where. */
export const mucRoomsProjection: Projection = {
  name: "muc_rooms",
  tables: ["muc_rooms", "muc_affiliations"],
  apply(db, event: StoredEvent) {
    if (!isRoomEvent(event)) return;
    const e = event as unknown as RoomEvent;
    switch (e.type) {
      case "MucRoomCreated":
        statement(db, `INSERT INTO muc_rooms (room, creator, persistent, public, name, created_at) VALUES (?, ?, ?, ?, ?, ?)
          ON CONFLICT (room) DO UPDATE SET creator = excluded.creator, persistent = excluded.persistent, public = excluded.public,
          name = excluded.name, created_at = excluded.created_at`)
          .run(e.payload.room, e.payload.owner, e.payload.config.persistent ? 1 : 0, e.payload.config.public ? 1 : 0, e.payload.config.name, e.meta.at);
        statement(db, "INSERT INTO muc_affiliations (room, jid, affiliation) VALUES (?, ?, 'owner')").run(e.payload.room, e.payload.owner);
        return;
      case "MucAffiliationChanged":
        if (e.payload.affiliation === "none") statement(db, "DELETE FROM muc_affiliations WHERE room = ? AND jid = ?").run(e.payload.room, e.payload.jid);
        else {
          statement(db, `INSERT INTO muc_affiliations (room, jid, affiliation) VALUES (?, ?, ?)
            ON CONFLICT (room, jid) DO UPDATE SET affiliation = excluded.affiliation`).run(e.payload.room, e.payload.jid, e.payload.affiliation);
        }
        return;
      case "MucRoomConfigured":
        statement(db, "UPDATE muc_rooms SET persistent = ?, public = ?, name = ? WHERE room = ?")
          .run(e.payload.config.persistent ? 1 : 0, e.payload.config.public ? 1 : 0, e.payload.config.name, e.payload.room);
        return;
      case "MucRoomDestroyed":
        statement(db, "DELETE FROM muc_rooms WHERE room = ?").run(e.payload.room);
        statement(db, "DELETE FROM muc_affiliations WHERE room = ?").run(e.payload.room);
        return;
      default:
        return;
    }
  },
  reset(db) {
    db.prepare("DELETE FROM muc_rooms").run();
    db.prepare("DELETE FROM muc_affiliations").run();
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
function serviceInfo(archive: boolean): { identities: Identity[]; features: string[] } {
  return {
    identities: [{ category: "conference", type: "text", name: "Chatrooms" }],
    features: [NS.discoInfo, NS.discoItems, NS_MUC, NS_COMMANDS, NS.ping, "http://jabber.org/protocol/muc#unique",
      "http://jabber.org/protocol/muc#self-ping-optimization", NS_OCCUPANT_ID, ...(archive ? [MAM.ns, MAM.sid, "urn:xmpp:message-moderate:1"] : [])],
  };
}

/**
 * XEP-0313 on rooms: the mam module's table and queries with the room's JID as
 * the archive's owner (module storage, not events: the same reasons as for
 * accounts' archives, src/modules/mam), written in the turn's transaction.
 */
function roomArchive(api: ModuleApi): RoomArchive {
  const m = api.config.mam;
  const store = new ArchiveStore(api.db, (owner) => api.joinTurn(owner), new ArchiveIds(loadOrCreateSecret(api.db, ARCHIVE_ID_KEY, 16)), m.fulltext);
  const limits = { defaultPageSize: m.defaultPageSize, maxPageSize: m.maxPageSize, fulltext: m.fulltext };
  return {
    append(room, nick, stanza) {
      return store.append({ owner: room, other: parseJid(`${room}/${nick}`), direction: "in", stanza: serialize(stanza, NS.client),
        originId: stanza.getChild("origin-id", MAM.sid)?.attrs.id, body: stanza.getChildText("body", NS.client) }, api.now().getTime()).id;
    },
    query(room, payload, to) {
      const query = parseQuery(payload, limits);
      let page;
      try {
        page = store.query(room, query.filter, query.page);
      } catch (err) {
        if (err instanceof UnknownArchiveId) throw new StanzaError({ condition: "item-not-found", text: err.message });
        throw err;
      }
      for (const item of query.flip ? [...page.items].reverse() : page.items) {
        const stored = parseFragment(item.stanza);
        if (stored) api.route(resultMessage(to, room, query.queryId, item.id, item.stamp, stored));
      }
      return finElement(page);
    },
    form: () => queryForm(m.fulltext),
    retract(room, id, tombstone) {
      const item = store.byId(room, id);
      const original = item ? parseFragment(item.stanza) : undefined;
      if (!item || !original) return false;
      return store.replace(room, id, serialize(tombstone(original), NS.client));
    },
    drop: (room) => { store.deleteOwner(room); },
  };
}

class MucService {
  private readonly rooms = new Map<string, Room>();
  private readonly host: RoomHost;

  constructor(private readonly api: ModuleApi, readonly domain: string) {
    const c = api.config.muc;
    const creator = api.db.prepare("SELECT count(*) AS n FROM muc_rooms WHERE creator = ?");
    const occupantKey = loadOrCreateSecret(api.db, "muc-occupant-id", 32);
    this.host = {
      maxOccupants: c.occupantsPerRoom,
      maxHistory: c.historyMessages,
      maxSessionsPerOccupant: c.sessionsPerOccupant,
      maxInvitesPerMessage: c.invitesPerMessage,
      maxRoomsPerUser: c.roomsPerUser,
      send: (stanza) => api.route(stanza),
      now: () => api.now(),
      isServiceAdmin: (bare) => api.config.admins.includes(bare),
      append: (room, version, events) => api.events.append(roomStreamId(room), version, events),
      forget: (room) => { this.rooms.delete(room); },
      roomsCreatedBy: (bare) => (creator.get(bare) as { n: number }).n,
      archive: c.archive ? roomArchive(api) : undefined,
      // XEP-0421 §4: an HMAC of the room and the user's bare JID under a secret of this server.
      occupantId: (room, bare) => createHmac("sha256", occupantKey).update(`${room}\0${bare}`).digest("base64url").slice(0, 22),
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
      if (this.rooms.size >= this.api.config.muc.maxRooms && !this.evictOne()) {
        return this.bounce(stanza, { condition: "resource-constraint", text: "The service has as many rooms in use as it may" });
      }
      this.rooms.set(jid, room);
    }
    try {
      room.handle(stanza, to);
    } catch (err) {
      // A failed append (another process wrote to the room's stream) or a bug: the room is
      // folded afresh from its stream by the next stanza; this one gets an error, not silence.
      this.api.log.error("a room failed to handle a stanza; it will be reloaded", { room: jid, error: (err as Error).message });
      this.rooms.delete(jid);
      this.bounce(stanza, { condition: "internal-server-error" });
      return;
    }
    if (!room.state.exists) this.rooms.delete(jid);
  }

  /** Makes room for one more: forgets an empty (persistent) room, which folds again from its stream when next used. */
  private evictOne(): boolean {
    for (const [jid, room] of this.rooms) {
      if (room.isEmpty) {
        this.rooms.delete(jid);
        return true;
      }
    }
    return false;
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
      const info = serviceInfo(this.api.config.muc.archive);
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

  /** An account was deleted: its affiliations go, so whoever registers the name next inherits no room and no ban. */
  accountDeleted(bare: string): void {
    const rows = this.api.db.prepare("SELECT room FROM muc_affiliations WHERE jid = ? AND room LIKE ?").all(bare, `%@${this.domain}`) as { room: string }[];
    for (const { room: name } of rows) {
      const room = this.rooms.get(name) ?? this.load(name);
      if (!room.state.exists) continue;
      room.forgetAccount(bare);
    }
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
      api.hook("account-deleted", ({ jid }) => service.accountDeleted(jid.bareString()));
      api.component(service.domain, { accept: (stanza, to) => service.accept(stanza, to), name: "Chatrooms", info: () => serviceInfo(c.archive) });
    }
  },
};
