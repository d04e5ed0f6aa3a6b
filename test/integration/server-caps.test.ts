// XEP-0115 §6.3: the server's own capabilities in its stream features. The
// advertised ver is the hash of exactly what the domain answers to disco#info
// (§5.1), so a client that trusts the hash never needs to ask; a server whose
// disco#info differs (here: XEP-0157 contact addresses) advertises another.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { startTestServer } from "../helpers/test-server.js";
import { RawClient, HEADER } from "../helpers/raw-client.js";
import { parseFragment } from "../../src/xml/fragment.js";
import { capsHash } from "../../src/xmpp/caps.js";
import type { ServerConfig } from "../../src/config.js";

async function verAndInfo(configure?: (c: ServerConfig) => void): Promise<{ ver: string; info: string }> {
  const ts = await startTestServer({ accounts: [{ jid: "romeo@localhost", password: "romeo-pass" }], configure });
  try {
    const c = await RawClient.connect(ts.port);
    c.write(HEADER());
    const features = await c.waitFor(/<\/stream:features>/);
    const caps = /<c xmlns=['"]http:\/\/jabber.org\/protocol\/caps['"][^>]*\/>/.exec(features)?.[0] ?? "";
    assert.match(caps, /hash=['"]sha-1['"]/, features);
    assert.match(caps, /node=['"]urn:parley['"]/);
    await c.login("romeo", "romeo-pass", "caps", { streamOpen: true });
    c.write("<iq type='get' id='info' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
    const reply = await c.waitFor(/<iq[^>]*id=['"]info['"][\s\S]*<\/iq>/);
    c.destroy();
    return { ver: /ver=['"]([^'"]+)['"]/.exec(caps)?.[1] ?? "", info: /<query[\s\S]*<\/query>/.exec(reply)?.[0] ?? "" };
  } finally {
    await ts.stop();
  }
}

test("the caps in the stream features hash the domain's disco#info, and change with it", async () => {
  const plain = await verAndInfo();
  const query = parseFragment(plain.info);
  assert.ok(query, plain.info);
  assert.is(plain.ver, capsHash(query!), "the advertised ver is the hash of the disco#info answer");
  const withContacts = await verAndInfo((c) => { c.contactAddresses = { admin: ["xmpp:admin@localhost"] }; });
  assert.is(withContacts.ver, capsHash(parseFragment(withContacts.info)!));
  assert.is.not(withContacts.ver, plain.ver, "another disco#info (an XEP-0128 form more), another ver");
});

test.run();
