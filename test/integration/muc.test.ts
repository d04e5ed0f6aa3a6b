// Multi-user chat (src/modules/muc) over real sockets, where Prosody's scripts
// do not look: a persistent room's affiliations survive a restart (they are
// events), a temporary room ends with its last occupant, the [muc] limits,
// history on join, and the room commands of `parley events` and `parley replay`.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { RawClient } from "../helpers/raw-client.js";
import { startTestServer, type TestServer } from "../helpers/test-server.js";
import { PARLEY_BIN } from "../helpers/server-process.js";
import type { ServerConfig } from "../../src/config.js";

const PASSWORD = "correct horse";
const USERS = ["romeo", "juliet", "tybalt", "nurse"];
const ACCOUNTS = USERS.map((u) => ({ jid: `${u}@localhost`, password: PASSWORD }));
const MUC = "http://jabber.org/protocol/muc";

function parley(args: string[]) {
  return spawnSync(process.execPath, [PARLEY_BIN, ...args], { encoding: "utf8", timeout: 30_000 });
}

async function client(ts: TestServer, user: string): Promise<RawClient> {
  const c = await RawClient.connect(ts.port);
  await c.login(user, PASSWORD, "r1");
  return c;
}

/** Sends a stanza and waits for everything it causes to this client (a ping round trip after it). */
let syncs = 0;
async function say(c: RawClient, xml: string): Promise<string> {
  c.clear();
  c.write(xml);
  return c.sync(`sync${++syncs}`);
}

const join = (room: string, nick: string, extra = "") => `<presence to='${room}/${nick}'><x xmlns='${MUC}'>${extra}</x></presence>`;
const instant = (room: string, fields = "") => `<iq type='set' id='cfg' to='${room}'><query xmlns='${MUC}#owner'><x xmlns='jabber:x:data' type='submit'>${fields}</x></query></iq>`;
const field = (v: string, value: string) => `<field var='${v}'><value>${value}</value></field>`;
const affiliate = (room: string, jid: string, affiliation: string, reason = "") =>
  `<iq type='set' id='aff' to='${room}'><query xmlns='${MUC}#admin'><item affiliation='${affiliation}' jid='${jid}'>${reason ? `<reason>${reason}</reason>` : ""}</item></query></iq>`;

