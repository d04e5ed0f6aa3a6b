// The archive store and query parsing on a real SQLite database (the
// migrations, FTS5 included): filters, XEP-0059 paging both ways, counts,
// unknown ids, time bounds, retention, deletion; the plans use indexes.
import { test } from "uvu";
import * as assert from "uvu/assert";
import Database from "better-sqlite3";
import { migrate } from "../../src/events/migrations.js";
import { parseJid } from "../../src/jid/jid.js";
import { parseFragment } from "../../src/xml/fragment.js";
import { ArchiveStore, UnknownArchiveId, fulltextQuery, type ArchivePage } from "../../src/modules/mam/archive-store.js";
import { ArchiveIds } from "../../src/modules/mam/archive-ids.js";
import { parseQuery, finElement, stampString } from "../../src/modules/mam/query.js";
import { serialize } from "../../src/xml/serialize.js";
import { StanzaError } from "../../src/xmpp/errors.js";
import type { XmlElement } from "../../src/xml/element.js";

const OWNER = "juliet@capulet.lit";
const T0 = Date.parse("2026-01-01T00:00:00Z");

function fresh(): { db: Database.Database; store: ArchiveStore; joins: () => number } {
  const db = new Database(":memory:");
  migrate(db);
  let joins = 0;
  return { db, store: new ArchiveStore(db, () => { joins++; }, new ArchiveIds(Buffer.alloc(16, 7))), joins: () => joins };
}

/** Ten messages, one a minute: even ones with romeo, odd ones with the nurse. */
function tenMessages(store: ArchiveStore, owner = OWNER): string[] {
  const ids: string[] = [];
  for (let i = 0; i < 10; i++) {
    const other = parseJid(i % 2 === 0 ? "romeo@montague.lit/orchard" : "nurse@capulet.lit/kitchen");
    ids.push(store.append({
      owner, other, direction: i % 3 === 0 ? "out" : "in",
      stanza: `<message type='chat'><body>message ${i} ${i === 7 ? "wherefore art thou" : "hello"}</body></message>`,
      originId: `origin-${i}`, body: `message ${i} ${i === 7 ? "wherefore art thou" : "hello"}`,
    }, T0 + i * 60_000).id);
  }
  return ids;
}

const bodies = (page: ArchivePage) => page.items.map((m) => /message (\d)/.exec(m.stanza)?.[1]).join(",");
const q = (xml: string): XmlElement => {
  const e = parseFragment(xml);
  if (!e) throw new Error(`does not parse: ${xml}`);
  return e;
};
const LIMITS = { defaultPageSize: 4, maxPageSize: 6, fulltext: true };

test("paging forwards: pages of max, complete on the last, count of the whole set, first index", () => {
  const { store } = fresh();
  const ids = tenMessages(store);
  const p1 = store.query(OWNER, {}, { max: 4 });
  assert.equal(bodies(p1), "0,1,2,3");
  assert.equal([p1.complete, p1.count, p1.firstIndex], [false, 10, 0]);
  const p2 = store.query(OWNER, {}, { max: 4, after: p1.items[3]?.id });
  assert.equal(bodies(p2), "4,5,6,7");
  const p3 = store.query(OWNER, {}, { max: 4, after: p2.items[3]?.id });
  assert.equal(bodies(p3), "8,9");
  assert.ok(p3.complete);
  assert.equal(p3.items[1]?.id, ids[9]);
});

test("paging backwards: the last page first, then before the first of each page; complete at the start", () => {
  const { store } = fresh();
  tenMessages(store);
  const last = store.query(OWNER, {}, { max: 4, before: "" });
  assert.equal(bodies(last), "6,7,8,9", "in archive order although taken backwards");
  assert.equal([last.complete, last.firstIndex], [false, 6]);
  const before = store.query(OWNER, {}, { max: 4, before: last.items[0]?.id });
  assert.equal(bodies(before), "2,3,4,5");
  const first = store.query(OWNER, {}, { max: 4, before: before.items[0]?.id });
  assert.equal(bodies(first), "0,1");
  assert.ok(first.complete);
});

