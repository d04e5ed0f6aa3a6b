// Every scansion script — the project's own (test/scansion) and the team's
// shared ones from Prosody (../shared/scansion) — against a real server on a
// free loopback port, one fresh server and database per script.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { parseScript } from "../../src/scansion/script.js";
import { runScript, formatFailure, accountsOf } from "../../src/scansion/runner.js";
import { startTestServer } from "../helpers/test-server.js";
import { repoRoot, sharedScansionDir } from "../helpers/paths.js";

/**
 * Shared scripts that are expected to fail for now, each with its reason.
 * This list may only shrink: a script listed here that passes fails the run.
 */
const EXPECTED_FAILURES: Record<string, string> = JSON.parse(
  readFileSync(path.join(repoRoot(), "test", "scansion", "expected-failures.json"), "utf8"),
) as Record<string, string>;

function scripts(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith(".scs")).sort().map((f) => path.join(dir, f));
}

const own = scripts(path.join(repoRoot(), "test", "scansion"));
const sharedDir = sharedScansionDir();
const shared = sharedDir ? scripts(sharedDir) : [];

for (const file of [...own, ...shared]) {
  const name = path.basename(file);
  const label = `${file.includes(path.join("shared", "scansion")) ? "shared" : "own"}/${name}`;
  const expectedFailure = file.startsWith(sharedDir ?? "\0") ? EXPECTED_FAILURES[name] : undefined;
  test(`scansion ${label}${expectedFailure ? " (expected to fail: " + expectedFailure + ")" : ""}`, async () => {
    const script = parseScript(readFileSync(file, "utf8"), name);
    const ts = await startTestServer({ accounts: accountsOf(script) });
    try {
      const result = await runScript(script, { host: "127.0.0.1", port: ts.port, stepTimeoutMs: 5000 });
      if (expectedFailure) {
        assert.ok(!result.ok, `${name} now passes: remove it from test/scansion/expected-failures.json`);
      } else if (!result.ok) {
        assert.unreachable(formatFailure(file, result));
      }
      // Whatever the conversation did, the projections equal a rebuild from the log.
      const live = ts.server.projectionChecksums();
      ts.server.store.rebuildProjections();
      assert.equal(ts.server.projectionChecksums(), live, "projection tables differ from a rebuild of the event log");
    } finally {
      await ts.stop();
    }
  });
}

test.run();
