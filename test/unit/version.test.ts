// The version the server reports (XEP-0092) is the package's version.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import path from "node:path";
import { PARLEY_VERSION } from "../../src/version.js";
import { repoRoot } from "../helpers/paths.js";

test("src/version.ts agrees with package.json", () => {
  const pkg = JSON.parse(readFileSync(path.join(repoRoot(), "package.json"), "utf8")) as { version: string };
  assert.is(PARLEY_VERSION, pkg.version);
});

test.run();
