// Runs every uvu suite (unit and integration, including the scansion
// scripts and real-socket tests), then the interop suite once (Smack's
// integration tests, test/interop/run.ts), and ends with the one summary line
// CI reads: `N passed, N failed`, both suites' counts added up.
// PARLEY_SKIP_INTEROP=1 leaves the interop suite out of a quick local run
// (not under CI=true, where it always runs).
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url)); // dist/test
const root = path.resolve(here, "..", "..");
const uvu = path.join(root, "node_modules", "uvu", "bin.js");
const pattern = process.argv[2] ?? "\\.test\\.js$";

const run = spawnSync(process.execPath, ["--enable-source-maps", uvu, path.relative(root, here), pattern], {
  cwd: root,
  encoding: "utf8",
  env: { ...process.env, FORCE_COLOR: "0" },
  maxBuffer: 256 * 1024 * 1024,
});
process.stdout.write(run.stdout ?? "");
process.stderr.write(run.stderr ?? "");

// uvu prints "Total: N" and "Passed: N"; a crash before that prints neither.
const plain = (run.stdout ?? "").replace(/\x1b\[[0-9;]*m/g, "");
const total = /Total:\s+(\d+)/.exec(plain);
const passed = /Passed:\s+(\d+)/.exec(plain);
const skipped = /Skipped:\s+(\d+)/.exec(plain);
if (!total || !passed) {
  console.log(`0 passed, 1 failed`);
  console.error(`the test runner did not finish (exit ${run.status ?? run.signal})`);
  process.exit(1);
}
const nTotal = Number(total[1]);
const nPassed = Number(passed[1]);
const nSkipped = skipped ? Number(skipped[1]) : 0;
const nFailed = nTotal - nPassed - nSkipped;
console.log(`uvu suites: ${nPassed} passed, ${nFailed} failed${nSkipped > 0 ? `, ${nSkipped} skipped` : ""}`);

// The interop suite prints its own closing `N passed, N failed[, N skipped]`.
let interop = { passed: 0, failed: 0, skipped: 0 };
const skipInterop = process.env.PARLEY_SKIP_INTEROP === "1" && process.env.CI !== "true";
if (skipInterop) {
  console.log("interop suite skipped (PARLEY_SKIP_INTEROP=1)");
} else {
  if (process.env.PARLEY_SKIP_INTEROP === "1") console.log("PARLEY_SKIP_INTEROP=1 is ignored under CI=true: the interop suite runs");
  const runner = path.join(here, "interop", "run.js");
  const ir = spawnSync(process.execPath, ["--enable-source-maps", runner], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, FORCE_COLOR: "0" },
    maxBuffer: 64 * 1024 * 1024,
  });
  process.stdout.write(ir.stdout ?? "");
  process.stderr.write(ir.stderr ?? "");
  const lines = (ir.stdout ?? "").trim().split("\n");
  const closing = /^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?$/.exec(lines[lines.length - 1] ?? "");
  if (closing) {
    interop = { passed: Number(closing[1]), failed: Number(closing[2]), skipped: Number(closing[3] ?? 0) };
    if (ir.status !== 0 && interop.failed === 0) interop.failed = 1; // a non-zero exit always counts
  } else {
    console.error(`the interop suite did not finish with its counts (exit ${ir.status ?? ir.signal})`);
    interop = { passed: 0, failed: 1, skipped: 0 };
  }
  console.log(`interop suite: ${interop.passed} passed, ${interop.failed} failed${interop.skipped > 0 ? `, ${interop.skipped} skipped` : ""}`);
}

// A skipped test of our own is a test left behind: it counts as failed. The interop
// suite's "skipped" are its tests listed as not possible or disabled, each with its
// reason in interop/expected-failures.json; they are reported above, not counted.
if (nSkipped > 0) console.log(`${nSkipped} of our own tests were skipped: each counts as failed`);
const allPassed = nPassed + interop.passed;
const allFailed = nFailed + nSkipped + interop.failed;
console.log(`${allPassed} passed, ${allFailed} failed`);
process.exit(allFailed === 0 && run.status === 0 ? 0 : 1);