test("a persistent room's affiliations and ban outlive a restart; parley replay --room explains them", async () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "parley-muc-"));
  const room = "garden@conference.localhost";
  try {
    let ts = await startTestServer({ dataDir, accounts: ACCOUNTS });
    const romeo = await client(ts, "romeo");
    assert.match(await say(romeo, join(room, "Romeo")), /code='201'/, "romeo created the room");
    assert.match(await say(romeo, instant(room, field("muc#roomconfig_persistentroom", "1") + field("muc#roomconfig_membersonly", "1"))), /id='cfg'[^>]*type='result'|type='result'[^>]*id='cfg'/);
    await say(romeo, affiliate(room, "juliet@localhost", "admin"));
    const juliet = await client(ts, "juliet");
    assert.match(await say(juliet, affiliate(room, "tybalt@localhost", "outcast", "Thou art a villain")), /type='result'/, "an admin bans");
    romeo.destroy();
    juliet.destroy();
    await ts.stop();

    ts = await startTestServer({ dataDir });
    const j2 = await client(ts, "juliet");
    const joined = await say(j2, join(room, "Juliet"));
    assert.match(joined, /affiliation='admin'[^>]*role='moderator'|role='moderator'[^>]*affiliation='admin'/, "juliet is still an admin");
    assert.not.match(joined, /code='201'/, "the room was not created anew");
    const tybalt = await client(ts, "tybalt");
    assert.match(await say(tybalt, join(room, "Tybalt")), /type='error'[\s\S]*<forbidden/, "tybalt is still banned");
    const nurse = await client(ts, "nurse");
    assert.match(await say(nurse, join(room, "Nurse")), /<registration-required/, "members only");
    const list = await say(j2, `<iq type='get' id='bans' to='${room}'><query xmlns='${MUC}#admin'><item affiliation='outcast'/></query></iq>`);
    assert.match(list, /jid='tybalt@localhost'[\s\S]*Thou art a villain/);
    j2.destroy(); tybalt.destroy(); nurse.destroy();
    await ts.stop();

    const events = parley(["events", "--data", dataDir, "--room", room]);
    assert.is(events.status, 0, events.stderr);
    assert.match(events.stdout, /MucRoomCreated +room created, owned by romeo@localhost by the user's resource 'romeo@localhost\/r1'/);
    assert.match(events.stdout, /MucAffiliationChanged +juliet@localhost is now admin/);
    const why = parley(["replay", "--data", dataDir, "--room", room, "--explain", "tybalt@localhost"]);
    assert.is(why.status, 0, why.stderr);
    assert.match(why.stdout, /tybalt@localhost is now outcast, reason "Thou art a villain" by the user's resource 'juliet@localhost\/r1'/);
    assert.match(why.stdout, /now: banned \("Thou art a villain"\): joining is forbidden/);
    const nurseWhy = parley(["replay", "--data", dataDir, "--room", room, "--explain", "nurse@localhost"]);
    assert.match(nurseWhy.stdout, /not a member of a members-only room/);
    const before = parley(["replay", "--data", dataDir, "--room", room, "--until", "1"]);
    assert.is(before.status, 0, before.stderr);
    const rooms = parley(["muc", "list", "--data", dataDir]);
    assert.is(rooms.status, 0, rooms.stderr);
    assert.match(rooms.stdout, /garden@conference.localhost  persistent, public, created by romeo@localhost; juliet@localhost admin, tybalt@localhost outcast, romeo@localhost owner\n1 room\n/);
    const shown = parley(["muc", "show", "garden@conference.localhost", "--data", dataDir]);
    assert.match(shown.stdout, /tybalt@localhost: outcast/);
    const at = parley(["replay", "--data", dataDir, "--room", room]);
    assert.match(at.stdout, /persistent, public, members-only/);
    assert.match(at.stdout, /juliet@localhost: admin/);
    assert.match(at.stdout, /tybalt@localhost: outcast, reason "Thou art a villain"/);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("a deleted account's affiliations go: whoever registers the name next inherits no ban and no room", async () => {
  const ts = await startTestServer({ accounts: ACCOUNTS });
  try {
    const room = "keep@conference.localhost";
    const romeo = await client(ts, "romeo");
    await say(romeo, join(room, "Romeo"));
    await say(romeo, instant(room, field("muc#roomconfig_persistentroom", "1")));
    await say(romeo, affiliate(room, "tybalt@localhost", "outcast", "Villain"));
    await say(romeo, affiliate(room, "juliet@localhost", "admin"));
    const tybalt = await client(ts, "tybalt");
    tybalt.write("<iq type='set' id='bye'><query xmlns='jabber:iq:register'><remove/></query></iq>");
    await tybalt.waitClosed(5000).catch(() => undefined);
    const list = await say(romeo, `<iq type='get' id='bans' to='${room}'><query xmlns='${MUC}#admin'><item affiliation='outcast'/></query></iq>`);
    assert.not.match(list, /tybalt@localhost/, `the ban went with the account: ${list}`);
    const admins = await say(romeo, `<iq type='get' id='admins' to='${room}'><query xmlns='${MUC}#admin'><item affiliation='admin'/></query></iq>`);
    assert.match(admins, /juliet@localhost/, "the others' stay");
    const row = ts.server.store.db.prepare("SELECT count(*) AS n FROM muc_affiliations WHERE jid = 'tybalt@localhost'").get() as { n: number };
    assert.is(row.n, 0, "and the projection has none of them");
    romeo.destroy(); tybalt.destroy();
  } finally {
    await ts.stop();
  }
});

test("a temporary room ends with its last occupant: the next joiner creates and owns a new one", async () => {
  const ts = await startTestServer({ accounts: ACCOUNTS });
  try {
    const room = "tmp@conference.localhost";
    const romeo = await client(ts, "romeo");
    await say(romeo, join(room, "Romeo"));
    await say(romeo, instant(room));
    await say(romeo, affiliate(room, "tybalt@localhost", "outcast"));
    assert.match(await say(romeo, `<presence type='unavailable' to='${room}/Romeo'/>`), /type='unavailable'/);
    const tybalt = await client(ts, "tybalt");
    const created = await say(tybalt, join(room, "Tybalt"));
    assert.match(created, /code='201'/, "a new room");
    assert.match(created, /affiliation='owner'/, "owned by its new creator, the old ban gone with the old room");
    romeo.destroy(); tybalt.destroy();
  } finally {
    await ts.stop();
  }
});

test("[muc] limits: rooms per user, occupants per room, history kept", async () => {
  const ts = await startTestServer({ accounts: ACCOUNTS, configure: (c: ServerConfig) => {
    c.muc = { ...c.muc, roomsPerUser: 1, occupantsPerRoom: 2, historyMessages: 2 };
  } });
  try {
    const a = "a@conference.localhost";
    const romeo = await client(ts, "romeo");
    await say(romeo, join(a, "Romeo"));
    await say(romeo, instant(a));
    assert.match(await say(romeo, join("b@conference.localhost", "Romeo")), /<resource-constraint[\s\S]*at most 1 rooms/, "a second room is refused");
    const many = Array.from({ length: 11 }, (_, i) => `<invite to='guest${i}@localhost'/>`).join("");
    assert.match(await say(romeo, `<message to='${a}' id='inv'><x xmlns='${MUC}#user'>${many}</x></message>`), /id='inv'[\s\S]*<policy-violation[\s\S]*At most 10 invitations/, "invites_per_message");
    for (const n of [1, 2, 3]) await say(romeo, `<message type='groupchat' to='${a}' id='m${n}'><body>line ${n}</body></message>`);
    const juliet = await client(ts, "juliet");
    const history = await say(juliet, join(a, "Juliet"));
    assert.not.match(history, /line 1/, "history keeps history_messages");
    assert.match(history, /line 2<\/body>(<[^>]*\/>)*<delay xmlns='urn:xmpp:delay' stamp='[^']+' from='a@conference.localhost'/);
    assert.match(history, /line 3/);
    const nurse = await client(ts, "nurse");
    assert.match(await say(nurse, join(a, "Nurse")), /<service-unavailable[\s\S]*The room is full/);
    await say(juliet, `<presence type='unavailable' to='${a}/Juliet'/>`);
    const one = await say(nurse, join(a, "Nurse", "<history maxstanzas='1'/>"));
    assert.not.match(one, /line 2/, "maxstanzas='1' (§7.2.15)");
    assert.match(one, /line 3/);
    romeo.destroy(); juliet.destroy(); nurse.destroy();
  } finally {
    await ts.stop();
  }
});

test("the room's archive (XEP-0313 on the room's JID): stanza-ids by the room, queries, members-only access, gone with the room", async () => {
  const ts = await startTestServer({ accounts: ACCOUNTS });
  try {
    const room = "archive@conference.localhost";
    const romeo = await client(ts, "romeo");
    await say(romeo, join(room, "Romeo"));
    await say(romeo, instant(room, field("muc#roomconfig_membersonly", "1")));
    const sent = await say(romeo, `<message type='groupchat' to='${room}' id='a1'><body>first</body><stanza-id xmlns='urn:xmpp:sid:0' id='forged' by='${room}'/></message>`);
    const id = /<stanza-id xmlns='urn:xmpp:sid:0' id='([^']+)' by='archive@conference.localhost'\/>/.exec(sent)?.[1];
    assert.ok(id && id !== "forged", `the room stamps its own stanza-id: ${sent}`);
    assert.not.match(sent, /id='forged'/, "the forged one is removed");
    await say(romeo, `<message type='groupchat' to='${room}' id='a2'><body>second</body></message>`);
    await say(romeo, `<message type='groupchat' to='${room}' id='a3'><active xmlns='http://jabber.org/protocol/chatstates'/></message>`);
    const result = await say(romeo, `<iq type='set' id='q1' to='${room}'><query xmlns='urn:xmpp:mam:2' queryid='qq'/></iq>`);
    const results = [...result.matchAll(/<result xmlns='urn:xmpp:mam:2' queryid='qq' id='([^']+)'>/g)].map((m) => m[1]);
    assert.equal(results.length, 2, `two archived messages (chat states are not): ${result}`);
    assert.is(results[0], id, "the result id is the stanza-id given");
    assert.match(result, /<message[^>]*from='archive@conference.localhost\/Romeo'[\s\S]*first/);
    assert.match(result, /<fin xmlns='urn:xmpp:mam:2' complete='true'>/);
    const info = await say(romeo, `<iq type='get' id='i1' to='${room}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    assert.match(info, /<feature var='urn:xmpp:mam:2'\/>/);
    const nurse = await client(ts, "nurse");
    assert.match(await say(nurse, `<iq type='set' id='q2' to='${room}'><query xmlns='urn:xmpp:mam:2'/></iq>`), /id='q2'[\s\S]*<forbidden/, "not a member");
    // XEP-0425: a moderator retracts the first message; the archive keeps a tombstone; a non-moderator may not.
    const moderate = (iqId: string, target: string) => `<iq type='set' id='${iqId}' to='${room}'><moderate id='${target}' xmlns='urn:xmpp:message-moderate:1'><retract xmlns='urn:xmpp:message-retract:1'/><reason>Spam</reason></moderate></iq>`;
    assert.match(await say(nurse, moderate("m0", id as string)), /id='m0'[\s\S]*<forbidden/);
    const retracted = await say(romeo, moderate("m1", id as string));
    assert.match(retracted, new RegExp(`<retract xmlns='urn:xmpp:message-retract:1' id='${id}'><moderated xmlns='urn:xmpp:message-moderate:1' by='${room}/Romeo'>`), retracted);
    assert.match(retracted, /<iq[^>]*id='m1'[^>]*type='result'|<iq[^>]*type='result'[^>]*id='m1'/);
    const tomb = await say(romeo, `<iq type='set' id='q4' to='${room}'><query xmlns='urn:xmpp:mam:2'/></iq>`);
    assert.match(tomb, /<retracted xmlns='urn:xmpp:message-retract:1' stamp='[^']+'><moderated[^>]*by='archive@conference.localhost\/Romeo'/, tomb);
    assert.not.match(tomb, /<body>first/, `the retracted body is gone from the archive: ${tomb}`);
    assert.match(tomb, /second/);
    assert.match(await say(romeo, moderate("m2", "no-such-id")), /id='m2'[\s\S]*<item-not-found/);
    await say(romeo, `<iq type='set' id='d' to='${room}'><query xmlns='${MUC}#owner'><destroy/></query></iq>`);
    await say(romeo, join(room, "Romeo"));
    await say(romeo, instant(room));
    const after = await say(romeo, `<iq type='set' id='q3' to='${room}'><query xmlns='urn:xmpp:mam:2'/></iq>`);
    assert.not.match(after, /<result xmlns='urn:xmpp:mam:2'/, "a new room of the same name has none of the old one's messages");
    romeo.destroy(); nurse.destroy();
  } finally {
    await ts.stop();
  }
});

test("private messages between occupants come from the sender's occupant JID; strangers get not-acceptable", async () => {
  const ts = await startTestServer({ accounts: ACCOUNTS });
  try {
    const room = "pm@conference.localhost";
    const romeo = await client(ts, "romeo");
    await say(romeo, join(room, "Romeo"));
    await say(romeo, instant(room));
    const juliet = await client(ts, "juliet");
    const joined = await say(juliet, join(room, "Juliet"));
    // XEP-0421: each user's occupant-id, the same on presence and messages, and across nickname changes.
    const idOf = (text: string, nick: string) => new RegExp(`from='${room}/${nick}'[^>]*>(?:(?!</presence>|</message>)[\\s\\S])*<occupant-id xmlns='urn:xmpp:occupant-id:0' id='([^']+)'/>`).exec(text)?.[1];
    const romeoId = idOf(joined, "Romeo");
    const julietId = idOf(joined, "Juliet");
    assert.ok(romeoId && julietId && romeoId !== julietId, `occupant-ids in presence: ${joined}`);
    juliet.clear();
    romeo.write(`<message type='chat' to='${room}/Juliet' id='pm1'><body>psst</body><occupant-id xmlns='urn:xmpp:occupant-id:0' id='forged'/></message>`);
    await juliet.waitFor(/id='pm1'/);
    assert.is(idOf(juliet.text, "Romeo"), romeoId, "the same id on a private message; the sender's own is dropped");
    assert.not.match(juliet.text, /id='forged'/);
    const renamed = await say(romeo, `<presence to='${room}/Montague'/>`);
    assert.is(idOf(renamed, "Montague"), romeoId, "a new nickname keeps the id");
    assert.match(juliet.text, /<message[^>]*from='pm@conference.localhost\/Romeo'[^>]*>[\s\S]*psst[\s\S]*<x xmlns='http:\/\/jabber.org\/protocol\/muc#user'\/>/);
    await say(juliet, `<presence to='${room}/Juliet'/>`);
    const nurse = await client(ts, "nurse");
    assert.match(await say(nurse, `<message type='chat' to='${room}/Juliet' id='pm2'><body>hi</body></message>`), /id='pm2'[\s\S]*<not-acceptable/);
    assert.match(await say(nurse, `<message type='groupchat' to='${room}' id='gc'><body>hi</body></message>`), /id='gc'[\s\S]*<not-acceptable/);
    // XEP-0410: a joined session's self-ping is answered by the room; a stranger's is not-acceptable.
    assert.match(await say(juliet, `<iq type='get' id='sp' to='${room}/Juliet'><ping xmlns='urn:xmpp:ping'/></iq>`), /<iq[^>]*type='result'[^>]*id='sp'|<iq[^>]*id='sp'[^>]*type='result'/);
    assert.match(await say(nurse, `<iq type='get' id='sp2' to='${room}/Nurse'><ping xmlns='urn:xmpp:ping'/></iq>`), /id='sp2'[\s\S]*<not-acceptable/);
    // An IQ to another occupant goes to its session from the asker's occupant JID, and the answer comes back.
    juliet.clear();
    romeo.write(`<iq type='get' id='v1' to='${room}/Juliet'><query xmlns='jabber:iq:version'/></iq>`);
    const asked = await juliet.waitFor(/<iq[^>]*type='get'[^>]*>/);
    const fwd = /<iq[^>]*id='(muc-[^']+)'[^>]*>/.exec(asked)?.[1];
    assert.ok(fwd, `forwarded with an id of the room's: ${asked}`);
    assert.match(asked, new RegExp(`from='${room}/Montague'`), "from the asker's occupant JID");
    romeo.clear();
    juliet.write(`<iq type='result' id='${fwd}' to='${room}/Montague'><query xmlns='jabber:iq:version'><name>Balcony</name></query></iq>`);
    const answer = await romeo.waitFor(/id='v1'/);
    assert.match(answer, new RegExp(`<iq[^>]*from='${room}/Juliet'[^>]*>|<iq[^>]*id='v1'[^>]*from='${room}/Juliet'`), answer);
    assert.match(answer, /Balcony/);
    romeo.destroy(); juliet.destroy(); nurse.destroy();
  } finally {
    await ts.stop();
  }
});

test.run();
