// XEP-0363 HTTP File Upload end to end: a slot asked for over a real XMPP
// connection, the file PUT and fetched again over real HTTP on the server's
// own listener (node's fetch and http), with the limits a user would hit.
import { test } from "uvu";
import * as assert from "uvu/assert";
import http from "node:http";
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { startTestServer, type TestServer } from "../helpers/test-server.js";
import { Peer } from "../helpers/xmpp-peer.js";
import type { ServerConfig } from "../../src/config.js";
import type { XmlElement } from "../../src/xml/element.js";

const NS = "urn:xmpp:http:upload:0";
const ROMEO = { jid: "romeo@localhost", password: "wherefore art thou" };
const JULIET = { jid: "juliet@localhost", password: "a rose by any name" };
let n = 0;

async function withServer(configure: ((c: ServerConfig) => void) | undefined, body: (ts: TestServer, romeo: Peer) => Promise<void>): Promise<void> {
  const ts = await startTestServer({ accounts: [ROMEO, JULIET], configure });
  const romeo = await Peer.login(ts.port, "romeo", ROMEO.password, "phone");
  try {
    await body(ts, romeo);
  } finally {
    romeo.close();
    await ts.stop();
  }
}

interface Slot { put: string; get: string; authorization: string }

async function requestSlot(peer: Peer, filename: string, size: number, type?: string): Promise<XmlElement> {
  const id = `slot-${++n}`;
  const ct = type === undefined ? "" : ` content-type='${type}'`;
  return peer.iq(`<iq type='get' to='upload.localhost' id='${id}'><request xmlns='${NS}' filename='${filename}' size='${size}'${ct}/></iq>`, id);
}

function slotOf(reply: XmlElement): Slot {
  assert.is(reply.attrs.type, "result", `slot refused: ${JSON.stringify(reply)}`);
  const slot = reply.getChild("slot", NS) as XmlElement;
  const put = slot.getChild("put", NS) as XmlElement;
  return {
    put: put.attrs.url as string,
    get: (slot.getChild("get", NS) as XmlElement).attrs.url as string,
    authorization: (put.getChild("header", NS) as XmlElement).text(),
  };
}

function errorOf(reply: XmlElement): { type: string; condition: string; text: string; error: XmlElement } {
  const error = reply.getChild("error") as XmlElement;
  const condition = error.getChildren().find((c) => c.ns === "urn:ietf:params:xml:ns:xmpp-stanzas" && c.name !== "text");
  return { type: error.attrs.type as string, condition: condition?.name ?? "", text: error.getChildText("text") ?? "", error };
}

const put = (slot: Slot, body: Buffer | string, type: string, headers: Record<string, string> = {}) =>
  fetch(slot.put, { method: "PUT", body: typeof body === "string" ? body : new Uint8Array(body), headers: { authorization: slot.authorization, "content-type": type, ...headers } });

test("a slot from upload.localhost: PUT the file, GET it back with its type, disposition, caching and CORS", async () => {
  await withServer(undefined, async (ts, romeo) => {
    const items = await romeo.iq("<iq type='get' to='localhost' id='items'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>", "items");
    assert.ok(items.getChild("query")?.getChildren("item").some((i) => i.attrs.jid === "upload.localhost"), "the server lists its upload service");
    const info = await romeo.iq("<iq type='get' to='upload.localhost' id='info'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>", "info");
    const query = info.getChild("query") as XmlElement;
    assert.ok(query.getChildren("feature").some((f) => f.attrs.var === NS));
    const maxField = query.getChild("x", "jabber:x:data")?.getChildren("field").find((f) => f.attrs.var === "max-file-size");
    assert.is(maxField?.getChildText("value"), String(100 * 1024 * 1024), "§3: max-file-size announced");

    const text = "Two households, both alike in dignity\n";
    const slot = slotOf(await requestSlot(romeo, "prologue.txt", Buffer.byteLength(text), "text/plain"));
    assert.ok(slot.put.startsWith(`http://127.0.0.1:${ts.server.httpPort}/upload/`), slot.put);
    assert.match(slot.authorization, /^Bearer \S+$/);
    assert.is((await fetch(slot.get)).status, 404, "nothing to fetch before the upload");

    const created = await put(slot, text, "text/plain");
    assert.is(created.status, 201);
    assert.is(created.headers.get("access-control-allow-origin"), "*");
    assert.is((await put(slot, text, "text/plain")).status, 409, "a slot is used once");

    const got = await fetch(slot.get);
    assert.is(got.status, 200);
    assert.is(await got.text(), text);
    assert.is(got.headers.get("content-type"), "text/plain");
    assert.match(got.headers.get("content-disposition") ?? "", /^attachment; filename\*=UTF-8''prologue\.txt$/);
    assert.match(got.headers.get("cache-control") ?? "", /max-age=\d+/);
    assert.is(got.headers.get("access-control-allow-origin"), "*");
    assert.is(got.headers.get("x-content-type-options"), "nosniff");
    const etag = got.headers.get("etag") as string;
    assert.is((await fetch(slot.get, { headers: { "if-none-match": etag } })).status, 304);
    const head = await fetch(slot.get, { method: "HEAD" });
    assert.is(head.headers.get("content-length"), String(Buffer.byteLength(text)));

    // A browser's preflight before a cross-origin PUT (§7).
    const preflight = await fetch(slot.put, { method: "OPTIONS", headers: { origin: "https://web.example", "access-control-request-method": "PUT" } });
    assert.is(preflight.status, 204);
    assert.match(preflight.headers.get("access-control-allow-methods") ?? "", /PUT/);
    assert.match(preflight.headers.get("access-control-allow-headers") ?? "", /Authorization/);

    // An image is shown inline.
    const png = Buffer.from("89504e470d0a1a0a0000000d49484452", "hex");
    const image = slotOf(await requestSlot(romeo, "balcony.png", png.length, "image/png"));
    assert.is((await put(image, png, "image/png")).status, 201);
    const shown = await fetch(image.get);
    assert.equal(Buffer.from(await shown.arrayBuffer()), png);
    assert.match(shown.headers.get("content-disposition") ?? "", /^inline/);
    assert.ok(existsSync(path.join(ts.dataDir, "uploads")), "files are under the data directory");
  });
});

