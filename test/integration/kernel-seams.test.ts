// Regressions from the seams between features, over real sockets: block
// matching on normalised JIDs, a deleted account's storage and contacts, and
// which modules load.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { RawClient } from "../helpers/raw-client.js";
import { startTestServer } from "../helpers/test-server.js";
import { deleteAccount, registerAccounts } from "../../src/accounts/account-service.js";
import { EventStore } from "../../src/events/store.js";
import { registerStandardProjections } from "../../src/projections/index.js";
import { UnknownModuleError } from "../../src/kernel/kernel.js";

const ADMIN = { kind: "admin" as const, tool: "test" };

test("a block on tybalt@localhost stops messages to TYBALT@localhost and tybalt@LOCALHOST/sword (XEP-0191 §3.3)", async () => {
  const ts = await startTestServer({ accounts: [{ jid: "juliet@localhost", password: "j" }, { jid: "tybalt@localhost", password: "t" }] });
  try {
    const tybalt = await RawClient.connect(ts.port);
    await tybalt.login("tybalt", "t", "sword");
    tybalt.write("<presence/>");
    const juliet = await RawClient.connect(ts.port);
    await juliet.login("juliet", "j", "balcony");
    juliet.write("<iq type='set' id='b1'><block xmlns='urn:xmpp:blocking'><item jid='tybalt@localhost'/></block></iq>");
    await juliet.waitFor(/id=['"]b1['"]/);
    juliet.write("<message type='chat' to='TYBALT@localhost' id='m1'><body>upper</body></message>");
    juliet.write("<message type='chat' to='tybalt@LOCALHOST/sword' id='m2'><body>domain</body></message>");
    const bounced = await juliet.waitFor(/id=['"]m2['"][\s\S]*?<\/message>/);
    assert.match(bounced, /id=['"]m1['"][^>]*type=['"]error['"]|type=['"]error['"][^>]*id=['"]m1['"]/);
    assert.match(bounced, /<blocked xmlns=['"]urn:xmpp:blocking:errors['"]\/>/);
    await tybalt.sync("t-sync");
    assert.not.match(tybalt.text, /upper|domain/);
    juliet.destroy();
    tybalt.destroy();
  } finally {
    await ts.stop();
  }
});

test("a deleted account's offline messages do not reach the next owner of its name", async () => {
  const ts = await startTestServer({ accounts: [{ jid: "romeo@localhost", password: "r" }, { jid: "rosaline@localhost", password: "old" }] });
  try {
    const romeo = await RawClient.connect(ts.port);
    await romeo.login("romeo", "r");
    romeo.write("<message type='chat' to='rosaline@localhost'><body>for the old rosaline</body></message>");
    await romeo.sync("r1");
    deleteAccount(ts.server.store, "rosaline@localhost", ADMIN);
    await registerAccounts(ts.server.store, [{ jid: "rosaline@localhost", password: "new" }], ADMIN);
    const rosaline = await RawClient.connect(ts.port);
    await rosaline.login("rosaline", "new");
    rosaline.write("<presence/>");
    await rosaline.sync("r2");
    assert.not.match(rosaline.text, /for the old rosaline/);
    romeo.destroy();
    rosaline.destroy();
  } finally {
    await ts.stop();
  }
});

test("a deletion made while the server was down is carried out at the next start", async () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "parley-deletion-"));
  try {
    const first = await startTestServer({ dataDir, accounts: [{ jid: "romeo@localhost", password: "r" }, { jid: "rosaline@localhost", password: "old" }] });
    const romeo = await RawClient.connect(first.port);
    await romeo.login("romeo", "r");
    romeo.write("<message type='chat' to='rosaline@localhost'><body>for the old rosaline</body></message>");
    await romeo.sync("r1");
    romeo.destroy();
    await first.stop();
    // The CLI, on a stopped server.
    const store = EventStore.open(path.join(dataDir, "parley.sqlite"));
    registerStandardProjections(store);
    deleteAccount(store, "rosaline@localhost", ADMIN);
    await registerAccounts(store, [{ jid: "rosaline@localhost", password: "new" }], ADMIN);
    store.close();
    const second = await startTestServer({ dataDir });
    try {
      const rosaline = await RawClient.connect(second.port);
      await rosaline.login("rosaline", "new");
      rosaline.write("<presence/>");
      await rosaline.sync("r2");
      assert.not.match(rosaline.text, /for the old rosaline/);
      rosaline.destroy();
    } finally {
      await second.stop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("when a user cancels their account (XEP-0077), former contacts no longer show them as subscribed", async () => {
  const ts = await startTestServer({ accounts: [{ jid: "romeo@localhost", password: "r" }, { jid: "juliet@localhost", password: "j" }] });
  try {
    const romeo = await RawClient.connect(ts.port);
    await romeo.login("romeo", "r", "garden");
    const juliet = await RawClient.connect(ts.port);
    await juliet.login("juliet", "j", "balcony");
    // Both ways: romeo asks, juliet approves; juliet asks, romeo approves.
    romeo.write("<presence type='subscribe' to='juliet@localhost'/>");
    await romeo.sync("s1");
    juliet.write("<presence type='subscribed' to='romeo@localhost'/><presence type='subscribe' to='romeo@localhost'/>");
    await juliet.sync("s2");
    romeo.write("<presence type='subscribed' to='juliet@localhost'/>");
    await romeo.sync("s3");
    assert.is(ts.server.accountState("romeo@localhost")?.items.get("juliet@localhost")?.subscription, "both");
    juliet.write("<iq type='set' id='cancel'><query xmlns='jabber:iq:register'><remove/></query></iq>");
    await juliet.waitFor(/id=['"]cancel['"]/);
    await juliet.waitClosed();
    // The deletion's unsubscribe/unsubscribed reach romeo's actor within a turn or two.
    for (let i = 0; i < 50 && ts.server.accountState("romeo@localhost")?.items.get("juliet@localhost")?.subscription !== "none"; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.is(ts.server.accountState("romeo@localhost")?.items.get("juliet@localhost")?.subscription, "none");
    romeo.write("<iq type='get' id='roster'><query xmlns='jabber:iq:roster'/></iq>");
    const roster = await romeo.waitFor(/id=['"]roster['"][\s\S]*?<\/iq>/);
    assert.match(roster, /jid=['"]juliet@localhost['"][^>]*subscription=['"]none['"]/);
    romeo.destroy();
  } finally {
    await ts.stop();
  }
});

test("a session that sent only directed presence tells its target when it closes its stream (RFC 6121 §4.6.3)", async () => {
  const ts = await startTestServer({ accounts: [{ jid: "romeo@localhost", password: "r" }, { jid: "juliet@localhost", password: "j" }] });
  try {
    const juliet = await RawClient.connect(ts.port);
    await juliet.login("juliet", "j", "balcony");
    juliet.write("<presence/>");
    const romeo = await RawClient.connect(ts.port);
    await romeo.login("romeo", "r", "garden");
    romeo.write("<presence to='juliet@localhost/balcony'/>");
    await juliet.waitFor(/<presence[^>]*from=['"]romeo@localhost\/garden['"]/);
    juliet.clear();
    romeo.write("</stream:stream>");
    const left = await juliet.waitFor(/<presence[^>]*type=['"]unavailable['"][^>]*>|<presence[^>]*type=['"]unavailable['"][^>]*\/>/);
    assert.match(left, /from=['"]romeo@localhost\/garden['"]/);
    await juliet.sync("j1");
    assert.is((juliet.text.match(/type=['"]unavailable['"]/g) ?? []).length, 1, "told exactly once");
    juliet.destroy();
  } finally {
    await ts.stop();
  }
});

test("modules_enabled decides which features load: without 'version', software version is service-unavailable", async () => {
  const ts = await startTestServer({
    accounts: [{ jid: "romeo@localhost", password: "r" }],
    configure: (c) => { c.modulesEnabled = c.modulesEnabled.filter((m) => m !== "version"); },
  });
  try {
    const romeo = await RawClient.connect(ts.port);
    await romeo.login("romeo", "r");
    romeo.write("<iq type='get' id='v' to='localhost'><query xmlns='jabber:iq:version'/></iq>");
    const reply = await romeo.waitFor(/id=['"]v['"][\s\S]*?<\/iq>/);
    assert.match(reply, /<service-unavailable/);
    romeo.write("<iq type='get' id='d' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
    const info = await romeo.waitFor(/id=['"]d['"][\s\S]*?<\/iq>/);
    assert.not.match(info, /jabber:iq:version/);
    assert.match(info, /urn:xmpp:ping/);
    romeo.destroy();
  } finally {
    await ts.stop();
  }
});

test("an unknown module name stops the start with an error naming it", async () => {
  try {
    const ts = await startTestServer({ configure: (c) => { c.modulesEnabled = [...c.modulesEnabled, "carbonz"]; } });
    await ts.stop();
    assert.unreachable("the server started with an unknown module");
  } catch (err) {
    assert.instance(err, UnknownModuleError);
    assert.match((err as Error).message, /carbonz/);
  }
});

test.run();
