// Every scansion script — the project's own (test/scansion), the team's
// founding ones (../shared/scansion) and Prosody's whole corpus
// (../shared/scansion/prosody) — against a real in-process server on a free
// loopback port, one fresh server and database per script. Prosody's scripts
// run under a configuration that says what its prosody.cfg.lua says.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { parseScript, type Script } from "../../src/scansion/script.js";
import { runScript, formatFailure, accountsOf } from "../../src/scansion/runner.js";
import type { ServerConfig } from "../../src/config.js";
import { startTestServer } from "../helpers/test-server.js";
import { repoRoot, sharedScansionDir } from "../helpers/paths.js";

/**
 * Shared scripts that are expected to fail for now, each with its reason,
 * keyed by their path under ../shared/scansion. This list may only shrink:
 * a script listed here that passes fails the run.
 */
const EXPECTED_FAILURES: Record<string, string> = JSON.parse(
  readFileSync(path.join(repoRoot(), "test", "scansion", "expected-failures.json"), "utf8"),
) as Record<string, string>;

function scripts(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith(".scs")).sort().map((f) => path.join(dir, f));
}

/** prosody.cfg.lua's setup, as far as Parley has the features it names. */
function prosodyCorpusConfig(c: ServerConfig): void {
  c.admins = ["admin@localhost"]; // admins.txt
  c.pubsub.exposePublisher = true; // Component "pubsub.localhost": expose_publisher = true
  c.contactAddresses = {
    abuse: ["mailto:abuse@localhost", "xmpp:abuse@localhost"],
    admin: ["mailto:admin@localhost", "xmpp:admin@localhost"],
    feedback: ["http://localhost/feedback.html", "mailto:feedback@localhost", "xmpp:feedback@localhost"],
    sales: ["xmpp:sales@localhost"],
    security: ["xmpp:security@localhost"],
    status: ["gopher://status.localhost"],
    support: ["https://localhost/support.html", "xmpp:support@localhost"],
  };
  // Component "upload.localhost" "http_file_share", with its size limit and file types.
  c.upload = { ...c.upload, maxFileBytes: 10_000_000, allowedTypes: ["text/plain", "image/*"] };
  c.externalServices = {
    host: "default.example", port: 9876, secret: "<secret>", credentialSeconds: 86_400,
    services: [
      { type: "stun", transport: "udp" },
      { type: "turn", transport: "udp", secret: true },
      { type: "turn", transport: "udp", secret: "foo" },
      { type: "ftp", transport: "tcp", port: 2121, username: "john", password: "password" },
      { type: "ftp", transport: "tcp", host: "ftp.example.com", port: 21, username: "john", password: "password" },
    ],
  };
}

/**
 * prosody.cfg.lua's `authentication = "insecure"`: under it every user of the
 * host exists, so Prosody's scripts write to users that no [Client] logs in as
 * (mam_extended.scs's someone@localhost), whose messages Prosody keeps offline.
 * Parley has only the accounts it was given: those addressed are created too.
 */
function addressedAccounts(script: Script): { jid: string; password: string }[] {
  const jids = new Set<string>();
  for (const step of script.steps) {
    if (step.kind !== "sends") continue;
    for (const m of step.xml.matchAll(/\bto=["']([^"'@/$]+@localhost)["']/g)) jids.add((m[1] as string).toLowerCase());
  }
  for (const c of script.clients.values()) jids.delete(c.jid.toLowerCase().split("/")[0] as string);
  return [...jids].map((jid) => ({ jid, password: "unused" }));
}

const own = scripts(path.join(repoRoot(), "test", "scansion"));
const sharedDir = sharedScansionDir();
const shared = sharedDir ? scripts(sharedDir) : [];
const prosody = sharedDir ? scripts(path.join(sharedDir, "prosody")) : [];

// PARLEY_SCANSION_ONLY=<regex> runs only the scripts whose path matches (while working on one feature).
const only = process.env.PARLEY_SCANSION_ONLY === undefined || process.env.CI === "true" ? undefined : new RegExp(process.env.PARLEY_SCANSION_ONLY);
const seenExpected = new Set<string>();
for (const file of [...own, ...shared, ...prosody]) {
  if (only && !only.test(file)) continue;
  const relative = sharedDir && file.startsWith(sharedDir) ? path.relative(sharedDir, file) : undefined;
  const label = relative === undefined ? `own/${path.basename(file)}` : `shared/${relative}`;
  const expectedFailure = relative === undefined ? undefined : EXPECTED_FAILURES[relative];
  if (relative !== undefined && expectedFailure) seenExpected.add(relative);
  const fromProsody = relative?.startsWith("prosody") ?? false;
  test(`scansion ${label}${expectedFailure ? " (expected to fail: " + expectedFailure + ")" : ""}`, async () => {
    const script = parseScript(readFileSync(file, "utf8"), path.basename(file));
    const accounts = fromProsody ? [...accountsOf(script), ...addressedAccounts(script)] : accountsOf(script);
    const ts = await startTestServer({ accounts, configure: fromProsody ? prosodyCorpusConfig : undefined });
    try {
      const result = await runScript(script, { host: "127.0.0.1", port: ts.port, stepTimeoutMs: expectedFailure ? 1500 : 5000 });
      if (expectedFailure) {
        assert.ok(!result.ok, `${relative} now passes: remove it from test/scansion/expected-failures.json`);
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

if (sharedDir && !only) {
  test("every expected failure names a script that exists", () => {
    const stale = Object.keys(EXPECTED_FAILURES).filter((k) => !seenExpected.has(k));
    assert.equal(stale, [], `expected-failures.json lists scripts that are not there: ${stale.join(", ")}`);
  });
}

test.run();
