// Runs every uvu suite (unit and integration, including the scansion
// scripts and real-socket tests) and ends with the one summary line CI reads:
// `N passed, N failed`.
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
console.log(`${nPassed} passed, ${nFailed} failed${nSkipped > 0 ? `, ${nSkipped} skipped` : ""}`);
process.exit(nFailed === 0 && run.status === 0 ? 0 : 1);
