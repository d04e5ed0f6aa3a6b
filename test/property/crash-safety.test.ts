// Crash safety: a client streams roster and block commands at a real server
// process, which is killed with SIGKILL a fixed time after the first IQ result
// arrives (so every round kills a server that has acknowledged something and
// is still busy with more, however loaded the machine is). After it,
// `parley verify` finds the projections equal to a replay of the log (nothing
// half-applied), and a restarted server serves every change whose IQ result
// the client had received.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { ScansionClient } from "../../src/scansion/client.js";
import { spawnServer, PARLEY_BIN } from "../helpers/server-process.js";

const runs = Number(process.env.PARLEY_PROPERTY_RUNS ?? 0);

/** How long after the first acknowledgement the server is killed. */
const KILL_AFTER_FIRST_RESULT_MS = 40;

async function round(seedName: number): Promise<void> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "parley-crash-"));
  try {
    const add = spawnSync(process.execPath, [PARLEY_BIN, "adduser", "romeo@localhost", "--data", dataDir], { input: "romeo password\n", encoding: "utf8" });
    assert.is(add.status, 0, add.stderr);
    const server = await spawnServer(dataDir);
    const client = new ScansionClient("romeo", "romeo@localhost", "romeo password", "crash");
    await client.connect("127.0.0.1", server.port, 5000);
    const acknowledged = new Set<string>();
    let firstResult: () => void = () => {};
    const acknowledgedOnce = new Promise<void>((resolve) => { firstResult = resolve; });
    const collect = () => {
      for (const stanza of client.queue.splice(0)) {
        if (stanza.name === "iq" && stanza.attrs.type === "result" && stanza.attrs.id?.startsWith("c")) {
          acknowledged.add(stanza.attrs.id);
          firstResult();
        }
      }
    };
    let sent = 0;
    let running = true;
    // Commands go out back to back; results are collected as they come.
    const pump = (async () => {
      while (running && !client.closed && !client.streamClosedByServer) {
        const n = sent++;
        if (n % 3 === 2) {
          client.send(`<iq type='set' id='c${n}'><block xmlns='urn:xmpp:blocking'><item jid='enemy${n}@localhost'/></block></iq>`);
        } else {
          client.send(`<iq type='set' id='c${n}'><query xmlns='jabber:iq:roster'><item jid='friend${n}@localhost' name='n${n}-${seedName}'/></query></iq>`);
        }
        await new Promise((r) => setImmediate(r));
        collect();
      }
    })();
    const noResult = setTimeout(() => firstResult(), 20_000);
    await acknowledgedOnce;
    clearTimeout(noResult);
    assert.ok(acknowledged.size > 0, `no IQ result within 20 s of the first of ${sent} commands`);
    await new Promise((r) => setTimeout(r, KILL_AFTER_FIRST_RESULT_MS));
    server.child.kill("SIGKILL");
    await new Promise((r) => server.child.once("exit", r));
    running = false;
    await pump;
    collect();
    client.destroy();
    if (process.env.PARLEY_TEST_VERBOSE) console.log(`  killed ${KILL_AFTER_FIRST_RESULT_MS} ms after the first result: ${acknowledged.size} of ${sent} commands acknowledged`);
    assert.ok(acknowledged.size < sent, `all ${sent} commands were answered before the kill: the round proves nothing`);

    const verify = spawnSync(process.execPath, [PARLEY_BIN, "verify", "--data", dataDir], { encoding: "utf8" });
    assert.is(verify.status, 0, `projections differ from the log after SIGKILL:\n${verify.stdout}${verify.stderr}`);

    const again = await spawnServer(dataDir);
    try {
      const check = new ScansionClient("romeo", "romeo@localhost", "romeo password", "check");
      await check.connect("127.0.0.1", again.port, 5000);
      check.send("<iq type='get' id='roster'><query xmlns='jabber:iq:roster'/></iq>");
      check.send("<iq type='get' id='blocks'><blocklist xmlns='urn:xmpp:blocking'/></iq>");
      const roster = await check.nextStanza(5000);
      const blocks = await check.nextStanza(5000);
      const items = new Set(roster.getChild("query")?.getChildren("item").map((i) => i.attrs.jid) ?? []);
      const blocked = new Set(blocks.getChild("blocklist")?.getChildren("item").map((i) => i.attrs.jid) ?? []);
      for (const id of acknowledged) {
        const n = Number(id.slice(1));
        if (n % 3 === 2) assert.ok(blocked.has(`enemy${n}@localhost`), `acknowledged block ${id} lost (acknowledged ${acknowledged.size} of ${sent})`);
        else assert.ok(items.has(`friend${n}@localhost`), `acknowledged roster set ${id} lost (acknowledged ${acknowledged.size} of ${sent})`);
      }
      check.destroy();
    } finally {
      await again.stop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

test("SIGKILL during a burst of roster and block commands loses nothing acknowledged", async () => {
  await fc.assert(fc.asyncProperty(fc.integer(), round),
    runs > 0 ? { numRuns: Math.max(1, Math.floor(runs / 20)) } : { numRuns: 4, seed: 9 });
});

test.run();
