// SASL2 (XEP-0388), Bind2 (XEP-0386) and FAST (XEP-0484) over real sockets,
// with a raw client that writes the XML itself: the features offered, a
// password login that binds inline with carbons on and asks for a token, a
// token login (HT-SHA-256-NONE, and -ENDP over TLS), rotation, invalidation,
// a wrong token, and tokens dead after a password change.
import { test } from "uvu";
import * as assert from "uvu/assert";
import tls from "node:tls";
import { createHash, createHmac } from "node:crypto";
import { RawClient, HEADER } from "../helpers/raw-client.js";
import { startTestServer, type TestServer } from "../helpers/test-server.js";
import { changePassword } from "../../src/accounts/account-service.js";

const ROMEO = { jid: "romeo@localhost", password: "wherefore art" };
const JULIET = { jid: "juliet@localhost", password: "nightingale" };
const SASL2 = "urn:xmpp:sasl:2";
const FAST = "urn:xmpp:fast:0";
const UA = "d4565fa7-4d72-4749-b3d3-740edbf87770";

const b64 = (s: string | Buffer) => Buffer.from(s).toString("base64");
const plain = (user: string, password: string) => b64(`\0${user}\0${password}`);
const ht = (token: string, role: "Initiator" | "Responder", cb: Buffer = Buffer.alloc(0)) =>
  createHmac("sha256", Buffer.from(token)).update(Buffer.concat([Buffer.from(role), cb])).digest();

async function open(ts: TestServer): Promise<{ c: RawClient; features: string }> {
  const c = await RawClient.connect(ts.port);
  c.write(HEADER());
  const features = await c.waitFor(/<\/stream:features>/);
  c.clear();
  return { c, features };
}

function authenticate(mechanism: string, initial: string, inner = ""): string {
  return `<authenticate xmlns='${SASL2}' mechanism='${mechanism}'><initial-response>${initial}</initial-response>` +
    `<user-agent id='${UA}'><software>Parley tests</software><device>lab</device></user-agent>${inner}</authenticate>`;
}

const OUTCOME = /<success[\s\S]*?<\/success>|<failure[\s\S]*?<\/failure>/;

async function outcome(c: RawClient): Promise<string> {
  return (OUTCOME.exec(await c.waitFor(OUTCOME, 5000)) as RegExpExecArray)[0];
}

function tokenOf(success: string): string {
  const m = /<token [^>]*token=['"]([^'"]+)['"]/.exec(success);
  if (!m) throw new Error(`no token in ${success}`);
  return m[1] as string;
}

const attr = (xml: string, name: string) => new RegExp(`${name}=['"]([^'"]+)['"]`).exec(xml)?.[1];

/** A password login through SASL2 with an inline bind and a token request. */
async function passwordLogin(ts: TestServer, bindInner = "", mechanism = "HT-SHA-256-NONE"): Promise<{ c: RawClient; success: string }> {
  const { c } = await open(ts);
  c.write(authenticate("PLAIN", plain("romeo", ROMEO.password),
    `<bind xmlns='urn:xmpp:bind:0'><tag>phone</tag>${bindInner}</bind><request-token xmlns='${FAST}' mechanism='${mechanism}'/>`));
  return { c, success: await outcome(c) };
}

async function tokenLogin(ts: TestServer, token: string, inner = "<bind xmlns='urn:xmpp:bind:0'><tag>phone</tag></bind>"): Promise<{ c: RawClient; result: string }> {
  const { c } = await open(ts);
  c.write(authenticate("HT-SHA-256-NONE", b64(Buffer.concat([Buffer.from("romeo\0"), ht(token, "Initiator")])), `<fast xmlns='${FAST}'/>${inner}`));
  return { c, result: await outcome(c) };
}

