// Tombstones (the tombstones module): a deleted account's name cannot be
// registered in-band again, and presence to it is answered `gone` with the
// unsubscription its contacts' servers should record.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { RawClient, HEADER } from "../helpers/raw-client.js";
import { startTestServer } from "../helpers/test-server.js";
import { deleteAccount } from "../../src/accounts/account-service.js";

const ADMIN = { kind: "admin" as const, tool: "test" };

async function register(port: number, user: string): Promise<string> {
  const c = await RawClient.connect(port);
  c.write(HEADER());
  await c.waitFor(/<\/stream:features>/);
  c.write(`<iq type='set' id='reg'><query xmlns='jabber:iq:register'><username>${user}</username><password>password</password></query></iq>`);
  const reply = await c.waitFor(/id='reg'[\s\S]*?(<\/iq>|\/>)/);
  c.destroy();
  return reply;
}

test("the name of a deleted account cannot be registered in-band again; other names can", async () => {
  const ts = await startTestServer({
    accounts: [{ jid: "mercutio@localhost", password: "m" }],
    configure: (c) => { c.registration.allowed = true; },
  });
  try {
    deleteAccount(ts.server.store, "mercutio@localhost", ADMIN);
    await new Promise((r) => setTimeout(r, 20)); // the deletion is carried out on the next turn
    const refused = await register(ts.port, "Mercutio");
    assert.match(refused, /type='error'/);
    assert.match(refused, /<conflict/);
    assert.match(refused, /was deleted/);
    assert.match(await register(ts.port, "benvolio"), /type='result'/);
  } finally {
    await ts.stop();
  }
});

test("available presence to a deleted account: gone, then unsubscribe (so the sender's server forgets it)", async () => {
  const ts = await startTestServer({ accounts: [{ jid: "romeo@localhost", password: "r" }, { jid: "mercutio@localhost", password: "m" }] });
  try {
    deleteAccount(ts.server.store, "mercutio@localhost", ADMIN);
    await new Promise((r) => setTimeout(r, 20));
    const romeo = await RawClient.connect(ts.port);
    await romeo.login("romeo", "r", "garden");
    romeo.write("<presence to='mercutio@localhost'/>");
    const got = await romeo.waitFor(/type=['"]unsubscribe['"]/);
    assert.match(got, /<presence[^>]*type=['"]error['"][\s\S]*<gone xmlns=['"]urn:ietf:params:xml:ns:xmpp-stanzas['"]/);
    assert.ok(got.indexOf("<gone") < got.indexOf("'unsubscribe'") || got.indexOf("<gone") < got.indexOf('"unsubscribe"'));
    // A name that never existed gets no such answer (nothing to remember).
    romeo.clear();
    romeo.write("<presence to='nobody@localhost'/><iq type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>");
    await romeo.waitFor(/id=['"]p['"]/);
    assert.not.match(romeo.text, /<gone/);
    romeo.destroy();
  } finally {
    await ts.stop();
  }
});

test.run();