test("index pages by position; max 0 only counts", () => {
  const { store } = fresh();
  tenMessages(store);
  const page = store.query(OWNER, {}, { max: 3, index: 5 });
  assert.equal([bodies(page), page.firstIndex, page.complete], ["5,6,7", 5, false]);
  const countOnly = store.query(OWNER, {}, { max: 0 });
  assert.equal([countOnly.items.length, countOnly.count, countOnly.complete], [0, 10, false]);
});

test("filters: with (bare and full), start and end inclusive, before-id/after-id, ids, full text", () => {
  const { store } = fresh();
  const ids = tenMessages(store);
  assert.equal(bodies(store.query(OWNER, { with: parseJid("romeo@montague.lit") }, { max: 10 })), "0,2,4,6,8");
  assert.equal(bodies(store.query(OWNER, { with: parseJid("nurse@capulet.lit/kitchen") }, { max: 10 })), "1,3,5,7,9");
  assert.equal(store.query(OWNER, { with: parseJid("nurse@capulet.lit/garden") }, { max: 10 }).count, 0);
  assert.equal(bodies(store.query(OWNER, { start: T0 + 2 * 60_000, end: T0 + 4 * 60_000 }, { max: 10 })), "2,3,4");
  assert.equal(bodies(store.query(OWNER, { start: T0 + 2 * 60_000 + 1 }, { max: 10 })), "3,4,5,6,7,8,9");
  assert.equal(store.query(OWNER, { start: T0 + 3600_000 }, { max: 10 }), { items: [], complete: true, count: 0, firstIndex: undefined });
  assert.equal(bodies(store.query(OWNER, { afterId: ids[6], with: parseJid("romeo@montague.lit") }, { max: 10 })), "8");
  assert.equal(bodies(store.query(OWNER, { beforeId: ids[3], afterId: ids[0] }, { max: 10 })), "1,2");
  assert.equal(bodies(store.query(OWNER, { ids: [ids[5] as string, ids[1] as string, "not-there"] }, { max: 10 })), "1,5");
  assert.equal(bodies(store.query(OWNER, { fulltext: "WHEREFORE thou" }, { max: 10 })), "7");
  assert.equal(bodies(store.query(OWNER, { fulltext: "hello", with: parseJid("romeo@montague.lit") }, { max: 2 })), "0,2");
  assert.equal(store.query(OWNER, { fulltext: "wherefore romeo" }, { max: 10 }).count, 0, "every word must occur");
  assert.equal(store.query(OWNER, { fulltext: "\"OR\" NEAR(x" }, { max: 10 }).count, 0, "operators are words, not syntax");
});

test("unknown ids are errors naming the field; other archives' ids are unknown", () => {
  const { store } = fresh();
  tenMessages(store);
  const theirs = tenMessages(store, "romeo@montague.lit");
  assert.throws(() => store.query(OWNER, {}, { max: 4, after: "nope" }), (e: unknown) => e instanceof UnknownArchiveId && /RSM after/.test(e.message));
  assert.throws(() => store.query(OWNER, { beforeId: theirs[0] }, { max: 4 }), (e: unknown) => e instanceof UnknownArchiveId && /before-id/.test(e.message));
});

test("each archive sees only its own messages; deletion removes an owner's archive and its search index", () => {
  const { db, store } = fresh();
  tenMessages(store);
  tenMessages(store, "romeo@montague.lit");
  assert.equal(store.query(OWNER, {}, { max: 100 }).count, 10);
  assert.equal(store.deleteOwner(OWNER), 10);
  assert.equal(store.query(OWNER, {}, { max: 100 }).count, 0);
  assert.equal(store.edges(OWNER), undefined);
  assert.equal(store.query("romeo@montague.lit", {}, { max: 100 }).count, 10);
  const indexed = db.prepare("SELECT count(*) AS n FROM mam_fulltext WHERE mam_fulltext MATCH 'hello'").get() as { n: number };
  assert.equal(indexed.n, 9, "only romeo's nine hellos remain indexed");
});

