// XEP-0115 §5 verification strings, checked against the specification's own
// examples (§5.2 simple, §5.3 with an extended form) and a hash Prosody's
// scansion scripts announce; XEP-0048 ⇄ XEP-0402 bookmark conversion.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parseFragment } from "../../src/xml/fragment.js";
import { CapsCache, capsHash, notifyNodes } from "../../src/modules/pubsub/caps.js";
import { toLegacyBookmark, toPepBookmark } from "../../src/modules/private/index.js";
import { serialize } from "../../src/xml/serialize.js";

const parse = (xml: string) => {
  const e = parseFragment(xml);
  if (!e) throw new Error(`not XML: ${xml}`);
  return e;
};

test("§5.2: the simple example hashes to QgayPKawpkPSDYmwT/WM94uAlu0=; clix's caps to what pep_nickname.scs announces", () => {
  assert.is(capsHash(parse(`<query xmlns='http://jabber.org/protocol/disco#info'><identity category='client' name='Exodus 0.9.1' type='pc'/>
    <feature var='http://jabber.org/protocol/caps'/><feature var='http://jabber.org/protocol/disco#info'/>
    <feature var='http://jabber.org/protocol/disco#items'/><feature var='http://jabber.org/protocol/muc'/></query>`)), "QgayPKawpkPSDYmwT/WM94uAlu0=");
  assert.is(capsHash(parse(`<query xmlns="http://jabber.org/protocol/disco#info"><identity type="console" name="clix" category="client"/>
    <feature var="http://jabber.org/protocol/disco#items"/><feature var="http://jabber.org/protocol/disco#info"/>
    <feature var="http://jabber.org/protocol/caps"/><feature var="http://jabber.org/protocol/nick+notify"/></query>`)), "jC32N+FhQoLrZ7nNQtZK3aqR0Fk=");
});

test("§5.3: identities with languages and an extended form hash to q07IKJEyjvHSyhy//CH0CxmKi8w=", () => {
  assert.is(capsHash(parse(`<query xmlns='http://jabber.org/protocol/disco#info'>
    <identity xml:lang='en' category='client' name='Psi 0.11' type='pc'/>
    <identity xml:lang='el' category='client' name='Ψ 0.11' type='pc'/>
    <feature var='http://jabber.org/protocol/caps'/><feature var='http://jabber.org/protocol/disco#info'/>
    <feature var='http://jabber.org/protocol/disco#items'/><feature var='http://jabber.org/protocol/muc'/>
    <x xmlns='jabber:x:data' type='result'>
      <field var='FORM_TYPE' type='hidden'><value>urn:xmpp:dataforms:softwareinfo</value></field>
      <field var='ip_version'><value>ipv4</value><value>ipv6</value></field>
      <field var='os'><value>Mac</value></field>
      <field var='os_version'><value>10.5.1</value></field>
      <field var='software'><value>Psi</value></field>
      <field var='software_version'><value>0.11</value></field>
    </x></query>`)), "q07IKJEyjvHSyhy//CH0CxmKi8w=");
});

test("+notify features name the nodes; the cache forgets the least recently used past its size", () => {
  assert.equal([...notifyNodes(new Set(["http://jabber.org/protocol/tune+notify", "urn:xmpp:bookmarks:1+notify", "jabber:iq:version"]))],
    ["http://jabber.org/protocol/tune", "urn:xmpp:bookmarks:1"]);
  const cache = new CapsCache(2);
  cache.set("a", new Set(["1"]));
  cache.set("b", new Set(["2"]));
  cache.get("a");
  cache.set("c", new Set(["3"]));
  assert.ok(cache.get("a") && cache.get("c"));
  assert.is(cache.get("b"), undefined);
});

test("XEP-0048 ⇄ XEP-0402: a legacy conference becomes an item keyed by its JID and back", () => {
  const legacy = parse(`<conference xmlns='storage:bookmarks' jid='orchard@conference.example' name='The Orchard' autojoin='1'><nick>JC</nick><password>rose</password></conference>`);
  const item = toPepBookmark(legacy);
  assert.is(item?.id, "orchard@conference.example");
  assert.is(item && serialize(item.payload), "<conference xmlns='urn:xmpp:bookmarks:1' name='The Orchard' autojoin='true'><nick>JC</nick><password>rose</password></conference>");
  const back = item && toLegacyBookmark(item.id, item.payload);
  assert.is(back && serialize(back), "<conference xmlns='storage:bookmarks' jid='orchard@conference.example' name='The Orchard' autojoin='true'><nick>JC</nick><password>rose</password></conference>");
  assert.is(toPepBookmark(parse(`<conference xmlns='storage:bookmarks' name='nowhere'/>`)), undefined);
});

test.run();
