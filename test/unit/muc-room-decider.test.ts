// The room decider (src/modules/muc/room-state.ts) as given/when/then
// specifications: creation and locking (XEP-0045 §10.1), who may change which
// affiliation (§9, §10), registered nicknames (§7.10), destruction (§10.9).
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  roomDecider, defaultRoomConfig, defaultRole, initialRoomState, evolveRoom,
  type RoomContext, type RoomEvent, type RoomState,
} from "../../src/modules/muc/room-state.js";
import { foldRoom } from "../../src/modules/muc/index.js";
import { applyConfigForm } from "../../src/modules/muc/forms.js";
import { isStrictNick, preparedNick } from "../../src/modules/muc/room.js";
import { el } from "../../src/xml/element.js";
import type { StoredEvent } from "../../src/events/types.js";
import { spec } from "../helpers/decider-spec.js";

const ROOM = "garden@conference.example.com";
const ROMEO = "romeo@example.com";
const JULIET = "juliet@example.com";
const TYBALT = "tybalt@example.com";
const ADMIN = "admin@example.com";
const meta = { by: { kind: "user" as const, resource: "balcony" }, at: "2026-12-02T12:00:00.000Z" };
const context: RoomContext = { room: ROOM, now: new Date(meta.at), by: meta.by, isServiceAdmin: (j) => j === ADMIN };
const room = spec(roomDecider(20), context);

const created: RoomEvent = { type: "MucRoomCreated", payload: { room: ROOM, owner: ROMEO, config: defaultRoomConfig(20) }, meta };
const configured = (patch: Partial<ReturnType<typeof defaultRoomConfig>> = {}): RoomEvent =>
  ({ type: "MucRoomConfigured", payload: { room: ROOM, config: { ...defaultRoomConfig(20), ...patch } }, meta });
const affiliated = (jid: string, affiliation: "owner" | "admin" | "member" | "outcast" | "none", nick?: string): RoomEvent =>
  ({ type: "MucAffiliationChanged", payload: { room: ROOM, jid, affiliation, ...(nick === undefined ? {} : { nick }) }, meta });

test("the first joiner creates the room and owns it; it stays locked until configured (§10.1.2)", () => {
  room.given([]).when({ kind: "create", owner: ROMEO })
    .then([{ type: "MucRoomCreated", payload: { room: ROOM, owner: ROMEO, config: defaultRoomConfig(20) }, meta }])
    .thenState((s) => s.exists && s.locked && s.affiliations.get(ROMEO)?.affiliation === "owner", "an existing, locked room owned by romeo");
  room.given([created]).when({ kind: "configure", actor: ROMEO, config: { ...defaultRoomConfig(20), membersOnly: true } })
    .thenState((s) => !s.locked && s.config.membersOnly, "unlocked and members-only");
  room.given([created]).when({ kind: "create", owner: JULIET }).thenThrows("conflict");
});

test("only owners configure; the service's admins count as owners", () => {
  room.given([created, configured()]).when({ kind: "configure", actor: JULIET, config: defaultRoomConfig(20) }).thenThrows("forbidden");
  room.given([created, configured()]).when({ kind: "configure", actor: ADMIN, config: { ...defaultRoomConfig(20), moderated: true } })
    .thenState((s) => s.config.moderated, "moderated");
});

test("affiliations: owners grant anything, admins only below admin, members and strangers nothing (§9, §10)", () => {
  const withAdmin = [created, configured(), affiliated(JULIET, "admin")];
  room.given(withAdmin).when({ kind: "affiliation", actor: JULIET, jid: TYBALT, affiliation: "outcast", reason: "Hey calm down" })
    .then([{ type: "MucAffiliationChanged", payload: { room: ROOM, jid: TYBALT, affiliation: "outcast", reason: "Hey calm down" }, meta }])
    .thenState((s) => s.affiliations.get(TYBALT)?.reason === "Hey calm down", "tybalt banned with the reason kept");
  room.given(withAdmin).when({ kind: "affiliation", actor: JULIET, jid: TYBALT, affiliation: "admin" }).thenThrows("not-allowed");
  room.given(withAdmin).when({ kind: "affiliation", actor: JULIET, jid: ROMEO, affiliation: "none" }).thenThrows("not-allowed");
  room.given([created, configured(), affiliated(JULIET, "member")]).when({ kind: "affiliation", actor: JULIET, jid: TYBALT, affiliation: "member" }).thenThrows("forbidden");
  room.given([created, configured()]).when({ kind: "affiliation", actor: TYBALT, jid: TYBALT, affiliation: "owner" }).thenThrows("forbidden");
});

test("a room keeps at least one owner (§10.6)", () => {
  room.given([created, configured()]).when({ kind: "affiliation", actor: ROMEO, jid: ROMEO, affiliation: "admin" }).thenThrows("conflict");
  room.given([created, configured(), affiliated(JULIET, "owner")]).when({ kind: "affiliation", actor: ROMEO, jid: ROMEO, affiliation: "member" })
    .thenState((s) => s.affiliations.get(ROMEO)?.affiliation === "member", "romeo is a member now");
});

