// XEP-0313 message archives over real sockets: both archives keep one copy
// each, delivered messages carry the recipient archive's XEP-0359 stanza-id
// (forged ones stripped), offline messages are archived, queries page both
// ways with filters, preferences decide, retention sweeps, deletion empties,
// and the archive writes of a turn share its one transaction.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ScansionClient } from "../../src/scansion/client.js";
import { startTestServer, type TestServer } from "../helpers/test-server.js";
import type { XmlElement } from "../../src/xml/element.js";
import type { ServerConfig } from "../../src/config.js";

const MAM = "urn:xmpp:mam:2";
const SID = "urn:xmpp:sid:0";
const RSM = "http://jabber.org/protocol/rsm";
const ACCOUNTS = [
  { jid: "romeo@localhost", password: "r" },
  { jid: "juliet@localhost", password: "j" },
];
const TIMEOUT = 3000;

async function withServer(run: (ts: TestServer) => Promise<void>, configure?: (c: ServerConfig) => void): Promise<void> {
  const ts = await startTestServer({ accounts: ACCOUNTS, configure });
  try {
    await run(ts);
  } finally {
    await ts.stop();
  }
}

async function login(ts: TestServer, jid: string, password: string, resource: string, presence = true): Promise<ScansionClient> {
  const c = new ScansionClient(resource, jid, password, resource);
  await c.connect("127.0.0.1", ts.port, TIMEOUT);
  if (presence) {
    c.send("<presence/>");
    await settle(c);
    c.queue.length = 0;
  }
  return c;
}

/** Two ping round trips: everything sent before was handled, and its effects arrived. */
async function settle(...clients: ScansionClient[]): Promise<void> {
  for (let i = 0; i < 2; i++) await Promise.all(clients.map((c) => c.ping("localhost", TIMEOUT)));
}

/** The next message (presence from the user's other resources and the like passes by). */
async function nextMessage(c: ScansionClient): Promise<XmlElement> {
  for (;;) {
    const s = await c.nextStanza(TIMEOUT);
    if (s.name === "message") return s;
  }
}

let iqCounter = 0;
/** Sends an IQ and collects what arrives until its reply: the MAM results, then the result itself. */
async function iq(c: ScansionClient, type: "get" | "set", payload: string): Promise<{ before: XmlElement[]; reply: XmlElement }> {
  const id = `iq${++iqCounter}`;
  c.send(`<iq type='${type}' id='${id}'>${payload}</iq>`);
  const before: XmlElement[] = [];
  for (;;) {
    const s = await c.nextStanza(TIMEOUT);
    if (s.name === "iq" && s.attrs.id === id) return { before, reply: s };
    before.push(s);
  }
}

interface Result { id: string; queryId: string | undefined; stamp: string; message: XmlElement }

function results(stanzas: XmlElement[]): Result[] {
  return stanzas.map((s) => {
    const r = s.getChild("result", MAM);
    const fwd = r?.getChild("forwarded", "urn:xmpp:forward:0");
    const message = fwd?.getChild("message", "jabber:client");
    const stamp = fwd?.getChild("delay", "urn:xmpp:delay")?.attrs.stamp;
    if (!r || !message || stamp === undefined || r.attrs.id === undefined) throw new Error(`not a MAM result: ${JSON.stringify(s)}`);
    return { id: r.attrs.id, queryId: r.attrs.queryid, stamp, message };
  });
}

const bodyOf = (m: XmlElement) => m.getChildText("body") ?? "";
const bodies = (rs: Result[]) => rs.map((r) => bodyOf(r.message)).join(",");

async function query(c: ScansionClient, inner = "", queryId = "q"): Promise<{ results: Result[]; fin: XmlElement; reply: XmlElement }> {
  const { before, reply } = await iq(c, "set", `<query xmlns='${MAM}' queryid='${queryId}'>${inner}</query>`);
  const fin = reply.getChild("fin", MAM);
  if (reply.attrs.type !== "result" || !fin) throw new Error(`query failed: ${JSON.stringify(reply)}`);
  return { results: results(before), fin, reply };
}

const rsm = (fin: XmlElement, name: string) => fin.getChild("set", RSM)?.getChildText(name, RSM);
const form = (fields: Record<string, string | string[]>) =>
  `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>${MAM}</value></field>${
    Object.entries(fields).map(([k, v]) => `<field var='${k}'>${(Array.isArray(v) ? v : [v]).map((x) => `<value>${x}</value>`).join("")}</field>`).join("")}</x>`;

