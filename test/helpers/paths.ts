// Where the repository and the team's shared scansion scripts are, from a
// compiled test file (dist/test/...) or a source one.
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, "package.json"))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error("cannot find the repository root (package.json) above the test files");
    dir = up;
  }
  return dir;
}

/** ../shared/scansion beside the checkout, when the team's folder is there. */
export function sharedScansionDir(): string | undefined {
  const dir = path.join(repoRoot(), "..", "shared", "scansion");
  return existsSync(dir) ? dir : undefined;
}