test("the PUT must carry the slot's token, exact size and content type", async () => {
  await withServer(undefined, async (_ts, romeo) => {
    const slot = slotOf(await requestSlot(romeo, "letter.txt", 10, "text/plain"));
    assert.is((await fetch(slot.put, { method: "PUT", body: "0123456789", headers: { "content-type": "text/plain" } })).status, 403, "no token");
    assert.is((await put(slot, "0123456789", "text/plain", { authorization: "Bearer forged" })).status, 403, "a wrong token");
    assert.is((await put(slot, "0123456789ABC", "text/plain")).status, 413, "larger than the slot");
    assert.is((await put(slot, "01234", "text/plain")).status, 400, "smaller than the slot");
    assert.is((await put(slot, "0123456789", "image/png")).status, 400, "another content type");
    assert.is((await fetch(slot.get)).status, 404, "none of those stored anything");
    assert.is((await put(slot, "0123456789", "text/plain")).status, 201);
  });
});

test("slot errors: too large names the limit, bad names and sizes, types not allowed, quotas", async () => {
  await withServer((c) => {
    c.upload = { ...c.upload, maxFileBytes: 1000, quotaBytesPerUser: 1500, slotsPerUserPerHour: 3, allowedTypes: ["text/plain", "image/*"] };
  }, async (_ts, romeo) => {
    const big = errorOf(await requestSlot(romeo, "big.txt", 1001, "text/plain"));
    assert.is(big.condition, "not-acceptable");
    assert.is(big.error.getChild("file-too-large", NS)?.getChildText("max-file-size"), "1000");
    assert.is(errorOf(await requestSlot(romeo, "a/b.txt", 10, "text/plain")).text, "Invalid filename");
    assert.is(errorOf(await requestSlot(romeo, "zero.txt", 0, "text/plain")).text, "File size must be positive integer");
    assert.is(errorOf(await requestSlot(romeo, "x.exe", 10, "application/x-executable")).text, "File type not allowed");
    slotOf(await requestSlot(romeo, "photo.jpeg", 900, "image/jpeg"));
    const quota = errorOf(await requestSlot(romeo, "second.txt", 900, "text/plain"));
    assert.is(quota.condition, "resource-constraint", "900 + 900 bytes is past the 1500-byte quota");
    assert.is(quota.type, "wait");
    slotOf(await requestSlot(romeo, "small.txt", 100, "text/plain"));
    // Slots per hour (the refused requests above count none): this is the third, the last…
    slotOf(await requestSlot(romeo, "small2.txt", 100, "text/plain"));
    const rate = errorOf(await requestSlot(romeo, "small3.txt", 100, "text/plain"));
    assert.is(rate.condition, "resource-constraint");
    assert.ok(rate.error.getChild("retry", NS)?.attrs.stamp, "says when to retry");
  });
});