test("a message is archived once in each archive, and delivered with the recipient archive's stanza-id (a forged one removed)", () => withServer(async (ts) => {
  const romeo = await login(ts, "romeo@localhost", "r", "orchard");
  const phone = await login(ts, "juliet@localhost", "j", "phone");
  const laptop = await login(ts, "juliet@localhost", "j", "laptop");
  romeo.send(`<message to='juliet@localhost' type='chat' id='m1'><body>Hello</body><origin-id xmlns='${SID}' id='o-1'/>` +
    `<stanza-id xmlns='${SID}' id='forged' by='juliet@localhost'/><stanza-id xmlns='${SID}' id='theirs' by='elsewhere.example'/></message>`);
  await settle(romeo, phone, laptop);
  const got = [await nextMessage(phone), await nextMessage(laptop)];
  const sids = got.map((m) => m.getChildren("stanza-id", SID).map((s) => `${s.attrs.id}@${s.attrs.by}`));
  for (const list of sids) {
    assert.equal(list.length, 2, `forged stanza-id by juliet removed, the other kept: ${list}`);
    assert.ok(list.includes("theirs@elsewhere.example"));
    assert.not.ok(list.includes("forged@juliet@localhost"));
  }
  assert.equal(sids[0], sids[1], "both resources got the same archive id");
  const id = (got[0]?.getChildren("stanza-id", SID).find((s) => s.attrs.by === "juliet@localhost")?.attrs.id) as string;
  assert.equal(got[0]?.getChild("origin-id", SID)?.attrs.id, "o-1", "origin-id kept");

  const julietArchive = await query(phone);
  assert.equal(julietArchive.results.length, 1, "one copy for juliet however many resources it reached");
  assert.equal(julietArchive.results[0]?.id, id, "the delivered stanza-id is the archive id");
  assert.equal(julietArchive.results[0]?.queryId, "q");
  assert.equal(julietArchive.results[0]?.message.attrs.from, "romeo@localhost/orchard");
  assert.equal(julietArchive.results[0]?.message.getChild("origin-id", SID)?.attrs.id, "o-1");
  assert.equal(laptop.queue.filter((s) => s.getChild("result", MAM)).length, 0, "results go to the querying resource only");

  const romeoArchive = await query(romeo);
  assert.equal(bodies(romeoArchive.results), "Hello");
  assert.equal(romeoArchive.results[0]?.message.attrs.to, "juliet@localhost");
  assert.not.equal(romeoArchive.results[0]?.id, id, "each archive has its own ids");
  assert.equal(romeoArchive.results[0]?.message.getChildren("stanza-id", SID).filter((s) => s.attrs.by === "romeo@localhost").length, 0);
  assert.equal(ts.server.store.db.prepare("SELECT count(*) AS n FROM mam_archive").get(), { n: 2 });
  for (const c of [romeo, phone, laptop]) c.destroy();
}));

test("what is not archived: chat states alone, no-store, errors, headlines; a message to oneself once", () => withServer(async (ts) => {
  const romeo = await login(ts, "romeo@localhost", "r", "orchard");
  const juliet = await login(ts, "juliet@localhost", "j", "phone");
  romeo.send("<message to='juliet@localhost' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>");
  romeo.send("<message to='juliet@localhost' type='chat'><body>off the record</body><no-store xmlns='urn:xmpp:hints'/></message>");
  romeo.send("<message to='juliet@localhost' type='headline'><body>news</body></message>");
  romeo.send("<message to='juliet@localhost' type='chat'><received xmlns='urn:xmpp:receipts' id='x'/></message>");
  romeo.send("<message to='romeo@localhost' type='chat'><body>note to self</body></message>");
  await settle(romeo, juliet);
  const delivered = juliet.queue.splice(0).filter((s) => s.name === "message");
  romeo.queue.length = 0;
  assert.equal(delivered.length, 4);
  assert.equal(delivered.filter((m) => m.getChild("stanza-id", SID)).length, 1, "only the receipt was archived, so only it has a stanza-id");
  const theirs = await query(juliet);
  assert.equal(theirs.results.map((r) => r.message.getChild("received", "urn:xmpp:receipts") ? "receipt" : bodyOf(r.message)), ["receipt"]);
  const mine = await query(romeo);
  assert.equal(mine.results.map((r) => bodyOf(r.message) || "receipt"), ["receipt", "note to self"], "the note to self once, not twice");
  for (const c of [romeo, juliet]) c.destroy();
}));

