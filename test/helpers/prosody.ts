// A real Prosody (Debian's package) for tests that need data it wrote: its
// own configuration, data directory and loopback port, internal storage,
// in-band registration, no TLS. Skipped by the caller when not installed.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync, readFileSync, existsSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { freePort } from "./free-port.js";

export function prosodyBinary(): string | undefined {
  const found = spawnSync("sh", ["-c", "command -v prosody"], { encoding: "utf8" });
  const bin = found.stdout.trim();
  return found.status === 0 && bin !== "" ? bin : undefined;
}

export interface ProsodyProcess {
  readonly port: number;
  readonly dataDir: string;
  readonly child: ChildProcess;
  log(): string;
  /** SIGTERM; resolves when it has exited (its data files are written). */
  stop(): Promise<void>;
}

export async function startProsody(dir: string, host = "localhost"): Promise<ProsodyProcess> {
  const bin = prosodyBinary();
  if (bin === undefined) throw new Error("prosody is not installed (apt-get install -y prosody)");
  const port = await freePort();
  const dataDir = path.join(dir, "data");
  mkdirSync(dataDir, { recursive: true });
  mkdirSync(path.join(dir, "certs"), { recursive: true });
  const logFile = path.join(dir, "prosody.log");
  const config = path.join(dir, "prosody.cfg.lua");
  writeFileSync(config, `-- written by test/helpers/prosody.ts
pidfile = ${JSON.stringify(path.join(dir, "prosody.pid"))}
data_path = ${JSON.stringify(dataDir)}
-- CI containers run the tests as root; Prosody refuses that unless told.
run_as_root = true
certificates = ${JSON.stringify(path.join(dir, "certs"))}
log = { debug = ${JSON.stringify(logFile)} }
c2s_ports = { ${port} }
c2s_interfaces = { "127.0.0.1" }
s2s_ports = { }
http_ports = { }
https_ports = { }
c2s_direct_tls_ports = { }
authentication = "internal_hashed"
storage = "internal"
allow_registration = true
min_seconds_between_registrations = 0
registration_throttle_max = 1000
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
modules_enabled = { "roster", "saslauth", "disco", "blocklist", "offline", "register", "ping", "vcard", "private", "pep", "mam" }
modules_disabled = { "s2s", "tls" }
archive_expires_after = "never"
default_archive_policy = true
VirtualHost ${JSON.stringify(host)}
`);
  const child = spawn(bin, ["--config", config, "-F"], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout?.setEncoding("utf8").on("data", (d: string) => { out += d; });
  child.stderr?.setEncoding("utf8").on("data", (d: string) => { out += d; });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const log = () => out + (existsSync(logFile) ? readFileSync(logFile, "utf8") : "");
  // Ready when the port answers.
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prosody exited (${child.exitCode}): ${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, "127.0.0.1", () => { s.destroy(); resolve(true); });
      s.once("error", () => resolve(false));
    });
    if (ok) break;
    if (Date.now() > deadline) { child.kill("SIGKILL"); throw new Error(`prosody did not listen on ${port}: ${log()}`); }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port, dataDir, child, log,
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}
