// The server's subject-index thread (src/events/subject-indexer.ts) keeps the
// log's index by contact close behind the log, in batches, without writing
// the log; a second start carries on from its mark.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { EventStore } from "../../src/events/store.js";
import { SubjectIndexer } from "../../src/events/subject-indexer.js";
import { registerStandardProjections } from "../../src/projections/index.js";
import { verifySubjects } from "../../src/replay/verify.js";

const dirs: string[] = [];
test.after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

const meta = { by: { kind: "user" as const, resource: "r" }, at: "2026-12-03T12:00:00.000Z" };

function appendBlocks(store: EventStore, stream: string, from: number, n: number): void {
  let version = store.streamVersion(stream);
  store.db.transaction(() => {
    for (let i = from; i < from + n; i++) {
      const stored = store.append(stream, version, [{ type: i % 2 === 0 ? "ContactsBlocked" : "ContactsUnblocked", payload: { jids: [`c${i % 37}@x`] }, meta }]);
      version = stored[stored.length - 1]?.streamVersion ?? version;
    }
  }).immediate();
}

async function until(what: string, ok: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test("the thread indexes what the log committed, in batches, and a restarted one carries on from its mark", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "parley-indexer-"));
  dirs.push(dir);
  const file = path.join(dir, "parley.sqlite");
  const store = EventStore.open(file);
  registerStandardProjections(store);
  const problems: string[] = [];
  try {
    appendBlocks(store, "account:a@x", 0, 2500);
    appendBlocks(store, "account:b@x", 0, 700);
    const indexer = new SubjectIndexer(file, { intervalMs: 20, batch: 1000, problem: (m) => problems.push(m) });
    indexer.start();
    await until("the first catch-up", () => indexer.indexedThrough === store.lastSeq());
    await indexer.stop();
    assert.is(store.subjects.refresh(), store.lastSeq(), "the mark is in the index's file, where the store reads it");
    assert.ok(verifySubjects(store).ok);
    const blockedC5 = store.subjectSeqs("account:a@x", ["c5@x"]);
    assert.is(blockedC5.length, [...Array(2500).keys()].filter((i) => i % 37 === 5).length);

    appendBlocks(store, "account:a@x", 2500, 300);
    const again = new SubjectIndexer(file, { intervalMs: 20, problem: (m) => problems.push(m) });
    again.start();
    await until("the second catch-up", () => again.indexedThrough === store.lastSeq());
    await again.stop();
    const report = verifySubjects(store);
    assert.ok(report.ok, report.differences.join("; "));
    assert.is(store.subjects.through, 3500);
    assert.equal(problems, []);
  } finally {
    store.close();
  }
});

test.run();