test("a message for an offline user is archived and stored offline with its stanza-id", () => withServer(async (ts) => {
  const romeo = await login(ts, "romeo@localhost", "r", "orchard");
  romeo.send("<message to='juliet@localhost' type='chat'><body>while you slept</body></message>");
  await settle(romeo);
  const juliet = await login(ts, "juliet@localhost", "j", "phone", false);
  juliet.send("<presence/>");
  const offline = await nextMessage(juliet);
  assert.equal(bodyOf(offline), "while you slept");
  const sid = offline.getChild("stanza-id", SID);
  assert.equal(sid?.attrs.by, "juliet@localhost");
  await settle(juliet);
  juliet.queue.length = 0;
  const archive = await query(juliet);
  assert.equal(archive.results.map((r) => r.id), [sid?.attrs.id as string]);
  for (const c of [romeo, juliet]) c.destroy();
}));

test("paging: forwards with after, backwards from the last page with before, flip-page, count and complete", () => withServer(async (ts) => {
  const romeo = await login(ts, "romeo@localhost", "r", "orchard");
  const juliet = await login(ts, "juliet@localhost", "j", "phone");
  for (let i = 1; i <= 5; i++) romeo.send(`<message to='juliet@localhost' type='chat'><body>${i}</body></message>`);
  await settle(romeo, juliet);
  juliet.queue.length = 0;
  const set = (inner: string) => `<set xmlns='${RSM}'>${inner}</set>`;

  const p1 = await query(juliet, set("<max>2</max>"));
  assert.equal(bodies(p1.results), "1,2");
  assert.equal([p1.fin.attrs.complete, rsm(p1.fin, "count"), rsm(p1.fin, "first"), rsm(p1.fin, "last")],
    [undefined, "5", p1.results[0]?.id, p1.results[1]?.id]);
  const p2 = await query(juliet, set(`<max>2</max><after>${rsm(p1.fin, "last")}</after>`));
  assert.equal(bodies(p2.results), "3,4");
  const p3 = await query(juliet, set(`<max>2</max><after>${rsm(p2.fin, "last")}</after>`));
  assert.equal([bodies(p3.results), p3.fin.attrs.complete], ["5", "true"]);

  const last = await query(juliet, set("<max>2</max><before/>"));
  assert.equal(bodies(last.results), "4,5", "the last page, oldest first");
  const earlier = await query(juliet, set(`<max>2</max><before>${rsm(last.fin, "first")}</before>`));
  assert.equal(bodies(earlier.results), "2,3");
  const first = await query(juliet, set(`<max>2</max><before>${rsm(earlier.fin, "first")}</before>`));
  assert.equal([bodies(first.results), first.fin.attrs.complete], ["1", "true"]);

  const flipped = await query(juliet, `${set("<max>2</max><before/>")}<flip-page/>`);
  assert.equal(bodies(flipped.results), "5,4", "flip-page: newest first");
  assert.equal(rsm(flipped.fin, "first"), rsm(last.fin, "first"), "first and last stay in archive order");

  const unknown = await iq(juliet, "set", `<query xmlns='${MAM}'>${set("<after>no-such-id</after>")}</query>`);
  assert.equal(unknown.reply.attrs.type, "error");
  assert.ok(unknown.reply.getChild("error")?.getChild("item-not-found", "urn:ietf:params:xml:ns:xmpp-stanzas"));
  for (const c of [romeo, juliet]) c.destroy();
}));

