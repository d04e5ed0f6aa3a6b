// The pure parts of federation: dialback keys (XEP-0185), resolution order
// (RFC 6120 §3.2, XEP-0368) and the namespace change at the s2s edge.
import { test } from "uvu";
import { createHash, createHmac } from "node:crypto";
import * as assert from "uvu/assert";
import { dialbackKey, dialbackKeyValid } from "../../src/s2s/dialback.js";
import { resolveS2s, type SrvLookup } from "../../src/s2s/resolve.js";
import { renamespace } from "../../src/s2s/stream.js";
import { el } from "../../src/xml/element.js";
import { serialize } from "../../src/xml/serialize.js";

const secret = Buffer.from("s3cr3t");

test("a dialback key is HMAC-SHA256(SHA256(secret)) over 'receiving originating id', in hex (XEP-0185 §3)", () => {
  // Written out as XEP-0185 §2 gives it: the secret hashed, in hex, keys the HMAC; the output in hex.
  const hashed = createHash("sha256").update("s3cr3tf0rd14lb4ck").digest("hex");
  const expected = createHmac("sha256", hashed).update("example.net example.com D60000229F").digest("hex");
  assert.is(dialbackKey(Buffer.from("s3cr3tf0rd14lb4ck"), "example.net", "example.com", "D60000229F"), expected);
  assert.match(expected, /^[0-9a-f]{64}$/);
  const key = dialbackKey(secret, "b.test", "a.test", "id1");
  assert.ok(dialbackKeyValid(secret, "b.test", "a.test", "id1", key));
  assert.not.ok(dialbackKeyValid(secret, "b.test", "a.test", "id2", key), "another stream");
  assert.not.ok(dialbackKeyValid(secret, "c.test", "a.test", "id1", key), "another receiving server");
  assert.not.ok(dialbackKeyValid(Buffer.from("other"), "b.test", "a.test", "id1", key), "another server's secret");
  assert.not.ok(dialbackKeyValid(secret, "b.test", "a.test", "id1", "short"));
});

const srv = (records: Record<string, { name: string; port: number; priority: number; weight: number }[]>): SrvLookup =>
  async (name) => {
    const r = records[name];
    if (!r) throw Object.assign(new Error("ENOTFOUND"), { code: "ENOTFOUND" });
    return r;
  };

test("resolution: the static route first, then _xmpps-server (Direct TLS) and _xmpp-server by priority, then the domain at 5269", async () => {
  const lookup = srv({
    "_xmpps-server._tcp.example.org": [{ name: "tls.example.org", port: 5270, priority: 10, weight: 0 }],
    "_xmpp-server._tcp.example.org": [
      { name: "b.example.org", port: 5269, priority: 20, weight: 0 },
      { name: "a.example.org", port: 5269, priority: 10, weight: 0 },
    ],
  });
  assert.equal(await resolveS2s("example.org", { "example.org": "127.0.0.2:5269" }, lookup), [{ host: "127.0.0.2", port: 5269, directTls: false }]);
  assert.equal(await resolveS2s("example.org", {}, lookup), [
    { host: "tls.example.org", port: 5270, directTls: true },
    { host: "a.example.org", port: 5269, directTls: false },
    { host: "b.example.org", port: 5269, directTls: false },
  ]);
  assert.equal(await resolveS2s("plain.example", {}, lookup), [{ host: "plain.example", port: 5269, directTls: false }]);
  // RFC 2782: a lone "." target says the service is not offered at all.
  assert.equal(await resolveS2s("none.example", {}, srv({ "_xmpp-server._tcp.none.example": [{ name: ".", port: 0, priority: 0, weight: 0 }] })), []);
});

test("stanzas change namespace at the s2s edge, their jabber:client children too, other namespaces untouched", () => {
  const m = el("message", "jabber:client", { to: "b@b.test" }, el("body", "jabber:client", {}, "hi"), el("x", "urn:example", {}, el("y", "urn:example")));
  const out = renamespace(m, "jabber:client", "jabber:server");
  assert.is(serialize(out, "jabber:server"), "<message to='b@b.test'><body>hi</body><x xmlns='urn:example'><y/></x></message>");
  assert.is(renamespace(el("a", "urn:x"), "jabber:client", "jabber:server").ns, "urn:x");
});

test.run();
