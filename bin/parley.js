#!/usr/bin/env node
// The `parley` command. The TypeScript sources are compiled to dist/ by `npm install` (prepare).
import("../dist/src/cli/main.js").then((m) => m.main(process.argv.slice(2))).then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(`parley: ${err instanceof Error ? err.message : String(err)}`); process.exitCode = 1; },
);
