// XEP-0357 Push Notifications over real sockets, with an app server of our
// own as a second XMPP entity (a client logged in as pushapp@localhost/service,
// which receives the publish IQs addressed to its full JID and answers them):
// enable with publish-options (§5), no push while the device is connected, a
// push when its stream is detached (XEP-0198) and when it is gone, none after
// it resumed, the summary form without body or sender by default (§7), the
// body when the configuration allows it, disable (§6), a registration dropped
// after the app server keeps refusing (§8), and the log replaying to the same
// registrations.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { startTestServer, type TestServer } from "../helpers/test-server.js";
import { RawClient, HEADER } from "../helpers/raw-client.js";
import type { ServerConfig } from "../../src/config.js";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

const SM = "urn:xmpp:sm:3";
const APP = "pushapp@localhost/service";
const ACCOUNTS = [
  { jid: "romeo@localhost", password: "romeo-pass" },
  { jid: "juliet@localhost", password: "juliet-pass" },
  { jid: "pushapp@localhost", password: "pushapp-pass" },
];

async function withServer(body: (ts: TestServer) => Promise<void>, configure?: (c: ServerConfig) => void): Promise<void> {
  const ts = await startTestServer({ accounts: ACCOUNTS, configure });
  try {
    await body(ts);
  } finally {
    await ts.stop();
  }
}

async function plain(port: number, user: string, password: string, resource: string): Promise<RawClient> {
  const c = await RawClient.connect(port);
  await c.login(user, password, resource);
  return c;
}

const ENABLE = (node: string, secret = "s3cr3t") => `<iq type='set' id='enable-${node}'><enable xmlns='urn:xmpp:push:0' jid='${APP}' node='${node}'>` +
  "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/pubsub#publish-options</value></field>" +
  `<field var='secret'><value>${secret}</value></field></x></enable></iq>`;

