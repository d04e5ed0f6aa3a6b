// XEP-0077 in-band registration: off by default; when allowed, an account can
// be created before authentication; once logged in, a user can change their
// password or cancel their account.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { RawClient, HEADER } from "../helpers/raw-client.js";
import { startTestServer } from "../helpers/test-server.js";

async function preAuth(port: number): Promise<{ c: RawClient; features: string }> {
  const c = await RawClient.connect(port);
  c.write(HEADER());
  const features = await c.waitFor(/<\/stream:features>/);
  c.clear();
  return { c, features };
}

test("registration is off by default: not advertised, and refused", async () => {
  const ts = await startTestServer();
  try {
    const { c, features } = await preAuth(ts.port);
    assert.not.match(features, /iq-register/);
    c.write("<iq type='get' id='r1'><query xmlns='jabber:iq:register'/></iq>");
    assert.match(await c.waitFor(/id='r1'[\s\S]*<\/iq>/), /<service-unavailable/);
    c.destroy();
  } finally {
    await ts.stop();
  }
});

test("when allowed: the form, a new account that can log in, conflict and invalid names", async () => {
  const ts = await startTestServer({ configure: (c) => { c.registration.allowed = true; } });
  try {
    const { c, features } = await preAuth(ts.port);
    assert.match(features, /<register xmlns='http:\/\/jabber.org\/features\/iq-register'\/>/);
    c.write("<iq type='get' id='f'><query xmlns='jabber:iq:register'/></iq>");
    const form = await c.waitFor(/id='f'[\s\S]*<\/iq>/);
    assert.match(form, /<username\/>/);
    assert.match(form, /<password\/>/);
    c.clear();
    c.write("<iq type='set' id='s'><query xmlns='jabber:iq:register'><username>Benvolio</username><password>peace be with you</password></query></iq>");
    assert.match(await c.waitFor(/id='s'/), /<iq type='result' id='s'\/>/);
    c.clear();
    c.write("<iq type='set' id='s2'><query xmlns='jabber:iq:register'><username>benvolio</username><password>xxxxxxxx</password></query></iq>");
    assert.match(await c.waitFor(/id='s2'[\s\S]*<\/iq>/), /<conflict/);
    c.clear();
    c.write("<iq type='set' id='s3'><query xmlns='jabber:iq:register'><username>no good</username><password>xxxxxxxx</password></query></iq>");
    assert.match(await c.waitFor(/id='s3'[\s\S]*<\/iq>/), /<not-acceptable/);
    c.destroy();
    const login = await RawClient.connect(ts.port);
    assert.match(await login.login("benvolio", "peace be with you"), /^benvolio@localhost\//);
    login.destroy();
  } finally {
    await ts.stop();
  }
});

test("registration flood control: one address may create only so many accounts an hour", async () => {
  const ts = await startTestServer({ configure: (c) => { c.registration.allowed = true; c.registration.perAddressPerHour = 2; } });
  try {
    const { c } = await preAuth(ts.port);
    for (const [i, name] of ["one", "two", "three"].entries()) {
      c.clear();
      c.write(`<iq type='set' id='r${i}'><query xmlns='jabber:iq:register'><username>${name}</username><password>password</password></query></iq>`);
      const reply = await c.waitFor(new RegExp(`id='r${i}'[\\s\\S]*?(/>|</iq>)`));
      if (i < 2) assert.match(reply, new RegExp(`<iq type='result' id='r${i}'`));
      else assert.match(reply, /<resource-constraint/);
    }
    c.destroy();
  } finally {
    await ts.stop();
  }
});

test("a logged-in user changes their password, then cancels their account", async () => {
  const ts = await startTestServer({ accounts: [{ jid: "mercutio@localhost", password: "mab" }] });
  try {
    const c = await RawClient.connect(ts.port);
    await c.login("mercutio", "mab");
    c.write("<iq type='set' id='p'><query xmlns='jabber:iq:register'><username>mercutio</username><password>a plague on both</password></query></iq>");
    assert.match(await c.waitFor(/id='p'/), /<iq type='result' id='p'/);
    c.clear();
    c.write("<iq type='set' id='p2'><query xmlns='jabber:iq:register'><username>tybalt</username><password>xxxxxxxx</password></query></iq>");
    assert.match(await c.waitFor(/id='p2'[\s\S]*<\/iq>/), /<not-authorized/);
    const again = await RawClient.connect(ts.port);
    await again.login("mercutio", "a plague on both");
    c.clear();
    c.write("<iq type='set' id='rm'><query xmlns='jabber:iq:register'><remove/></query></iq>");
    await c.waitFor(/<iq type='result' id='rm'/);
    await c.waitFor(/<stream:error>/);
    await again.waitFor(/<stream:error>/);
    const gone = await RawClient.connect(ts.port);
    let refused = false;
    try { await gone.login("mercutio", "a plague on both"); } catch { refused = true; }
    assert.ok(refused, "the cancelled account can no longer log in");
    gone.destroy();
  } finally {
    await ts.stop();
  }
});

test("XEP-0077 §3.3 and §3.2 addressed to the server: the password change and the cancellation are the user's own", async () => {
  const ts = await startTestServer({ accounts: [{ jid: "tybalt@localhost", password: "cats" }] });
  try {
    const c = await RawClient.connect(ts.port);
    await c.login("tybalt", "cats");
    c.write("<iq type='get' id='q' to='localhost'><query xmlns='jabber:iq:register'/></iq>");
    assert.match(await c.waitFor(/id='q'[\s\S]*<\/iq>/), /<registered\/>[\s\S]*<username>tybalt<\/username>/);
    c.clear();
    c.write("<iq type='set' id='p' to='localhost'><query xmlns='jabber:iq:register'><username>tybalt</username><password>prince-of-verona</password></query></iq>");
    const reply = await c.waitFor(/id='p'/);
    assert.match(reply, /type='result'/);
    assert.match(reply, /from='localhost'/);
    const again = await RawClient.connect(ts.port);
    await again.login("tybalt", "prince-of-verona");
    again.destroy();
    c.clear();
    c.write("<iq type='set' id='rm' to='localhost'><query xmlns='jabber:iq:register'><remove/></query></iq>");
    await c.waitFor(/<iq[^>]*id='rm'[^>]*type='result'|<iq[^>]*type='result'[^>]*id='rm'/);
    await c.waitFor(/<stream:error>/);
    const gone = await RawClient.connect(ts.port);
    let refused = false;
    try { await gone.login("tybalt", "prince-of-verona"); } catch { refused = true; }
    assert.ok(refused, "the account cancelled at the server's address can no longer log in");
    gone.destroy();
  } finally {
    await ts.stop();
  }
});

test.run();
