// Probes to contacts with no session are answered from the read model (the
// roster and block-list projections) without starting the contacts' actors
// (RFC 6121 §4.3.2), so a login with many contacts does not fold each one's
// history; the answers are the ones the contact's actor would give.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { RawClient } from "../helpers/raw-client.js";
import { startTestServer } from "../helpers/test-server.js";

const ACCOUNTS = [
  { jid: "romeo@localhost", password: "r" },
  { jid: "juliet@localhost", password: "j" },
  { jid: "tybalt@localhost", password: "t" },
];

test("a login's probes to offline contacts: unavailable from a subscribed one, nothing from one that blocked us, no actor started", async () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "parley-probes-"));
  try {
    // Romeo subscribes to juliet and tybalt; both approve; then tybalt blocks romeo.
    const first = await startTestServer({ dataDir, accounts: ACCOUNTS });
    const romeo = await RawClient.connect(first.port);
    await romeo.login("romeo", "r", "garden");
    const juliet = await RawClient.connect(first.port);
    await juliet.login("juliet", "j");
    const tybalt = await RawClient.connect(first.port);
    await tybalt.login("tybalt", "t");
    romeo.write("<presence type='subscribe' to='juliet@localhost'/><presence type='subscribe' to='tybalt@localhost'/>");
    await romeo.sync("s1");
    juliet.write("<presence type='subscribed' to='romeo@localhost'/>");
    tybalt.write("<presence type='subscribed' to='romeo@localhost'/>");
    await juliet.sync("s2");
    await tybalt.sync("s3");
    tybalt.write("<iq type='set' id='b'><block xmlns='urn:xmpp:blocking'><item jid='romeo@localhost'/></block></iq>");
    await tybalt.waitFor(/id=['"]b['"]/);
    for (const c of [romeo, juliet, tybalt]) c.destroy();
    await first.stop();

    const second = await startTestServer({ dataDir });
    try {
      const again = await RawClient.connect(second.port);
      await again.login("romeo", "r", "garden");
      again.write("<presence/>");
      const answer = await again.waitFor(/<presence[^>]*from=['"]juliet@localhost['"][^>]*>/);
      assert.match(answer, /type=['"]unavailable['"]/);
      await again.sync("s4");
      assert.not.match(again.text, /from=['"]tybalt@localhost/);
      assert.is(second.server.accountState("juliet@localhost"), undefined, "juliet's actor was not started");
      assert.is(second.server.accountState("tybalt@localhost"), undefined, "tybalt's actor was not started");
      again.destroy();
    } finally {
      await second.stop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test.run();
