// Writes docs/compliance.md (the default configuration's XEP-0479 verdict) and
// parley.doap (what Parley implements) from src/compliance: `npm run compliance`.
// test/integration/compliance.test.ts fails while the committed files differ.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { defaultConfig } from "../config.js";
import { checkFeatures } from "../cli/check-features.js";
import { capabilitiesOf } from "./capabilities.js";
import { complianceReport } from "./report.js";
import { readmeTable, withReadmeTable } from "./readme-table.js";

export const GENERATED = {
  markdown: path.join("docs", "compliance.md"),
  doap: "parley.doap",
  readme: "README.md",
} as const;

/** The README's supported / not yet table for the default configuration's first domain. */
export function generatedReadmeTable(): string {
  const report = complianceReport(capabilitiesOf(defaultConfig()))[0];
  if (!report) throw new Error("the default configuration serves no domain");
  return readmeTable(report);
}

/** The contents of both files, from the embedded defaults (no file, no environment). */
export function generatedFiles(): { markdown: string; doap: string } {
  return {
    markdown: checkFeatures(defaultConfig(), "the default configuration", "markdown"),
    doap: checkFeatures(defaultConfig(), "the default configuration", "doap"),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // dist/src/compliance/generate.js → the repository root.
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
  const files = generatedFiles();
  writeFileSync(path.join(root, GENERATED.markdown), files.markdown);
  writeFileSync(path.join(root, GENERATED.doap), files.doap);
  const readme = path.join(root, GENERATED.readme);
  writeFileSync(readme, withReadmeTable(readFileSync(readme, "utf8"), generatedReadmeTable()));
  process.stdout.write(`wrote ${GENERATED.markdown}, ${GENERATED.doap} and the table in ${GENERATED.readme}\n`);
}
