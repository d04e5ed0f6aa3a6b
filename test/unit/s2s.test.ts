// The pure parts of federation: dialback keys (XEP-0185), resolution order
// (RFC 6120 §3.2, XEP-0368) and the namespace change at the s2s edge.
import { test } from "uvu";
import { createHash, createHmac } from "node:crypto";
import * as assert from "uvu/assert";
import { dialbackKey, dialbackKeyValid } from "../../src/s2s/dialback.js";
import { resolveS2s, type SrvLookup } from "../../src/s2s/resolve.js";
import { renamespace } from "../../src/s2s/stream.js";
import { PING_ID_PREFIX, isKeepalive, pingAnswer, pingRequest } from "../../src/s2s/ping.js";
import { parseStanzas } from "../helpers/xmpp-peer.js";
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

const stanza = (xml: string) => parseStanzas(xml)[0] as NonNullable<ReturnType<typeof parseStanzas>[0]>;

test("XEP-0199 §4.3: a server ping and its answers between bare domains are keepalives; anything else between servers or users is use", () => {
  const ping = pingRequest("a.test", "b.test", `${PING_ID_PREFIX}1`);
  assert.is(serialize(ping), `<iq xmlns='jabber:client' type='get' from='a.test' to='b.test' id='${PING_ID_PREFIX}1'><ping xmlns='urn:xmpp:ping'/></iq>`);
  assert.ok(isKeepalive(ping));
  assert.ok(isKeepalive(stanza("<iq type='result' from='b.test' to='a.test' id='x'/>")));
  assert.ok(isKeepalive(stanza("<iq type='error' from='b.test' to='a.test' id='x'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>")));
  assert.not.ok(isKeepalive(stanza("<iq type='get' from='alice@a.test/r' to='b.test' id='x'><ping xmlns='urn:xmpp:ping'/></iq>")), "a user's ping is use");
  assert.not.ok(isKeepalive(stanza("<iq type='result' from='b.test' to='a.test' id='x'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")));
  assert.not.ok(isKeepalive(stanza("<iq type='get' from='b.test' to='a.test' id='x'><query xmlns='jabber:iq:version'/></iq>")));
  assert.not.ok(isKeepalive(stanza("<message from='b.test' to='a.test'><body>hi</body></message>")));
});

test("an answer to one of our pings: result or error, our id prefix, to a bare local domain", () => {
  assert.equal(pingAnswer(stanza(`<iq type='result' from='b.test' to='a.test' id='${PING_ID_PREFIX}7'/>`)), { local: "a.test", remote: "b.test", id: `${PING_ID_PREFIX}7` });
  assert.equal(pingAnswer(stanza(`<iq type='error' from='B.Test' to='a.test' id='${PING_ID_PREFIX}7'/>`))?.remote, "b.test");
  assert.is(pingAnswer(stanza("<iq type='result' from='b.test' to='a.test' id='other'/>")), undefined, "not our prefix: routed as usual");
  assert.is(pingAnswer(stanza(`<iq type='result' from='b.test' to='alice@a.test/r' id='${PING_ID_PREFIX}7'/>`)), undefined, "to a user: not ours");
  assert.is(pingAnswer(stanza(`<iq type='get' from='b.test' to='a.test' id='${PING_ID_PREFIX}7'><ping xmlns='urn:xmpp:ping'/></iq>`)), undefined);
});

test.run();