test("registered nicknames: members register, strangers may not, a nickname has one holder (§7.10)", () => {
  const members = [created, configured(), affiliated(JULIET, "member")];
  room.given(members).when({ kind: "register", jid: JULIET, nick: "Juliet" })
    .then([{ type: "MucAffiliationChanged", payload: { room: ROOM, jid: JULIET, affiliation: "member", nick: "Juliet" }, meta }]);
  room.given(members).when({ kind: "register", jid: TYBALT, nick: "Tybalt" }).thenThrows("registration-required");
  room.given([...members, affiliated(TYBALT, "member", "Juliet")]).when({ kind: "register", jid: JULIET, nick: "Juliet" }).thenThrows("conflict");
  // Granting membership again keeps the registered nickname; unregistering removes both.
  room.given([...members, affiliated(JULIET, "member", "Juliet")]).when({ kind: "affiliation", actor: ROMEO, jid: JULIET, affiliation: "admin" })
    .thenState((s) => s.affiliations.get(JULIET)?.nick === "Juliet", "the nickname kept");
  room.given([...members, affiliated(JULIET, "member", "Juliet")]).when({ kind: "unregister", jid: JULIET })
    .thenState((s) => !s.affiliations.has(JULIET), "juliet unaffiliated");
});

test("a deleted account is forgotten by the server, even a last owner; forgetting a stranger decides nothing", () => {
  room.given([created, configured()]).when({ kind: "forget", jid: ROMEO })
    .then([{ type: "MucAffiliationChanged", payload: { room: ROOM, jid: ROMEO, affiliation: "none" }, meta }]);
  room.given([created, configured()]).when({ kind: "forget", jid: TYBALT }).then([]);
});

test("destroying: only owners (or the server); afterwards the room is gone and a new one starts afresh", () => {
  room.given([created, configured()]).when({ kind: "destroy", actor: JULIET }).thenThrows("forbidden");
  room.given([created, configured({ persistent: true }), affiliated(JULIET, "admin")]).when({ kind: "destroy", actor: ROMEO, reason: "We refuse to live in this fantasy!" })
    .then([{ type: "MucRoomDestroyed", payload: { room: ROOM, reason: "We refuse to live in this fantasy!" }, meta }])
    .thenState((s) => !s.exists && s.affiliations.size === 0, "no room, no affiliations");
  room.given([created, configured()]).when({ kind: "destroy", actor: undefined })
    .thenState((s) => !s.exists, "destroyed by the server when emptied");
  room.given([]).when({ kind: "destroy", actor: ROMEO }).thenThrows("item-not-found");
});

test("the fold of a stream stops where replay asks (--until) and survives a destroy and re-creation", () => {
  const events = [created, configured({ name: "Garden" }), affiliated(JULIET, "member"),
    { type: "MucRoomDestroyed", payload: { room: ROOM }, meta } as RoomEvent,
    { ...created, payload: { room: ROOM, owner: JULIET, config: defaultRoomConfig(20) } } as RoomEvent];
  const stored: StoredEvent[] = events.map((e, i) => ({ ...e, seq: i + 1, streamId: `room:${ROOM}`, streamVersion: i + 1, schemaVersion: 1, recordedAt: meta.at }));
  const at3 = foldRoom(stored, 20, 3);
  assert.is(at3.version, 3);
  assert.is(at3.state.config.name, "Garden");
  assert.is(at3.state.affiliations.get(JULIET)?.affiliation, "member");
  const end = foldRoom(stored, 20);
  assert.is(end.version, 5);
  assert.equal([...end.state.affiliations.keys()], [JULIET], "the new room's owner only");
  assert.ok(end.state.locked);
});

test("default roles: owners and admins moderate, visitors in a moderated room have no voice (§5.1.2)", () => {
  const open = defaultRoomConfig(20);
  assert.is(defaultRole("owner", open), "moderator");
  assert.is(defaultRole("member", { ...open, moderated: true }), "participant");
  assert.is(defaultRole("none", { ...open, moderated: true }), "visitor");
  assert.is(defaultRole("none", open), "participant");
});

test("the configuration form: fields given change, others stay; an empty secret removes the password", () => {
  const form = (fields: [string, string[]][]) => el("x", "jabber:x:data", { type: "submit" },
    ...fields.map(([v, values]) => el("field", "jabber:x:data", { var: v }, ...values.map((x) => el("value", "jabber:x:data", {}, x)))));
  const base = { ...defaultRoomConfig(20), password: "cauldronburn" };
  const next = applyConfigForm(form([["FORM_TYPE", ["http://jabber.org/protocol/muc#roomconfig"]], ["muc#roomconfig_roomsecret", []],
    ["muc#roomconfig_presencebroadcast", ["none", "participant", "moderator"]], ["muc#maxhistoryfetch", ["500"]]]), base, 50);
  assert.is(next.password, "");
  assert.equal(next.presenceBroadcast, ["none", "participant", "moderator"]);
  assert.is(next.historyLength, 50, "capped by the service's history_messages");
  assert.is(next.whois, "moderators", "untouched");
  assert.throws(() => applyConfigForm(form([["muc#roomconfig_whois", ["everyone"]]]), base, 50), /whois/);
});

test("nicknames must be in their prepared form (Prosody's strict resourceprep check)", () => {
  assert.ok(isStrictNick("Romeo"));
  assert.not.ok(isStrictNick("🤖\uFE0F"), "a variation selector is mapped to nothing");
  assert.is(preparedNick("🤖\uFE0F"), "🤖");
  assert.not.ok(isStrictNick(""));
});

test("evolve is total over the event types and a destroyed room equals a new one", () => {
  let s: RoomState = initialRoomState(20);
  for (const e of [created, configured(), affiliated(JULIET, "member", "J"), { type: "MucSubjectChanged", payload: { room: ROOM, subject: "Love", nick: "Romeo" }, meta } as RoomEvent]) s = evolveRoom(s, e);
  assert.equal(s.subject, { text: "Love", nick: "Romeo" });
  s = evolveRoom(s, { type: "MucRoomDestroyed", payload: { room: ROOM }, meta });
  assert.equal(s, initialRoomState(20));
});

test.run();
