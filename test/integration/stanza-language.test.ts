// RFC 6120 §8.1.5: a client's stanza without xml:lang gets the stream's
// default language (§4.7.4) before it is routed: the client's header's
// xml:lang, or the server's ('en', what its own header declares); a stanza
// that names its language keeps it.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { RawClient } from "../helpers/raw-client.js";
import { startTestServer } from "../helpers/test-server.js";

const ACCOUNTS = [
  { jid: "romeo@localhost", password: "r" },
  { jid: "juliet@localhost", password: "j" },
];

/** PLAIN login with a stream header of our own making (xml:lang or not). */
async function loginWithHeader(port: number, user: string, password: string, lang: string | undefined): Promise<RawClient> {
  const c = await RawClient.connect(port);
  const header = `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'${lang === undefined ? "" : ` xml:lang='${lang}'`}>`;
  c.write(header);
  await c.waitFor(/<\/stream:features>/);
  c.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${user}\0${password}`).toString("base64")}</auth>`);
  await c.waitFor(/<success/);
  c.clear();
  c.write(header);
  await c.waitFor(/<\/stream:features>/);
  c.write("<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r</resource></bind></iq>");
  await c.waitFor(/<jid>/);
  c.clear();
  return c;
}

test("a stanza without xml:lang carries the stream's; one with its own keeps it", async () => {
  const ts = await startTestServer({ accounts: ACCOUNTS });
  try {
    const juliet = await loginWithHeader(ts.port, "juliet", "j", undefined);
    const romeo = await loginWithHeader(ts.port, "romeo", "r", "it");
    romeo.write("<message to='juliet@localhost/r' id='a'><body>Buona notte</body></message>");
    romeo.write("<message to='juliet@localhost/r' id='b' xml:lang='en'><body>Good night</body></message>");
    const text = await juliet.waitFor(/id='b'[^>]*>/);
    assert.match(text, /<message [^>]*id='a'[^>]*xml:lang='it'/, "the stream's language");
    assert.match(text, /<message [^>]*id='b'[^>]*xml:lang='en'/);
    assert.not.match(text, /id='b'[^>]*xml:lang='it'/, "its own language kept");
    juliet.write("<message to='romeo@localhost/r' id='c'><body>Good night</body></message>");
    const reply = await romeo.waitFor(/id='c'[^>]*>/);
    assert.match(reply, /<message [^>]*id='c'[^>]*xml:lang='en'/, "no language in the header: the server's default");
    romeo.destroy();
    juliet.destroy();
  } finally {
    await ts.stop();
  }
});

test.run();
