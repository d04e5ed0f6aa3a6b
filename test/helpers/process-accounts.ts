// Accounts for a server that runs as its own process: created with the CLI,
// as an operator would.
import { spawnSync } from "node:child_process";
import { PARLEY_BIN } from "./server-process.js";

export function addUsers(dataDir: string, accounts: readonly { jid: string; password: string }[]): void {
  for (const a of accounts) {
    const r = spawnSync(process.execPath, [PARLEY_BIN, "adduser", a.jid, "--data", dataDir], { input: `${a.password}\n`, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`parley adduser ${a.jid} failed: ${r.stderr}`);
  }
}