test("filters over the wire: with, start/end, before-id/after-id, ids, full text; the form lists them", () => withServer(async (ts) => {
  const romeo = await login(ts, "romeo@localhost", "r", "orchard");
  const juliet = await login(ts, "juliet@localhost", "j", "phone");
  romeo.send("<message to='juliet@localhost' type='chat'><body>wherefore art thou</body></message>");
  juliet.send("<message to='romeo@localhost' type='chat'><body>here I am</body></message>");
  juliet.send("<message to='nurse@localhost' type='chat'><body>anon, good nurse</body></message>");
  await settle(romeo, juliet);
  juliet.queue.length = 0;
  const all = await query(juliet);
  assert.equal(bodies(all.results), "wherefore art thou,here I am,anon, good nurse");
  const ids = all.results.map((r) => r.id);
  assert.equal(bodies((await query(juliet, form({ with: "Romeo@LOCALHOST" }))).results), "wherefore art thou,here I am");
  assert.equal(bodies((await query(juliet, form({ with: "romeo@localhost/orchard" }))).results), "wherefore art thou");
  assert.equal(bodies((await query(juliet, form({ "after-id": ids[0] as string }))).results), "here I am,anon, good nurse");
  assert.equal(bodies((await query(juliet, form({ "before-id": ids[2] as string, "after-id": ids[0] as string }))).results), "here I am");
  assert.equal(bodies((await query(juliet, form({ ids: [ids[2] as string, ids[0] as string] }))).results), "wherefore art thou,anon, good nurse");
  assert.equal(bodies((await query(juliet, form({ "{urn:xmpp:fulltext:0}fulltext": "NURSE anon" }))).results), "anon, good nurse");
  const stamp = all.results[0]?.stamp as string;
  assert.equal((await query(juliet, form({ start: stamp, end: stamp }))).results.length, 3, "inclusive bounds, whole seconds");
  assert.equal((await query(juliet, form({ start: "2999-01-01T00:00:00Z" }))).results.length, 0);
  const badDate = await iq(juliet, "set", `<query xmlns='${MAM}'>${form({ start: "tomorrow" })}</query>`);
  assert.ok(badDate.reply.getChild("error")?.getChild("bad-request", "urn:ietf:params:xml:ns:xmpp-stanzas"));

  const { reply } = await iq(juliet, "get", `<query xmlns='${MAM}'/>`);
  // mam.fulltext is on in this test (it is off by default).
  const vars = reply.getChild("query", MAM)?.getChild("x", "jabber:x:data")?.getChildren("field").map((f) => f.attrs.var);
  assert.equal(vars, ["FORM_TYPE", "with", "start", "end", "before-id", "after-id", "ids", "{urn:xmpp:fulltext:0}fulltext"]);

  const meta = (await iq(juliet, "get", `<metadata xmlns='${MAM}'/>`)).reply.getChild("metadata", MAM);
  assert.equal([meta?.getChild("start", MAM)?.attrs.id, meta?.getChild("end", MAM)?.attrs.id], [ids[0], ids[2]]);
  assert.equal(meta?.getChild("start", MAM)?.attrs.timestamp, stamp);
  for (const c of [romeo, juliet]) c.destroy();
}, (c) => { c.mam.fulltext = true; }));

test("by default no full-text index: the form leaves the field out and a search is bad-request", () => withServer(async (ts) => {
  const juliet = await login(ts, "juliet@localhost", "j", "phone");
  juliet.send("<message to='romeo@localhost' type='chat'><body>wherefore</body></message>");
  await settle(juliet);
  const { reply } = await iq(juliet, "get", `<query xmlns='${MAM}'/>`);
  const vars = reply.getChild("query", MAM)?.getChild("x", "jabber:x:data")?.getChildren("field").map((f) => f.attrs.var) ?? [];
  assert.not.ok(vars.includes("{urn:xmpp:fulltext:0}fulltext"));
  const search = await iq(juliet, "set", `<query xmlns='${MAM}'>${form({ "{urn:xmpp:fulltext:0}fulltext": "wherefore" })}</query>`);
  assert.ok(search.reply.getChild("error")?.getChild("bad-request", "urn:ietf:params:xml:ns:xmpp-stanzas"));
  assert.equal(ts.server.store.db.prepare("SELECT count(*) AS n FROM mam_fulltext WHERE mam_fulltext MATCH 'wherefore'").get(), { n: 0 });
  juliet.destroy();
}));

test("preferences: default never, always for one JID; a roster default; prefs survive a new session", () => withServer(async (ts) => {
  const romeo = await login(ts, "romeo@localhost", "r", "orchard");
  let juliet = await login(ts, "juliet@localhost", "j", "phone");
  const before = (await iq(juliet, "get", `<prefs xmlns='${MAM}'/>`)).reply.getChild("prefs", MAM);
  assert.equal(before?.attrs.default, "always", "the configured default");
  const set = await iq(juliet, "set", `<prefs xmlns='${MAM}' default='never'><always><jid>ROMEO@localhost</jid></always><never/></prefs>`);
  assert.equal(set.reply.getChild("prefs", MAM)?.getChild("always", MAM)?.getChildText("jid", MAM), "romeo@localhost");
  juliet.send("<message to='nurse@localhost' type='chat'><body>not kept</body></message>");
  juliet.send("<message to='romeo@localhost' type='chat'><body>kept</body></message>");
  await settle(juliet, romeo);
  juliet.destroy();
  juliet = await login(ts, "juliet@localhost", "j", "laptop");
  assert.equal(bodies((await query(juliet)).results), "kept");
  await iq(juliet, "set", `<prefs xmlns='${MAM}' default='roster'><always/><never/></prefs>`);
  romeo.send("<message to='juliet@localhost' type='chat'><body>not in her roster</body></message>");
  await settle(romeo, juliet);
  juliet.queue.length = 0;
  assert.equal(bodies((await query(juliet)).results), "kept");
  const bad = await iq(juliet, "set", `<prefs xmlns='${MAM}' default='sometimes'/>`);
  assert.equal(bad.reply.attrs.type, "error");
  for (const c of [romeo, juliet]) c.destroy();
}));

