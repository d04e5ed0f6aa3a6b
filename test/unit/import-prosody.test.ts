// The Prosody importer on hand-written data directories (the real Prosody
// run is test/integration/import-prosody.test.ts): limits, cleartext
// passwords, hosts not served, and a broken file that stops everything.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { EventStore } from "../../src/events/store.js";
import { registerStandardProjections } from "../../src/projections/index.js";
import { defaultConfig } from "../../src/config.js";
import { getCredential, listAccounts } from "../../src/accounts/account-service.js";
import { importProsody } from "../../src/ops/import-prosody/import.js";
import { LuaDataError } from "../../src/ops/import-prosody/lua-data.js";

function fixture(files: Record<string, string>): { dir: string; store: EventStore; done(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), "parley-prosody-fixture-"));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, "prosody", name)), { recursive: true });
    writeFileSync(path.join(dir, "prosody", name), text);
  }
  const store = EventStore.open(path.join(dir, "parley.db"));
  registerStandardProjections(store);
  return { dir: path.join(dir, "prosody"), store, done: () => { store.close(); rmSync(dir, { recursive: true, force: true }); } };
}

test("limits bound what is imported; a cleartext password gets both hashes; an unserved host is reported", async () => {
  const f = fixture({
    "localhost/accounts/alice.dat": `return {\n\t["password"] = "cleartext pass";\n};\n`,
    "localhost/roster/alice.dat": `return {\n\t["a@localhost"] = { ["subscription"] = "both"; ["groups"] = {}; };\n\t["b@localhost"] = { ["subscription"] = "to"; ["groups"] = {}; };\n\t["c@localhost"] = { ["subscription"] = "from"; ["groups"] = {}; };\n};\n`,
    "localhost/blocklist/alice.dat": `return {\n\t[false] = { ["created"] = 1; };\n\t["x@localhost"] = 1;\n\t["y@localhost"] = 1;\n};\n`,
    "other%2eexample/accounts/bob.dat": `return { ["password"] = "irrelevant" };\n`,
  });
  try {
    const config = defaultConfig();
    config.limits.rosterItems = 2;
    config.limits.blockedItems = 1;
    const report = await importProsody(f.store, config, f.dir);
    assert.equal(listAccounts(f.store.db), ["alice@localhost"]);
    assert.is(report.rosterItems, 2);
    assert.is(report.blocked, 1);
    assert.is(report.scramSha1Only, 0);
    assert.ok(getCredential(f.store.db, "alice@localhost", "SHA-256"), "a password gives SCRAM-SHA-256 keys too");
    assert.ok(report.skipped.some((s) => /c@localhost \(beyond roster_items = 2\)/.test(s)), report.skipped.join("\n"));
    assert.ok(report.skipped.some((s) => /blocked y@localhost \(beyond blocked_items = 1\)/.test(s)), report.skipped.join("\n"));
    assert.ok(report.skipped.some((s) => /host other\.example: not a served domain/.test(s)), report.skipped.join("\n"));
  } finally {
    f.done();
  }
});

test("a broken data file names its file and line, and nothing at all is imported", async () => {
  const f = fixture({
    "localhost/accounts/alice.dat": `return { ["password"] = "cleartext pass" };\n`,
    "localhost/accounts/zed.dat": `return {\n\t["stored_key"] = "00";\n\t["salt"] = dofile("/etc/passwd");\n};\n`,
  });
  try {
    let caught: unknown;
    await importProsody(f.store, defaultConfig(), f.dir).catch((err: unknown) => { caught = err; });
    assert.instance(caught, LuaDataError);
    assert.match(String((caught as Error).message), /accounts\/zed\.dat:3: expected a value/);
    assert.equal(listAccounts(f.store.db), [], "read everything first, then write: alice is not imported either");
  } finally {
    f.done();
  }
});

test.run();
