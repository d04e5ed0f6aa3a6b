// Rosters, pending subscription requests and block lists survive a restart
// of the server process exactly as they were (they are folded from the
// event log), and the projection tables equal a rebuild from the log.
// The server runs as its own process (`parley start`), stopped with SIGTERM.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { RawClient } from "../helpers/raw-client.js";
import { spawnSync } from "node:child_process";
import { spawnServer, PARLEY_BIN } from "../helpers/server-process.js";
import { EventStore } from "../../src/events/store.js";
import { registerStandardProjections, checksumProjection } from "../../src/projections/index.js";

const ACCOUNTS = [
  { jid: "romeo@localhost", password: "romeo-pw" },
  { jid: "juliet@localhost", password: "juliet-pw" },
  { jid: "nurse@localhost", password: "nurse-pw" },
];

test("roster items, a pending request and the block list are exactly as before a restart", async () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "parley-persist-"));
  try {
    for (const a of ACCOUNTS) {
      const add = spawnSync(process.execPath, [PARLEY_BIN, "adduser", a.jid, "--data", dataDir], { input: a.password + "\n", encoding: "utf8" });
      assert.is(add.status, 0, add.stderr);
    }
    const first = await spawnServer(dataDir);
    // A failed assertion must not leave the server running (it would hold the test process open).
    const romeo = await RawClient.connect(first.port).catch((e: unknown) => { first.child.kill("SIGKILL"); throw e; });
    await romeo.login("romeo", "romeo-pw", "laptop").catch((e: unknown) => { first.child.kill("SIGKILL"); throw e; });
    romeo.write("<presence/>");
    romeo.write("<iq type='set' id='add'><query xmlns='jabber:iq:roster'><item jid='nurse@localhost' name='Nurse'><group>Household</group></item></query></iq>");
    romeo.write("<presence type='subscribe' to='juliet@localhost'/>");
    romeo.write("<iq type='set' id='blk'><block xmlns='urn:xmpp:blocking'><item jid='tybalt@localhost'/></block></iq>");
    await romeo.waitFor(/id=['"]blk['"]/);
    await romeo.sync("s1");
    romeo.destroy();
    assert.is(await first.stop(), 0);

    const second = await spawnServer(dataDir);
    try {
      const again = await RawClient.connect(second.port);
      await again.login("romeo", "romeo-pw", "laptop");
      again.write("<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>");
      const roster = await again.waitFor(/id=['"]r1['"][\s\S]*<\/iq>/);
      assert.match(roster, /<item jid=['"]nurse@localhost['"] name=['"]Nurse['"] subscription=['"]none['"]><group>Household<\/group><\/item>/);
      assert.match(roster, /<item jid=['"]juliet@localhost['"] subscription=['"]none['"] ask=['"]subscribe['"]\/>/);
      again.write("<iq type='get' id='b1'><blocklist xmlns='urn:xmpp:blocking'/></iq>");
      const blocklist = await again.waitFor(/id=['"]b1['"][\s\S]*<\/iq>/);
      assert.match(blocklist, /<item jid=['"]tybalt@localhost['"]\/>/);

      // Juliet was offline: her pending request is delivered at her first initial presence.
      const juliet = await RawClient.connect(second.port);
      await juliet.login("juliet", "juliet-pw", "balcony");
      juliet.write("<presence/>");
      await juliet.waitFor(/<presence[^>]*type=['"]subscribe['"][^>]*from=['"]romeo@localhost['"]|<presence[^>]*from=['"]romeo@localhost['"][^>]*type=['"]subscribe['"]/);

      again.destroy();
      juliet.destroy();
    } finally {
      assert.is(await second.stop(), 0);
    }
    // The projections on disk equal a rebuild from the log.
    const store = EventStore.open(path.join(dataDir, "parley.sqlite"));
    registerStandardProjections(store);
    const checksums = () => store.projectionsRegistered().map((p) => checksumProjection(store.db, p));
    const live = checksums();
    store.rebuildProjections();
    assert.equal(checksums(), live);
    store.close();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test.run();
