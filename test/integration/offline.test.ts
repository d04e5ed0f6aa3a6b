// XEP-0160 offline storage over real sockets: stored while the user has no
// available resource, delivered with a delay stamp at non-negative initial
// presence, durable across a restart, and capped per user with a clear error.
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
];

test("messages beyond the per-user cap bounce with service-unavailable and an explanation", async () => {
  const ts = await startTestServer({ accounts: ACCOUNTS, configure: (c) => { c.limits.offlineMessagesPerAccount = 2; } });
  try {
    const romeo = await RawClient.connect(ts.port);
    await romeo.login("romeo", "r", "laptop");
    for (const n of [1, 2, 3]) {
      romeo.write(`<message type='chat' to='juliet@localhost' id='m${n}'><body>message ${n}</body></message>`);
    }
    const text = await romeo.waitFor(/<message[^>]*type=['"]error['"][^>]*>.*?<\/message>/s);
    assert.match(text, /id=['"]m3['"]/);
    assert.match(text, /<service-unavailable xmlns=['"]urn:ietf:params:xml:ns:xmpp-stanzas['"]\/>/);
    assert.match(text, /storage is full/);
    assert.not.match(text, /id=['"]m[12]['"]/);

    const juliet = await RawClient.connect(ts.port);
    await juliet.login("juliet", "j", "phone");
    juliet.write("<presence/>");
    const got = await juliet.waitFor(/message 2/);
    assert.match(got, /message 1[\s\S]*message 2/);
    assert.match(got, /<delay xmlns=['"]urn:xmpp:delay['"] from=['"]localhost['"] stamp=['"]\d{4}-\d\d-\d\dT/);
    assert.not.match(got, /message 3/);
    romeo.destroy();
    juliet.destroy();
  } finally {
    await ts.stop();
  }
});

test("offline messages survive a server restart and are delivered once", async () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "parley-offline-"));
  try {
    const first = await startTestServer({ accounts: ACCOUNTS, dataDir });
    const romeo = await RawClient.connect(first.port);
    await romeo.login("romeo", "r");
    romeo.write("<message type='chat' to='juliet@localhost'><body>before the restart</body></message>");
    // A ping round trip proves the message was processed before we stop.
    romeo.write("<iq type='get' id='sync'><ping xmlns='urn:xmpp:ping'/></iq>");
    await romeo.waitFor(/id=['"]sync['"]/);
    romeo.destroy();
    await first.stop();

    const second = await startTestServer({ dataDir });
    try {
      const juliet = await RawClient.connect(second.port);
      await juliet.login("juliet", "j");
      juliet.write("<presence/>");
      await juliet.waitFor(/before the restart/);
      juliet.destroy();

      const again = await RawClient.connect(second.port);
      await again.login("juliet", "j");
      again.write("<presence/><iq type='get' id='sync2'><ping xmlns='urn:xmpp:ping'/></iq>");
      const text = await again.waitFor(/id=['"]sync2['"]/);
      assert.not.match(text, /before the restart/);
      again.destroy();
    } finally {
      await second.stop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("a message to a resource with negative priority only waits offline", async () => {
  const ts = await startTestServer({ accounts: ACCOUNTS });
  try {
    const juliet = await RawClient.connect(ts.port);
    await juliet.login("juliet", "j", "hidden");
    juliet.write("<presence><priority>-1</priority></presence>");
    await juliet.waitFor(/<priority>-1<\/priority>/);
    juliet.clear();
    const romeo = await RawClient.connect(ts.port);
    await romeo.login("romeo", "r");
    romeo.write("<message type='chat' to='juliet@localhost'><body>for later</body></message>");
    romeo.write("<iq type='get' id='sync'><ping xmlns='urn:xmpp:ping'/></iq>");
    await romeo.waitFor(/id=['"]sync['"]/);
    assert.not.match(juliet.text, /for later/);
    // Non-negative presence from another resource collects it.
    const phone = await RawClient.connect(ts.port);
    await phone.login("juliet", "j", "phone");
    phone.write("<presence/>");
    await phone.waitFor(/for later/);
    romeo.destroy();
    juliet.destroy();
    phone.destroy();
  } finally {
    await ts.stop();
  }
});

test.run();