/** Romeo's phone: bound, stream management with resumption, push enabled for `node`. */
async function phone(port: number, node: string): Promise<{ c: RawClient; smId: string }> {
  const c = await plain(port, "romeo", "romeo-pass", "phone");
  c.write(`<enable xmlns='${SM}' resume='true'/>`);
  const enabled = await c.waitFor(/<enabled[^>]*>/);
  const smId = /<enabled[^>]* id=['"]([^'"]+)['"]/.exec(enabled)?.[1] ?? "";
  c.write(ENABLE(node));
  const reply = await c.waitFor(new RegExp(`<iq[^>]*id=['"]enable-${node}['"][^>]*>`));
  assert.match(reply, /type=['"]result['"]/, reply);
  return { c, smId };
}

/** The publish IQs the app server has received so far. */
function publishes(app: RawClient): string[] {
  return [...app.text.matchAll(/<iq[^>]*type=['"]set['"][\s\S]*?<\/iq>/g)].map((m) => m[0]).filter((iq) => iq.includes("urn:xmpp:push:0"));
}

async function nextPublish(app: RawClient, seen: number, ms = 3000): Promise<string> {
  const start = Date.now();
  while (Date.now() - start < ms) {
    const all = publishes(app);
    if (all.length > seen) return all[seen] as string;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no push notification within ${ms} ms; the app server got:\n${app.text}`);
}

function answer(app: RawClient, iq: string, error?: string): void {
  const id = /id=['"]([^'"]+)['"]/.exec(iq)?.[1];
  const from = /from=['"]([^'"]+)['"]/.exec(iq)?.[1];
  app.write(error === undefined
    ? `<iq type='result' id='${id}' to='${from}'/>`
    : `<iq type='error' id='${id}' to='${from}'><error type='cancel'><${error} xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`);
}

const say = (juliet: RawClient, body: string, to = "romeo@localhost") => juliet.write(`<message to='${to}' type='chat' id='m-${body}'><body>${body}</body></message>`);

test("push is announced on the account; no push while the phone is connected; one per message while its stream is detached, none after it resumed", () => withServer(async (ts) => {
  const app = await plain(ts.port, "pushapp", "pushapp-pass", "service");
  const juliet = await plain(ts.port, "juliet", "juliet-pass", "balcony");
  const { c: first, smId } = await phone(ts.port, "romeo-phone");
  first.write("<presence/>");
  first.write("<iq type='get' id='info' to='romeo@localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
  assert.match(await first.waitFor(/id=['"]info['"][\s\S]*<\/iq>/), /<feature var=['"]urn:xmpp:push:0['"]\/>/);

  say(juliet, "connected");
  await first.waitFor(/<body>connected<\/body>/);
  await app.sync("quiet");
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(publishes(app), [], "no push for a device that got the message");

  first.destroy();
  await new Promise((r) => setTimeout(r, 150));
  say(juliet, "wherefore art thou");
  const push = await nextPublish(app, 0);
  assert.match(push, /from=['"]romeo@localhost['"]/);
  assert.match(push, new RegExp(`to=['"]${APP}['"]`));
  assert.match(push, /<publish node=['"]romeo-phone['"]>/);
  assert.match(push, /<field var=['"]FORM_TYPE['"]><value>urn:xmpp:push:summary<\/value><\/field>/);
  assert.match(push, /<field var=['"]message-count['"]><value>1<\/value><\/field>/);
  assert.match(push, /<publish-options>[\s\S]*<field var=['"]secret['"]><value>s3cr3t<\/value><\/field>/);
  // §7: by default the app server (a third party) learns neither the text nor who wrote it.
  assert.not.match(push, /wherefore/);
  assert.not.match(push, /last-message-sender|juliet/);
  answer(app, push);
  say(juliet, "second");
  const again = await nextPublish(app, 1);
  assert.match(again, /<field var=['"]message-count['"]><value>2<\/value><\/field>/);
  answer(app, again);

  // The phone wakes and resumes: it gets what was queued, and no more pushes.
  const second = await RawClient.connect(ts.port);
  second.write(HEADER());
  await second.waitFor(/<\/stream:features>/);
  second.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from("\0romeo\0romeo-pass").toString("base64")}</auth>`);
  await second.waitFor(/<success/);
  second.write(HEADER());
  await second.waitFor(/<\/stream:features>/);
  second.write(`<resume xmlns='${SM}' previd='${smId}' h='0'/>`);
  await second.waitFor(/<body>second<\/body>/);
  say(juliet, "awake");
  await second.waitFor(/<body>awake<\/body>/);
  await new Promise((r) => setTimeout(r, 200));
  assert.is(publishes(app).length, 2, "no push after the resumption");
  second.destroy();
  juliet.destroy();
  app.destroy();
}));

test("a phone with no session at all is pushed for offline messages; disable stops it (§6)", () => withServer(async (ts) => {
  const app = await plain(ts.port, "pushapp", "pushapp-pass", "service");
  const juliet = await plain(ts.port, "juliet", "juliet-pass", "balcony");
  const { c } = await phone(ts.port, "romeo-phone");
  c.write("</stream:stream>");
  await c.waitClosed();
  say(juliet, "while you sleep");
  const push = await nextPublish(app, 0);
  assert.match(push, /<publish node=['"]romeo-phone['"]>/);
  answer(app, push);
  // A chat state alone wakes nobody.
  juliet.write("<message to='romeo@localhost' type='chat'><active xmlns='http://jabber.org/protocol/chatstates'/></message>");
  await juliet.sync("cs");
  await new Promise((r) => setTimeout(r, 200));
  assert.is(publishes(app).length, 1);

  const back = await plain(ts.port, "romeo", "romeo-pass", "laptop");
  back.write(`<iq type='set' id='off'><disable xmlns='urn:xmpp:push:0' jid='${APP}' node='romeo-phone'/></iq>`);
  assert.match(await back.waitFor(/<iq[^>]*id=['"]off['"][^>]*>/), /type=['"]result['"]/);
  back.write("</stream:stream>");
  await back.waitClosed();
  say(juliet, "after disable");
  await juliet.sync("after");
  await new Promise((r) => setTimeout(r, 300));
  assert.is(publishes(app).length, 1, "no push after disable");
  // Enable and disable are events; the projection equals a rebuild of the log.
  const live = ts.server.projectionChecksums();
  ts.server.store.rebuildProjections();
  assert.equal(ts.server.projectionChecksums(), live);
  const types = ts.server.store.readStream("push:romeo@localhost").map((e) => e.type);
  assert.equal(types, ["PushEnabled", "PushDisabled"]);
  juliet.destroy();
  app.destroy();
}));

test("an app server that keeps refusing loses the registration after max_errors (§8); include_body and include_sender put them in", () => withServer(async (ts) => {
  const app = await plain(ts.port, "pushapp", "pushapp-pass", "service");
  const juliet = await plain(ts.port, "juliet", "juliet-pass", "balcony");
  const { c } = await phone(ts.port, "romeo-phone");
  c.write("</stream:stream>");
  await c.waitClosed();
  say(juliet, "one");
  const first = await nextPublish(app, 0);
  assert.match(first, /<field var=['"]last-message-body['"]><value>one<\/value><\/field>/);
  assert.match(first, /<field var=['"]last-message-sender['"]><value>juliet@localhost\/balcony<\/value><\/field>/);
  answer(app, first, "item-not-found");
  say(juliet, "two");
  answer(app, await nextPublish(app, 1), "item-not-found");
  await app.sync("refused");
  await new Promise((r) => setTimeout(r, 100));
  say(juliet, "three");
  await juliet.sync("three");
  await new Promise((r) => setTimeout(r, 300));
  assert.is(publishes(app).length, 2, "the registration was dropped after two refusals");
  const last = ts.server.store.readStream("push:romeo@localhost").at(-1);
  assert.is(last?.type, "PushDisabled");
  assert.equal(last?.meta.by, { kind: "server", reason: "push notifications" });
  juliet.destroy();
  app.destroy();
}, (c) => { c.push.maxErrors = 2; c.push.includeBody = true; c.push.includeSender = true; }));

test("registrations outlive a restart: after it, a message for the absent phone still wakes it", async () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "parley-push-"));
  try {
    const first = await startTestServer({ accounts: ACCOUNTS, dataDir });
    try {
      const { c } = await phone(first.port, "romeo-phone");
      c.write("</stream:stream>");
      await c.waitClosed();
    } finally {
      await first.stop();
    }
    const again = await startTestServer({ dataDir });
    try {
      const app = await plain(again.port, "pushapp", "pushapp-pass", "service");
      const juliet = await plain(again.port, "juliet", "juliet-pass", "balcony");
      say(juliet, "after the restart");
      assert.match(await nextPublish(app, 0), /<publish node=['"]romeo-phone['"]>/);
      juliet.destroy();
      app.destroy();
    } finally {
      await again.stop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("bad enables are refused with the XEP's errors; registrations per account are bounded", () => withServer(async (ts) => {
  const romeo = await plain(ts.port, "romeo", "romeo-pass", "phone");
  romeo.write("<iq type='set' id='nojid'><enable xmlns='urn:xmpp:push:0' node='n'/></iq>");
  assert.match(await romeo.waitFor(/id=['"]nojid['"][\s\S]*?<\/iq>/), /type=['"]error['"][\s\S]*<bad-request/);
  romeo.write(`<iq type='set' id='nonode'><enable xmlns='urn:xmpp:push:0' jid='${APP}'/></iq>`);
  assert.match(await romeo.waitFor(/id=['"]nonode['"][\s\S]*?<\/iq>/), /<bad-request/);
  for (const n of ["a", "b"]) {
    romeo.write(ENABLE(n));
    assert.match(await romeo.waitFor(new RegExp(`<iq[^>]*id=['"]enable-${n}['"][^>]*>`)), /type=['"]result['"]/);
  }
  // The same registration again replaces itself, within the bound.
  romeo.write(ENABLE("a", "new-secret").replace("enable-a", "enable-a2"));
  assert.match(await romeo.waitFor(/<iq[^>]*id=['"]enable-a2['"][^>]*>/), /type=['"]result['"]/);
  romeo.write(ENABLE("c"));
  assert.match(await romeo.waitFor(/id=['"]enable-c['"][\s\S]*?<\/iq>/), /<resource-constraint[\s\S]*At most 2 push registrations/);
  // Another user cannot register pushes for romeo.
  const juliet = await plain(ts.port, "juliet", "juliet-pass", "balcony");
  juliet.write(ENABLE("x").replace("<iq type='set'", "<iq type='set' to='romeo@localhost'"));
  assert.match(await juliet.waitFor(/id=['"]enable-x['"][\s\S]*?<\/iq>/), /type=['"]error['"]/);
  romeo.destroy();
  juliet.destroy();
}, (c) => { c.push.maxRegistrations = 2; }));

test.run();
