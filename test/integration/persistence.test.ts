// Rosters, pending subscription requests and block lists survive a restart
// of the server process exactly as they were (they are folded from the
// event log), and the projection tables equal a rebuild from the log.
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
  { jid: "nurse@localhost", password: "n" },
];

async function sync(c: RawClient, id: string): Promise<string> {
  c.write(`<iq type='get' id='${id}'><ping xmlns='urn:xmpp:ping'/></iq>`);
  return c.waitFor(new RegExp(`id=['"]${id}['"]`));
}

test("roster items, a pending request and the block list are exactly as before a restart", async () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "parley-persist-"));
  try {
    const first = await startTestServer({ accounts: ACCOUNTS, dataDir });
    const romeo = await RawClient.connect(first.port);
    await romeo.login("romeo", "r", "laptop");
    romeo.write("<presence/>");
    romeo.write("<iq type='set' id='add'><query xmlns='jabber:iq:roster'><item jid='nurse@localhost' name='Nurse'><group>Household</group></item></query></iq>");
    romeo.write("<presence type='subscribe' to='juliet@localhost'/>");
    romeo.write("<iq type='set' id='blk'><block xmlns='urn:xmpp:blocking'><item jid='tybalt@localhost'/></block></iq>");
    await romeo.waitFor(/id=['"]blk['"]/);
    await sync(romeo, "s1");
    romeo.destroy();
    await first.stop();

    const second = await startTestServer({ dataDir });
    try {
      const again = await RawClient.connect(second.port);
      await again.login("romeo", "r", "laptop");
      again.write("<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>");
      const roster = await again.waitFor(/id=['"]r1['"][\s\S]*<\/iq>/);
      assert.match(roster, /<item jid=['"]nurse@localhost['"] name=['"]Nurse['"] subscription=['"]none['"]><group>Household<\/group><\/item>/);
      assert.match(roster, /<item jid=['"]juliet@localhost['"] subscription=['"]none['"] ask=['"]subscribe['"]\/>/);
      again.write("<iq type='get' id='b1'><blocklist xmlns='urn:xmpp:blocking'/></iq>");
      const blocklist = await again.waitFor(/id=['"]b1['"][\s\S]*<\/iq>/);
      assert.match(blocklist, /<item jid=['"]tybalt@localhost['"]\/>/);

      // Juliet was offline: her pending request is delivered at her first initial presence.
      const juliet = await RawClient.connect(second.port);
      await juliet.login("juliet", "j", "balcony");
      juliet.write("<presence/>");
      await juliet.waitFor(/<presence[^>]*type=['"]subscribe['"][^>]*from=['"]romeo@localhost['"]|<presence[^>]*from=['"]romeo@localhost['"][^>]*type=['"]subscribe['"]/);

      // The projections equal a rebuild from the log.
      const before = second.server.projectionChecksums();
      second.server.store.rebuildProjections();
      assert.equal(second.server.projectionChecksums(), before);
      again.destroy();
      juliet.destroy();
    } finally {
      await second.stop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test.run();