test("the features offer SASL2 with Bind2 (carbons inline) and FAST's HT-SHA-256-NONE", async () => {
  const ts = await startTestServer({ accounts: [ROMEO] });
  const { c, features } = await open(ts);
  try {
    assert.match(features, /<authentication xmlns=['"]urn:xmpp:sasl:2['"]><mechanism>SCRAM-SHA-256<\/mechanism>/);
    assert.match(features, /<inline><bind xmlns=['"]urn:xmpp:bind:0['"]><inline><feature var=['"]urn:xmpp:carbons:2['"]\/>/);
    assert.match(features, /<fast xmlns=['"]urn:xmpp:fast:0['"]><mechanism>HT-SHA-256-NONE<\/mechanism><\/fast>/);
    // Without TLS there is no channel binding for -ENDP or -EXPR.
    assert.not.match(features, /HT-SHA-256-ENDP/);
  } finally {
    c.destroy();
    await ts.stop();
  }
});

test("a password login binds inline with carbons on, gets a token; a token login gets the same resource", async () => {
  const ts = await startTestServer({ accounts: [ROMEO, JULIET] });
  const other = await RawClient.connect(ts.port);
  try {
    const { c, success } = await passwordLogin(ts, "<enable xmlns='urn:xmpp:carbons:2'/>");
    const jid = /<authorization-identifier>([^<]+)<\/authorization-identifier>/.exec(success)?.[1] ?? "";
    assert.match(jid, /^romeo@localhost\/phone\.[0-9a-f]{8}$/, success);
    assert.match(success, /<bound xmlns=['"]urn:xmpp:bind:0['"]\/>/);
    const expiry = Date.parse(attr(/<token [^>]*>/.exec(success)?.[0] ?? "", "expiry") ?? "");
    assert.ok(expiry > Date.now() + 20 * 86_400_000, "21 days by default");
    // No restart: fresh features without a bind, then stanzas at once.
    await c.waitFor(/<\/stream:features>/);
    assert.not.match(c.text, /xmpp-bind/);
    await c.sync("p1");

    // Carbons are on for the inline-bound session: another resource's message is copied to it.
    await other.login("romeo", ROMEO.password, "desk");
    other.write("<message to='juliet@localhost' type='chat' id='m1'><body>hello</body></message>");
    await c.waitFor(/<sent xmlns=['"]urn:xmpp:carbons:2['"]>[\s\S]*hello/);

    // The next connection of the same user agent logs in with the token alone and gets the same resource.
    const token = tokenOf(success);
    const again = await tokenLogin(ts, token);
    try {
      assert.match(again.result, new RegExp(`<authorization-identifier>${jid.replace(/\./g, "\\.")}</authorization-identifier>`));
      const additional = /<additional-data>([^<]+)<\/additional-data>/.exec(again.result)?.[1] ?? "";
      assert.equal(Buffer.from(additional, "base64"), ht(token, "Responder"), "the server proves it knows the token");
      // The stale session on that resource was replaced (RFC 6120 §7.7.2.2).
      await c.waitFor(/<conflict/);
    } finally {
      again.c.destroy();
    }
  } finally {
    other.destroy();
    await ts.stop();
  }
});

test("a wrong token is not-authorized; a token for another mechanism is refused", async () => {
  const ts = await startTestServer({ accounts: [ROMEO] });
  try {
    const { c, success } = await passwordLogin(ts);
    c.destroy();
    assert.ok(tokenOf(success));
    const wrong = await tokenLogin(ts, "secret-token:fast-not-the-one");
    assert.match(wrong.result, /<failure xmlns=['"]urn:xmpp:sasl:2['"]><not-authorized/);
    wrong.c.destroy();
    // A token login without a user agent cannot name its token.
    const { c: bare } = await open(ts);
    bare.write(`<authenticate xmlns='${SASL2}' mechanism='HT-SHA-256-NONE'><initial-response>${b64("romeo\0x")}</initial-response></authenticate>`);
    assert.match(await outcome(bare), /<malformed-request/);
    // A malformed <authenticate/> (no mechanism) is answered in SASL2's form, and the stream goes on.
    bare.clear();
    bare.write(`<authenticate xmlns='${SASL2}'><initial-response>${plain("romeo", ROMEO.password)}</initial-response></authenticate>`);
    assert.match(await outcome(bare), /<failure xmlns=['"]urn:xmpp:sasl:2['"]><malformed-request/);
    bare.clear();
    bare.write(authenticate("PLAIN", plain("romeo", ROMEO.password)));
    assert.match(await outcome(bare), /<success/);
    bare.destroy();
  } finally {
    await ts.stop();
  }
});

test("rotation: an old token gets a successor, which retires it when used", async () => {
  const ts = await startTestServer({ accounts: [ROMEO], configure: (c) => { c.fast.rotateAfterSeconds = 1; } });
  try {
    const first = await passwordLogin(ts);
    first.c.destroy();
    const old = tokenOf(first.success);
    await new Promise((r) => setTimeout(r, 1100));
    const rotated = await tokenLogin(ts, old);
    rotated.c.destroy();
    assert.match(rotated.result, /<success/);
    const successor = tokenOf(rotated.result);
    assert.is.not(successor, old);
    // Until the successor is used, the old token still works (the client may not have stored it).
    const stillOld = await tokenLogin(ts, old);
    stillOld.c.destroy();
    assert.match(stillOld.result, /<success/);
    // It is still due, so it gets a successor again, which replaces the first one.
    const latest = tokenOf(stillOld.result);
    assert.is.not(latest, successor);
    const viaFirst = await tokenLogin(ts, successor);
    viaFirst.c.destroy();
    assert.match(viaFirst.result, /<not-authorized/);
    const viaNew = await tokenLogin(ts, latest);
    viaNew.c.destroy();
    assert.match(viaNew.result, /<success/);
    const oldAfter = await tokenLogin(ts, old);
    oldAfter.c.destroy();
    assert.match(oldAfter.result, /<not-authorized/);
  } finally {
    await ts.stop();
  }
});

test("invalidate: a token login with <fast invalidate='true'/> succeeds once, then the token is dead", async () => {
  const ts = await startTestServer({ accounts: [ROMEO] });
  try {
    const first = await passwordLogin(ts);
    first.c.destroy();
    const token = tokenOf(first.success);
    const last = await tokenLogin(ts, token, "");
    last.c.destroy();
    assert.match(last.result, /<success/);
    const revoke = await (async () => {
      const { c } = await open(ts);
      c.write(authenticate("HT-SHA-256-NONE", b64(Buffer.concat([Buffer.from("romeo\0"), ht(token, "Initiator")])), `<fast xmlns='${FAST}' invalidate='true'/>`));
      const r = await outcome(c);
      c.destroy();
      return r;
    })();
    assert.match(revoke, /<success/);
    assert.not.match(revoke, /<token /);
    const after = await tokenLogin(ts, token);
    after.c.destroy();
    assert.match(after.result, /<not-authorized/);
  } finally {
    await ts.stop();
  }
});

test("a password change kills every token of the account", async () => {
  const ts = await startTestServer({ accounts: [ROMEO] });
  try {
    const first = await passwordLogin(ts);
    first.c.destroy();
    const token = tokenOf(first.success);
    await new Promise((r) => setTimeout(r, 5));
    changePassword(ts.server.store, ROMEO.jid, "a brand new secret", { kind: "admin", tool: "test" }, 4096);
    const after = await tokenLogin(ts, token);
    after.c.destroy();
    assert.match(after.result, /<failure[^>]*><not-authorized/);
  } finally {
    await ts.stop();
  }
});

test("over TLS, HT-SHA-256-ENDP binds the token to the server's certificate (tls-server-end-point)", async () => {
  const ts = await startTestServer({ accounts: [ROMEO] });
  const connect = async () => {
    const socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({ port: ts.server.directTlsPort, host: "127.0.0.1", servername: "localhost", rejectUnauthorized: false }, () => resolve(s));
      s.once("error", reject);
    });
    const c = RawClient.wrap(socket);
    c.write(HEADER());
    const features = await c.waitFor(/<\/stream:features>/);
    c.clear();
    const cert = socket.getPeerCertificate();
    return { c, features, cb: createHash("sha256").update(cert.raw).digest() };
  };
  try {
    const first = await connect();
    assert.match(first.features, /<mechanism>HT-SHA-256-ENDP<\/mechanism>/);
    first.c.write(authenticate("PLAIN", plain("romeo", ROMEO.password), `<request-token xmlns='${FAST}' mechanism='HT-SHA-256-ENDP'/>`));
    const token = tokenOf(await outcome(first.c));
    first.c.destroy();

    const second = await connect();
    second.c.write(authenticate("HT-SHA-256-ENDP", b64(Buffer.concat([Buffer.from("romeo\0"), ht(token, "Initiator", second.cb)])), `<fast xmlns='${FAST}'/>`));
    const ok = await outcome(second.c);
    second.c.destroy();
    assert.match(ok, /<success/);
    assert.equal(Buffer.from(/<additional-data>([^<]+)</.exec(ok)?.[1] ?? "", "base64"), ht(token, "Responder", second.cb));

    // The same token without the binding (or with NONE) is refused: it is bound to its mechanism.
    const third = await connect();
    third.c.write(authenticate("HT-SHA-256-NONE", b64(Buffer.concat([Buffer.from("romeo\0"), ht(token, "Initiator")])), `<fast xmlns='${FAST}'/>`));
    assert.match(await outcome(third.c), /<not-authorized/);
    third.c.destroy();
  } finally {
    await ts.stop();
  }
});

test("Bind2 with stream management inline: <enabled/> in <bound/>, acks counted, and the stream resumes after a SASL2 login", async () => {
  const ts = await startTestServer({ accounts: [ROMEO] });
  try {
    const { c, features } = await open(ts);
    assert.match(features, /<feature var=['"]urn:xmpp:sm:3['"]\/>/);
    c.write(authenticate("PLAIN", plain("romeo", ROMEO.password),
      "<bind xmlns='urn:xmpp:bind:0'><tag>phone</tag><enable xmlns='urn:xmpp:sm:3' resume='true'/></bind>"));
    const success = await outcome(c);
    const enabled = /<bound[^>]*><enabled xmlns=['"]urn:xmpp:sm:3['"][^>]*\/><\/bound>/.exec(success)?.[0] ?? "";
    assert.ok(enabled, success);
    const id = attr(enabled, "id") ?? "";
    assert.ok(id !== "" && attr(enabled, "resume") === "true");
    await c.sync("p1");
    c.write("<r xmlns='urn:xmpp:sm:3'/>");
    await c.waitFor(/<a xmlns=['"]urn:xmpp:sm:3['"] h=['"]1['"]\/>/);
    c.destroy();

    // A new connection authenticates with SASL2 and no bind, then resumes the stream (XEP-0198 §5).
    const { c: again } = await open(ts);
    try {
      again.write(authenticate("PLAIN", plain("romeo", ROMEO.password)));
      assert.match(await outcome(again), /<success/);
      await again.waitFor(/<\/stream:features>/);
      again.write(`<resume xmlns='urn:xmpp:sm:3' previd='${id}' h='0'/>`);
      await again.waitFor(new RegExp(`<resumed xmlns=['"]urn:xmpp:sm:3['"][^>]*previd=['"]${id}['"]`));
    } finally {
      again.destroy();
    }
  } finally {
    await ts.stop();
  }
});

test.run();