test("stamps are whole seconds and never go back, so time bounds stay exact when the clock steps back", () => {
  const { store } = fresh();
  const a = store.append({ owner: OWNER, other: parseJid("romeo@montague.lit"), direction: "in", stanza: "<message/>", originId: undefined, body: undefined }, T0 + 5_750);
  const b = store.append({ owner: OWNER, other: parseJid("romeo@montague.lit"), direction: "in", stanza: "<message/>", originId: undefined, body: undefined }, T0 + 1_000);
  assert.equal([a.stamp, b.stamp], [T0 + 5_000, T0 + 5_000]);
  assert.equal(stampString(a.stamp), "2026-01-01T00:00:05Z");
  assert.equal(store.query(OWNER, { end: T0 + 5_000 }, { max: 10 }).count, 2);
});

test("the retention sweep removes what is older than the cut-off, in batches", () => {
  const { store } = fresh();
  tenMessages(store);
  assert.equal(store.sweep(T0 + 5 * 60_000, 3), 3);
  assert.equal(store.sweep(T0 + 5 * 60_000, 3), 2);
  assert.equal(store.sweep(T0 + 5 * 60_000, 3), 0);
  assert.equal(bodies(store.query(OWNER, {}, { max: 10 })), "5,6,7,8,9");
});

test("archiving joins the turn's transaction first (the group commit); deletions, off the stanza path, do not", () => {
  const { store, joins } = fresh();
  tenMessages(store);
  assert.equal(joins(), 10);
  store.sweep(T0, 10);
  store.deleteOwner(OWNER);
  assert.equal(joins(), 10);
});

test("queries are index range scans, not table scans", () => {
  const { db } = fresh();
  const plans = [
    "SELECT seq FROM mam_archive WHERE owner = ? AND seq > ? ORDER BY seq LIMIT 5",
    "SELECT seq FROM mam_archive WHERE owner = ? AND with_jid = ? AND seq < ? ORDER BY seq DESC LIMIT 5",
    "SELECT seq FROM mam_archive WHERE stamp >= ? ORDER BY stamp, seq LIMIT 1",
    "SELECT seq FROM mam_archive WHERE stamp <= ? ORDER BY stamp DESC, seq DESC LIMIT 1",
    "SELECT seq FROM mam_archive WHERE owner = ? AND seq = ?",
    "SELECT seq FROM mam_archive WHERE stamp < ? ORDER BY stamp LIMIT 10",
  ];
  for (const sql of plans) {
    const detail = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...sql.split("?").slice(1).map(() => "x")) as { detail: string }[]).map((r) => r.detail).join("; ");
    assert.ok(/USING (COVERING INDEX|INDEX|INTEGER PRIMARY KEY)/.test(detail) && !/SCAN mam_archive/.test(detail) && !/TEMP B-TREE/.test(detail), `${sql}: ${detail}`);
  }
});

