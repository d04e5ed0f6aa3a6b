// Which domains a peer's certificate names (RFC 6120 §13.7.1.2, RFC 6125,
// XEP-0178): real certificates made by openssl with xmppAddr, SRV-ID and
// DNS-ID entries, and the DER reader behind them (src/s2s/san.ts).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import { certificateNames, dnsIdMatches } from "../../src/s2s/certificate.js";
import { certificateProblems } from "../../src/net/certificates.js";
import { subjectAltNames, DerError } from "../../src/s2s/san.js";
import { testCa, xmppAddr, srvId, dnsId, type TestCa } from "../helpers/test-ca.js";

let ca: TestCa;
test.before(() => {
  ca = testCa();
});
test.after(() => ca.remove());

test("an xmppAddr-only certificate names its domain (RFC 6120 §13.7.1.4), not another, and its CN is not consulted", () => {
  const { der } = ca.issue("xmpp-only", "cn.test", [xmppAddr("a.test")]);
  assert.equal(subjectAltNames(der), { dns: [], xmppAddr: ["a.test"], srv: [], other: false });
  assert.ok(certificateNames(der, "a.test"));
  assert.ok(certificateNames(der, "A.Test"), "domains compare case-insensitively");
  assert.not.ok(certificateNames(der, "b.test"));
  assert.not.ok(certificateNames(der, "cn.test"), "RFC 6125 §6.4.4: no CN fallback when the certificate has a subjectAltName");
});

test("the start-up check counts an xmppAddr or SRV-ID as covering the domain, and still names a domain the certificate leaves out", () => {
  const xmpp = readFileSync(ca.issue("xmpp-covers", "cn.test", [xmppAddr("a.test"), srvId("_xmpp-server.b.test")]).cert, "utf8");
  assert.equal(certificateProblems(xmpp, ["a.test", "b.test"]), []);
  assert.equal(certificateProblems(xmpp, ["a.test", "c.test"]), ["does not cover the domain c.test"]);
});

test("a wrong xmppAddr names nothing else; a user JID as xmppAddr does not name its domain", () => {
  const { der } = ca.issue("wrong-xmpp", "a.test", [xmppAddr("other.test"), xmppAddr("admin@a.test")]);
  assert.not.ok(certificateNames(der, "a.test"));
  assert.ok(certificateNames(der, "other.test"));
  // A value holding what looks like another entry is one value (Node's printed form would need unquoting).
  const tricky = ca.issue("tricky", "x", [xmppAddr("a.test, DNS:b.test")]).der;
  assert.equal(subjectAltNames(tricky).xmppAddr, ["a.test, DNS:b.test"]);
  assert.not.ok(certificateNames(tricky, "b.test"));
  assert.not.ok(certificateNames(tricky, "a.test"));
});

test("an SRV-ID _xmpp-server.<domain> names the domain (RFC 6125 §6.5.1); another service's does not", () => {
  const { der } = ca.issue("srv-only", "x", [srvId("_xmpp-server.a.test"), srvId("_xmpp-client.b.test")]);
  assert.equal(subjectAltNames(der).srv, ["_xmpp-server.a.test", "_xmpp-client.b.test"]);
  assert.ok(certificateNames(der, "a.test"));
  assert.not.ok(certificateNames(der, "b.test"), "a client SRV-ID does not identify a server");
  assert.not.ok(certificateNames(der, "x.a.test"));
});

test("a wildcard DNS-ID stands for one whole leftmost label (RFC 6125 §6.4.3)", () => {
  const { der } = ca.issue("wildcard", "x", [dnsId("*.example.org")]);
  assert.ok(certificateNames(der, "a.example.org"));
  assert.not.ok(certificateNames(der, "example.org"));
  assert.not.ok(certificateNames(der, "a.b.example.org"));
  assert.not.ok(certificateNames(der, "a.example.net"));
  // Written as strings, the rules around the edges.
  assert.not.ok(dnsIdMatches("*.org", "example.org"), "a wildcard over a single label");
  assert.not.ok(dnsIdMatches("a*.example.org", "ab.example.org"), "a partial-label wildcard");
  assert.not.ok(dnsIdMatches("*.*.example.org", "a.b.example.org"));
  assert.ok(dnsIdMatches("A.Example.Org.", "a.example.org"), "case and the trailing dot do not matter");
});

test("an internationalised xmppAddr is read as UTF-8 and matches the domain's A-labels", () => {
  const { der } = ca.issue("idn", "x", [xmppAddr("bücher.test")]);
  assert.equal(subjectAltNames(der).xmppAddr, ["bücher.test"]);
  assert.ok(certificateNames(der, "xn--bcher-kva.test"));
  assert.ok(certificateNames(der, "bücher.test"));
  assert.not.ok(certificateNames(der, "bucher.test"));
});

test("a certificate with DNS, xmppAddr and SRV entries together: each names its domain", () => {
  const { der } = ca.issue("mixed", "x", [dnsId("d.test"), xmppAddr("x.test"), srvId("_xmpp-server.s.test"), "URI:xmpp:u.test"]);
  const names = subjectAltNames(der);
  assert.equal([names.dns, names.xmppAddr, names.srv, names.other], [["d.test"], ["x.test"], ["_xmpp-server.s.test"], true]);
  for (const d of ["d.test", "x.test", "s.test"]) assert.ok(certificateNames(der, d), d);
  assert.not.ok(certificateNames(der, "u.test"), "a URI-ID is not one of the identities XMPP uses");
});

test("without a subjectAltName, the subject's CN is the name (RFC 6125 §6.4.4)", () => {
  const { der } = ca.issue("cn-only", "a.test", []);
  assert.equal(subjectAltNames(der), { dns: [], xmppAddr: [], srv: [], other: false });
  assert.ok(certificateNames(der, "a.test"));
  assert.not.ok(certificateNames(der, "b.test"));
});

test("malformed DER is a DerError naming the problem, and a certificate that does not parse names nothing", () => {
  const { der } = ca.issue("truncated", "x", [xmppAddr("a.test")]);
  const cut = der.subarray(0, der.length - 40);
  assert.throws(() => subjectAltNames(cut), (e: unknown) => e instanceof DerError && /runs past its container/.test(e.message));
  assert.throws(() => subjectAltNames(Buffer.from([0x02, 0x01, 0x00])), (e: unknown) => e instanceof DerError && /Certificate: expected tag 0x30/.test(e.message));
  assert.throws(() => subjectAltNames(Buffer.from([0x30])), (e: unknown) => e instanceof DerError && /truncated/.test(e.message));
  assert.not.ok(certificateNames(cut, "a.test"));
  assert.not.ok(certificateNames(Buffer.alloc(0), "a.test"));
  assert.not.ok(certificateNames(der, ""), "an empty domain");
});

test.run();