test("disco: the account and the host advertise mam:2, its extended features and stanza-ids", () => withServer(async (ts) => {
  const juliet = await login(ts, "juliet@localhost", "j", "phone");
  for (const to of ["", " to='localhost'"]) {
    juliet.send(`<iq type='get' id='d${to.length}'${to}><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    const reply = await juliet.nextStanza(TIMEOUT);
    const features = reply.getChild("query", "http://jabber.org/protocol/disco#info")?.getChildren("feature").map((f) => f.attrs.var) ?? [];
    for (const f of [MAM, "urn:xmpp:mam:2#extended", SID]) assert.ok(features.includes(f), `${f} in ${to || "the account"}'s features`);
  }
  juliet.destroy();
}));

test("retention: the sweep removes messages older than the configured days, and only those", () => withServer(async (ts) => {
  const romeo = await login(ts, "romeo@localhost", "r", "orchard");
  for (const b of ["old", "new"]) romeo.send(`<message to='juliet@localhost' type='chat'><body>${b}</body></message>`);
  await settle(romeo);
  // Age the first message in both archives by two days, as if sent then.
  ts.server.store.db.prepare("UPDATE mam_archive SET stamp = stamp - 2 * 86400000 WHERE stanza LIKE '%>old<%'").run();
  await new Promise((r) => setTimeout(r, 1300)); // one sweep interval
  assert.equal(bodies((await query(romeo)).results), "new");
  assert.equal(ts.server.store.db.prepare("SELECT count(*) AS n FROM mam_archive").get(), { n: 2 });
  romeo.destroy();
}, (c) => { c.mam.retentionDays = 1; c.mam.sweepIntervalSeconds = 1; }));

test("deleting an account removes its archive, not its correspondents' copies", () => withServer(async (ts) => {
  const romeo = await login(ts, "romeo@localhost", "r", "orchard");
  const juliet = await login(ts, "juliet@localhost", "j", "phone");
  romeo.send("<message to='juliet@localhost' type='chat'><body>farewell</body></message>");
  await settle(romeo, juliet);
  juliet.send("<iq type='set' id='bye'><query xmlns='jabber:iq:register'><remove/></query></iq>");
  await juliet.close(TIMEOUT).catch(() => undefined);
  await settle(romeo);
  const count = (owner: string) => (ts.server.store.db.prepare("SELECT count(*) AS n FROM mam_archive WHERE owner = ?").get(owner) as { n: number }).n;
  for (let i = 0; i < 50 && count("juliet@localhost") > 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(count("juliet@localhost"), 0);
  assert.equal(bodies((await query(romeo)).results), "farewell");
  romeo.destroy();
}));

test("group commit: a burst of archived messages commits in a few transactions, not one per message", () => withServer(async (ts) => {
  const romeo = await login(ts, "romeo@localhost", "r", "orchard");
  const juliet = await login(ts, "juliet@localhost", "j", "phone");
  const db = ts.server.store.db;
  const exec = db.exec.bind(db);
  let commits = 0;
  db.exec = (sql: string) => {
    if (sql === "COMMIT") commits++;
    return exec(sql);
  };
  try {
    const burst = Array.from({ length: 100 }, (_, i) => `<message to='juliet@localhost' type='chat'><body>${i}</body></message>`).join("");
    romeo.send(burst);
    await settle(romeo, juliet);
  } finally {
    db.exec = exec;
  }
  assert.equal(db.prepare("SELECT count(*) AS n FROM mam_archive").get(), { n: 200 }, "100 in romeo's archive, 100 in juliet's");
  assert.ok(commits >= 1 && commits <= 20, `${commits} commits for 200 archive writes (the pings' turns add none)`);
  for (const c of [romeo, juliet]) c.destroy();
}));

test.run();
