// The CLI an operator meets (issue 20, part 6): help for every command,
// `parley status` and `parley user list` of a running server over its admin
// socket, and a second server refused on the same data directory.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { RawClient } from "../helpers/raw-client.js";
import { startTestServer } from "../helpers/test-server.js";
import { PARLEY_BIN } from "../helpers/server-process.js";
import { COMMAND_HELP } from "../../src/cli/main.js";
import { adminSocketPath } from "../../src/ops/admin-socket.js";
import { ParleyServer } from "../../src/server/server.js";
import { defaultConfig } from "../../src/config.js";
import { Logger } from "../../src/util/logger.js";

function parley(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [PARLEY_BIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => { stdout += d; });
    child.stderr.setEncoding("utf8").on("data", (d: string) => { stderr += d; });
    child.once("exit", (status) => resolve({ status, stdout, stderr }));
  });
}

test("every command answers --help (and -h, and parley help COMMAND) with its own usage, exit 0", async () => {
  const commands = Object.keys(COMMAND_HELP);
  for (const c of ["start", "check", "adduser", "passwd", "deluser", "user", "status", "backup", "restore", "import-prosody", "scansion", "events", "replay", "verify", "rebuild", "export", "import"]) {
    assert.ok(commands.includes(c), `${c} has help`);
  }
  for (const command of commands) {
    const r = await parley(command === "user" ? ["user", "list", "--help"] : [command, "--help"]);
    assert.is(r.status, 0, `${command} --help: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^Usage: parley ${command}`), `${command} --help prints its usage`);
  }
  assert.match((await parley(["export", "-h"])).stdout, /^Usage: parley export/);
  assert.match((await parley(["help", "backup"])).stdout, /^Usage: parley backup FILE/);
  assert.match((await parley(["check", "features", "--help"])).stdout, /parley check features/);
  const top = await parley(["--help"]);
  assert.is(top.status, 0);
  for (const c of ["status", "backup", "restore", "import-prosody", "user list"]) assert.match(top.stdout, new RegExp(`\\n  ${c}\\b`));
  const wrong = await parley(["backup", "--frobnicate"]);
  assert.is(wrong.status, 2);
  assert.match(wrong.stderr, /Usage: parley backup FILE/, "a usage error shows that command's help");
});

test("parley status and parley user list ask the running server; without one, status says so", async () => {
  const ts = await startTestServer({
    accounts: [{ jid: "romeo@localhost", password: "wherefore art thou" }, { jid: "juliet@localhost", password: "a rose by any name" }],
  });
  try {
    assert.is(statSync(adminSocketPath(ts.dataDir)).mode & 0o777, 0o600, "the admin socket is the server user's only");
    const romeo = await RawClient.connect(ts.port);
    await romeo.login("romeo", "wherefore art thou", "orchard");
    const s = await parley(["status", "--data", ts.dataDir]);
    assert.is(s.status, 0, s.stderr);
    assert.match(s.stdout, new RegExp(`^Parley \\S+ \\(Node ${process.versions.node.replace(/\./g, "\\.")}\\), pid ${process.pid}, up \\d+s`));
    assert.match(s.stdout, new RegExp(`listening: +127\\.0\\.0\\.1: c2s ${ts.port}, Direct TLS ${ts.server.directTlsPort}, HTTP ${ts.server.httpPort}`));
    assert.match(s.stdout, /connections: +1 \(tcp 1, tls 0, websocket 0\); 1 bound resources of 1 users/);
    assert.match(s.stdout, /accounts: +2 \(1 in memory\)/);
    assert.match(s.stdout, /certificate: .*localhost\.crt \(self-signed\), valid until .*, SHA-256 [0-9A-F:]{95}/);
    const json = JSON.parse((await parley(["status", "--data", ts.dataDir, "--json"])).stdout) as { connections: { bound: number }; domains: string[] };
    assert.is(json.connections.bound, 1);
    assert.equal(json.domains, ["localhost"]);
    const users = await parley(["user", "list", "--data", ts.dataDir]);
    assert.is(users.status, 0, users.stderr);
    assert.is(users.stdout, "juliet@localhost\nromeo@localhost  online: orchard\n2 accounts, 1 online\n");
    romeo.destroy();
  } finally {
    await ts.stop();
  }
  const none = await parley(["status", "--data", ts.dataDir]);
  assert.is(none.status, 1);
  assert.match(none.stderr, /no server is running on .* \(no answer on .*parley\.sock\)/);
  rmSync(ts.dataDir, { recursive: true, force: true });
});

test("a second server on the same data directory is refused; a stale socket of a dead one is not in the way", async () => {
  const ts = await startTestServer();
  try {
    const config = defaultConfig();
    config.dataDir = ts.dataDir;
    config.c2s = { host: "127.0.0.1", port: 0, directTlsPort: 0 };
    config.http = { port: 0 };
  config.s2s.port = 0;
    config.s2s.port = 0;
    let refused = "";
    try {
      const second = await ParleyServer.start(config, new Logger("silent"));
      await second.stop();
    } catch (err) {
      refused = (err as Error).message;
    }
    assert.match(refused, new RegExp(`a Parley server \\(pid ${process.pid}\\) is already running on the data directory`));
  } finally {
    await ts.stop();
  }
  // A server killed with SIGKILL leaves its socket file: the next start removes it.
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "parley-stale-"));
  try {
    const child = spawn(process.execPath, [PARLEY_BIN, "start", "--data", dataDir, "--c2s-port", "0", "--direct-tls-port", "0", "--http-port", "0", "--s2s-port", "0"], { stdio: ["ignore", "ignore", "pipe"] });
    let log = "";
    await new Promise<void>((resolve, reject) => {
      child.stderr.setEncoding("utf8").on("data", (d: string) => { log += d; if (log.includes("Parley started")) resolve(); });
      child.once("exit", () => reject(new Error(log)));
    });
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    assert.ok(statSync(adminSocketPath(dataDir)).isSocket(), "the dead server's socket file is still there");
    const config = defaultConfig();
    config.dataDir = dataDir;
    config.c2s = { host: "127.0.0.1", port: 0, directTlsPort: 0 };
    config.http = { port: 0 };
  config.s2s.port = 0;
    config.s2s.port = 0;
    const next = await ParleyServer.start(config, new Logger("silent"));
    await next.stop();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test.run();
