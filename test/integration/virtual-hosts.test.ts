// Several virtual hosts on one server: users of each domain log in to their
// own domain, talk across domains, and a domain not configured is unknown.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { RawClient, HEADER } from "../helpers/raw-client.js";
import { startTestServer } from "../helpers/test-server.js";

test("two domains on one server: separate logins, messages and subscriptions across them", async () => {
  const ts = await startTestServer({
    accounts: [{ jid: "romeo@montague.example", password: "r" }, { jid: "juliet@capulet.example", password: "j" }],
    configure: (c) => { c.domains = ["montague.example", "capulet.example"]; },
  });
  try {
    const romeo = await RawClient.connect(ts.port);
    romeo.write(HEADER("montague.example"));
    await romeo.waitFor(/<\/stream:features>/);
    assert.match(romeo.text, /from='montague.example'/);
    const juliet = await RawClient.connect(ts.port);
    juliet.write(HEADER("capulet.example"));
    await juliet.waitFor(/<\/stream:features>/);
    assert.match(juliet.text, /from='capulet.example'/);
    // Each account exists in its own domain only.
    const wrong = await RawClient.connect(ts.port);
    wrong.write(HEADER("capulet.example"));
    await wrong.waitFor(/<\/stream:features>/);
    wrong.clear();
    wrong.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from("\0romeo\0r").toString("base64")}</auth>`);
    await wrong.waitFor(/<not-authorized\/>/);
    wrong.destroy();
    romeo.destroy();
    juliet.destroy();

    const r = await RawClient.connect(ts.port);
    const j = await RawClient.connect(ts.port);
    await loginTo(r, "montague.example", "romeo", "r");
    await loginTo(j, "capulet.example", "juliet", "j");
    j.write("<presence/>");
    await j.waitFor(/<presence/);
    r.write("<message type='chat' to='juliet@capulet.example'><body>Across the wall</body></message>");
    await j.waitFor(/<message[^>]*from='romeo@montague.example\/[^']+'[^>]*><body>Across the wall<\/body>/);
    r.write("<message type='chat' to='tybalt@verona.example'><body>?</body></message>");
    await r.waitFor(/<remote-server-not-found/);
    r.destroy();
    j.destroy();
  } finally {
    await ts.stop();
  }
});

async function loginTo(c: RawClient, domain: string, user: string, password: string): Promise<void> {
  c.write(HEADER(domain));
  await c.waitFor(/<\/stream:features>/);
  c.clear();
  c.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${user}\0${password}`).toString("base64")}</auth>`);
  await c.waitFor(/<success/);
  c.clear();
  c.write(HEADER(domain));
  await c.waitFor(/<\/stream:features>/);
  c.clear();
  c.write("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>");
  await c.waitFor(new RegExp(`<jid>${user}@${domain.replace(/\./g, "\\.")}/`));
  c.clear();
}

test.run();