test("query parsing: form fields, RSM, flip-page; bad values are bad-request naming them", () => {
  const parsed = parseQuery(q(`<query xmlns='urn:xmpp:mam:2' queryid='f27'>
      <x xmlns='jabber:x:data' type='submit'>
        <field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field>
        <field var='with'><value>Romeo@Montague.lit</value></field>
        <field var='start'><value>2026-01-01T00:00:00Z</value></field>
        <field var='end'><value>2026-01-01T01:00:00+01:00</value></field>
        <field var='ids'><value>a</value><value>b</value></field>
        <field var='{urn:xmpp:fulltext:0}fulltext'><value>hello</value></field>
      </x>
      <set xmlns='http://jabber.org/protocol/rsm'><max>100</max><before/></set>
      <flip-page/>
    </query>`), LIMITS);
  assert.equal(parsed.queryId, "f27");
  assert.equal(parsed.filter.with?.toString(), "romeo@montague.lit");
  assert.equal([parsed.filter.start, parsed.filter.end], [T0, T0]);
  assert.equal(parsed.filter.ids, ["a", "b"]);
  assert.equal(parsed.filter.fulltext, "hello");
  assert.equal(parsed.page, { max: 6, after: undefined, before: "", index: undefined }, "max capped at the page size limit");
  assert.ok(parsed.flip);
  assert.equal(parseQuery(q("<query xmlns='urn:xmpp:mam:2'/>"), LIMITS).page, { max: 4 });
  const badRequest = (xml: string, text: RegExp) => assert.throws(() => parseQuery(q(xml), LIMITS),
    (e: unknown) => e instanceof StanzaError && e.spec.condition === "bad-request" && text.test(e.spec.text ?? ""), xml);
  badRequest("<query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data'><field var='start'><value>yesterday</value></field></x></query>", /start: 'yesterday'/);
  badRequest("<query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data'><field var='colour'><value>red</value></field></x></query>", /'colour' is not supported/);
  badRequest("<query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data'><field var='FORM_TYPE'><value>urn:other</value></field></x></query>", /FORM_TYPE/);
  badRequest("<query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data'><field var='with'><value>a@@b</value></field></x></query>", /not a JID/);
  badRequest("<query xmlns='urn:xmpp:mam:2'><set xmlns='http://jabber.org/protocol/rsm'><max>-1</max></set></query>", /max/);
  badRequest("<query xmlns='urn:xmpp:mam:2'><set xmlns='http://jabber.org/protocol/rsm'><after>a</after><before>b</before></set></query>", /combined/);
  assert.throws(() => parseQuery(q("<query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data'><field var='{urn:xmpp:fulltext:0}fulltext'><value>a</value></field></x></query>"),
    { ...LIMITS, fulltext: false }), (e: unknown) => e instanceof StanzaError && /not supported/.test(e.spec.text ?? ""), "no full-text field when it is switched off");
  badRequest("<query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data'><field var='ids'><value>1</value><value>2</value><value>3</value><value>4</value><value>5</value><value>6</value><value>7</value></field></x></query>", /at most 6/);
});

test("<fin/>: complete only when complete, first/last in archive order, count always", () => {
  const { store } = fresh();
  const ids = tenMessages(store);
  const page = store.query(OWNER, {}, { max: 2, before: "" });
  assert.equal(serialize(finElement(page)),
    `<fin xmlns='urn:xmpp:mam:2'><set xmlns='http://jabber.org/protocol/rsm'><first index='8'>${ids[8]}</first><last>${ids[9]}</last><count>10</count></set></fin>`);
  const empty = store.query("nobody@capulet.lit", {}, { max: 2 });
  assert.equal(serialize(finElement(empty)), "<fin xmlns='urn:xmpp:mam:2' complete='true'><set xmlns='http://jabber.org/protocol/rsm'><count>0</count></set></fin>");
});

test("archive ids: the seq encrypted, decoded back; mistyped, forged or other keys' ids are not ours", () => {
  const ids = new ArchiveIds(Buffer.alloc(16, 1));
  const other = new ArchiveIds(Buffer.alloc(16, 2));
  const seen = new Set<string>();
  for (const seq of [1, 2, 3, 1000, 2 ** 40, Number.MAX_SAFE_INTEGER]) {
    const id = ids.encode(seq);
    assert.match(id, /^[A-Za-z0-9_-]{22}$/);
    assert.equal(ids.decode(id), seq);
    assert.equal(other.decode(id), undefined, "another server's key");
    seen.add(id);
  }
  assert.equal(seen.size, 6);
  assert.not.equal(ids.encode(2).slice(0, 10), ids.encode(3).slice(0, 10), "neighbouring seqs share nothing visible");
  for (const bad of ["", "abc", "A".repeat(22), `${ids.encode(5).slice(0, 21)}!`, ids.encode(5) + "A"]) assert.equal(ids.decode(bad), undefined, bad);
  assert.throws(() => new ArchiveIds(Buffer.alloc(8)), /16 octets, got 8/);
});

test("full-text words are quoted for FTS5", () => {
  assert.equal(fulltextQuery("  a  b\"c "), "\"a\" \"b\"\"c\"");
  assert.equal(fulltextQuery("   "), undefined);
});

test.run();
