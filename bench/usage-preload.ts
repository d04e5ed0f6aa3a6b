// Loaded with `node --import` into a process the bench times: at exit it
// writes process.resourceUsage() (maxRSS in KiB, CPU in µs) to
// $PARLEY_USAGE_FILE, since Node cannot read a child's rusage.
import { writeFileSync } from "node:fs";

const file = process.env.PARLEY_USAGE_FILE;
if (file) process.on("exit", () => writeFileSync(file, JSON.stringify(process.resourceUsage())));