test("each served domain has its own upload service, for its own users only", async () => {
  const ts = await startTestServer({
    accounts: [ROMEO, { jid: "eve@other.example", password: "an apple a day" }],
    configure: (c) => { c.domains = ["localhost", "other.example"]; },
  });
  const romeo = await Peer.login(ts.port, "romeo", ROMEO.password, "phone");
  try {
    assert.is(ts.server.kernel.router.kindOf("upload.other.example"), "component");
    const id = "foreign";
    const reply = await romeo.iq(`<iq type='get' to='upload.other.example' id='${id}'><request xmlns='${NS}' filename='a.txt' size='1'/></iq>`, id);
    assert.is(errorOf(reply).condition, "forbidden", "romeo@localhost may not store files for other.example");
    const wrongType = await romeo.iq(`<iq type='set' to='upload.localhost' id='set1'><request xmlns='${NS}' filename='a.txt' size='1'/></iq>`, "set1");
    assert.is(errorOf(wrongType).condition, "service-unavailable", "a slot is asked for with type get (§4)");
  } finally {
    romeo.close();
    await ts.stop();
  }
});

/** A PUT whose body comes in pieces, `gapMs` apart; resolves with the status, or "closed". */
function slowPut(slot: Slot, pieces: Buffer[], gapMs: number, type: string): Promise<number | "closed"> {
  return new Promise((resolve) => {
    const url = new URL(slot.put);
    const total = pieces.reduce((s, p) => s + p.length, 0);
    const req = http.request({ host: url.hostname, port: url.port, path: url.pathname, method: "PUT",
      headers: { authorization: slot.authorization, "content-type": type, "content-length": total } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", () => resolve("closed"));
    let i = 0;
    const next = () => {
      const piece = pieces[i++];
      if (piece === undefined) return;
      req.write(piece);
      setTimeout(next, gapMs);
    };
    next();
  });
}

test("a slow upload outlasts the handshake timeout; one that stalls is cut off", async () => {
  await withServer((c) => { c.limits.handshakeTimeoutSeconds = 1; }, async (_ts, romeo) => {
    const pieces = Array.from({ length: 6 }, (_, i) => Buffer.alloc(1000, 65 + i));
    const slot = slotOf(await requestSlot(romeo, "slow.bin", 6000, "application/octet-stream"));
    // 6 pieces 400 ms apart: 2 s in all, twice the timeout, never idle for one.
    assert.is(await slowPut(slot, pieces, 400, "application/octet-stream"), 201);
    const got = Buffer.from(await (await fetch(slot.get)).arrayBuffer());
    assert.equal(got, Buffer.concat(pieces));
    const stalled = slotOf(await requestSlot(romeo, "stalled.bin", 6000, "application/octet-stream"));
    // The first piece, then silence for longer than the idle timeout.
    assert.is(await slowPut(stalled, pieces, 2500, "application/octet-stream"), "closed");
    assert.is((await fetch(stalled.get)).status, 404);
  });
});

test("deleting the account removes its files; expired files and unused slots are swept", async () => {
  await withServer((c) => { c.upload = { ...c.upload, slotSeconds: 1, expireDays: 30 }; }, async (ts, romeo) => {
    const juliet = await Peer.login(ts.port, "juliet", JULIET.password, "balcony");
    try {
      const hers = slotOf(await requestSlot(juliet, "rose.txt", 4, "text/plain"));
      assert.is((await put(hers, "rose", "text/plain")).status, 201);
      const uploads = path.join(ts.dataDir, "uploads");
      assert.is(readdirSync(uploads).length, 1);
      // XEP-0077 §3.2: juliet cancels her registration.
      await juliet.iq("<iq type='set' id='bye'><query xmlns='jabber:iq:register'><remove/></query></iq>", "bye").catch(() => undefined);
      for (let i = 0; i < 50 && readdirSync(uploads).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
      assert.is(readdirSync(uploads).length, 0, "her file is gone from the disk");
      assert.is((await fetch(hers.get)).status, 404);
    } finally {
      juliet.close();
    }
    const mine = slotOf(await requestSlot(romeo, "old.txt", 3, "text/plain"));
    assert.is((await put(mine, "old", "text/plain")).status, 201);
    const late = slotOf(await requestSlot(romeo, "late.txt", 4, "text/plain"));
    await new Promise((r) => setTimeout(r, 1100));
    assert.is((await put(late, "late", "text/plain")).status, 410, "a slot is for slot_seconds");
    // A month and a day later (the kernel's clock), the sweep (every slot_seconds here) removes the file.
    const realNow = ts.server.kernel.now.bind(ts.server.kernel);
    ts.server.kernel.now = () => new Date(realNow().getTime() + 31 * 86_400_000);
    for (let i = 0; i < 40 && (await fetch(mine.get)).status === 200; i++) await new Promise((r) => setTimeout(r, 100));
    assert.is((await fetch(mine.get)).status, 404, "expired after expire_days");
    assert.is(readdirSync(path.join(ts.dataDir, "uploads")).length, 0);
    const left = ts.server.store.db.prepare("SELECT count(*) AS n FROM upload_slots").get() as { n: number };
    assert.is(left.n, 0, "the unused slot is forgotten too");
  });
});

test.run();
