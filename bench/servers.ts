// The servers under test, each a child process on loopback with its own
// scratch data directory: Parley (`parley start`) and, for comparison, Debian's
// Prosody. Both get the same accounts, throttles raised so that the runs
// measure the servers and not their rate limits, and no TLS on loopback.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash, createHmac, pbkdf2, randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { freePort } from "../test/helpers/free-port.js";
import { fileURLToPath } from "node:url";

export interface Account {
  user: string;
  password: string;
  /** PBKDF2 iterations of its stored credential. */
  iterations: number;
  /** Users (localparts) this one is subscribed with both ways, where the server can store that directly. */
  contacts?: readonly string[];
}

export interface ServerUnderTest {
  name: "parley" | "prosody";
  version: string;
  port: number;
  domain: string;
  pid: number;
  /** Kept between processes of one bench run (rosters made in one run serve the next). */
  dataDir: string;
  /** Whether the accounts' `contacts` were written into its storage (otherwise they are made over XMPP). */
  rostersPreset: boolean;
  stop(): Promise<void>;
}

/** A data directory with the accounts in it; each launch is a fresh server process on it. */
export interface PreparedServer {
  launch(options?: LaunchOptions): Promise<ServerUnderTest>;
}

/** `modern`: what today's clients use on top: carbons, the archive and stream management (the modern scenario). */
export interface LaunchOptions {
  readonly modern?: boolean;
}

export interface ServerFactory {
  name: "parley" | "prosody";
  prepare(accounts: readonly Account[]): Promise<PreparedServer>;
}

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const PARLEY_BIN = path.join(REPO, "bin", "parley.js");

export { freePort };

export async function waitForPort(port: number, child: ChildProcess, log: () => string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode} before listening: ${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, "127.0.0.1");
      s.once("connect", () => { s.destroy(); resolve(true); });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port} after ${ms} ms: ${log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.once("exit", () => { clearTimeout(timer); resolve(); });
    child.kill("SIGTERM");
  });
}

function group<T>(items: readonly T[], key: (t: T) => number): Map<number, T[]> {
  const m = new Map<number, T[]>();
  for (const i of items) {
    const k = key(i);
    const list = m.get(k);
    if (list) list.push(i); else m.set(k, [i]);
  }
  return m;
}

export const parley: ServerFactory = {
  name: "parley",
  async prepare(accounts) {
    const dir = mkdtempSync(path.join(os.tmpdir(), "parley-bench-"));
    for (const [iterations, list] of group(accounts, (a) => a.iterations)) {
      const input = list.map((a) => `${a.user}@localhost ${a.password}`).join("\n") + "\n";
      const add = spawnSync(process.execPath, [PARLEY_BIN, "adduser", "--batch", "--iterations", String(iterations), "--data", dir], { input, encoding: "utf8" });
      if (add.status !== 0) throw new Error(`parley adduser --batch failed: ${add.stderr}`);
    }
    return { launch: (options) => launchParley(dir, options) };
  },
};

export async function launchParley(dir: string, options: LaunchOptions = {}): Promise<ServerUnderTest> {
  const port = await freePort();
  const config = path.join(dir, "bench.toml");
  writeFileSync(config, [
    `domains = ["localhost"]`,
    `data_dir = ${JSON.stringify(dir)}`,
    `log_level = "warn"`,
    // The same features as the Prosody it is measured against (roster, disco, ping,
    // blocklist, PEP; no offline, no archive of accounts): both servers do the same work per stanza.
    // muc: the muc scenario's group chat, with archives of rooms on both (Prosody's muc_mam).
    options.modern
      // …and for the modern scenario, as Prosody's mod_carbons, mod_mam and mod_smacks.
      ? `modules_enabled = ["blocking", "roster", "presence", "disco", "ping", "pubsub", "muc", "carbons", "mam", "stream_management"]`
      : `modules_enabled = ["blocking", "roster", "presence", "disco", "ping", "pubsub", "muc"]`,
    `[c2s]`, `port = ${port}`, `direct_tls_port = ${await freePort()}`,
    `[http]`, `port = ${await freePort()}`,
    `[s2s]`, `port = ${await freePort()}`,
    // Throttles out of the way, as for Prosody: one address opens every connection.
    `[limits]`, `connections_per_address = 1000000`, `stanzas_per_second = 1000000`, `stanza_burst = 1000000`,
    `sessions_per_account = 1000`, `idle_seconds = 3600`,
  ].join("\n") + "\n");
  // PARLEY_BENCH_PROFILE=DIR: each server process writes a V8 CPU profile there when it stops.
  const profile = process.env.PARLEY_BENCH_PROFILE;
  const node = profile ? ["--cpu-prof", `--cpu-prof-dir=${path.resolve(profile)}`] : [];
  const child = spawn(process.execPath, [...node, PARLEY_BIN, "start", "--config", config], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr?.setEncoding("utf8").on("data", (d: string) => { log = (log + d).slice(-4000); });
  await waitForPort(port, child, () => log);
  const pkg = JSON.parse(readFileSync(path.join(REPO, "package.json"), "utf8")) as { version: string };
  return {
    name: "parley", version: `${pkg.version} (node ${process.version})`, port, domain: "localhost", pid: child.pid ?? 0, dataDir: dir, rostersPreset: false,
    stop: () => stopChild(child),
  };
}

/** Installs Debian's prosody when it is missing (needs root, as CI has). */
export function ensureProsody(): string {
  const found = spawnSync("sh", ["-c", "command -v prosody"], { encoding: "utf8" });
  if (found.status !== 0) {
    process.stderr.write("prosody is not installed: installing Debian's package…\n");
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    const update = spawnSync("apt-get", ["update", "-q"], { stdio: "inherit", env });
    const install = spawnSync("apt-get", ["install", "-y", "-q", "prosody"], { stdio: "inherit", env });
    if (update.status !== 0 || install.status !== 0) {
      throw new Error("could not install prosody with apt-get (run as root, or `apt-get install prosody` first)");
    }
  }
  const about = spawnSync("prosodyctl", ["about"], { encoding: "utf8" });
  return /Prosody (\S+)/.exec(about.stdout)?.[1] ?? "unknown";
}

/** Prosody 0.12's internal_hashed record: SCRAM-SHA-1 keys in hex, the salt used as a raw string. */
export function prosodyAccountFile(password: string, iterations: number): Promise<string> {
  const salt = randomUUID();
  return new Promise((resolve, reject) => {
    pbkdf2(password, salt, iterations, 20, "sha1", (err, salted) => {
      if (err) return reject(err);
      const clientKey = createHmac("sha1", salted).update("Client Key").digest();
      const storedKey = createHash("sha1").update(clientKey).digest("hex");
      const serverKey = createHmac("sha1", salted).update("Server Key").digest("hex");
      resolve(`return {\n\t["iteration_count"] = ${iterations};\n\t["salt"] = "${salt}";\n\t["server_key"] = "${serverKey}";\n\t["stored_key"] = "${storedKey}";\n};\n`);
    });
  });
}

export const prosody: ServerFactory = {
  name: "prosody",
  async prepare(accounts) {
    const version = ensureProsody();
    const dir = mkdtempSync(path.join(os.tmpdir(), "prosody-bench-"));
    const accountsDir = path.join(dir, "data", "localhost", "accounts");
    mkdirSync(accountsDir, { recursive: true });
    // Each credential derived as Prosody would, on the thread pool.
    await Promise.all(accounts.map(async (a) => {
      if (!/^[a-z0-9]+$/.test(a.user)) throw new Error(`bench user names are plain lowercase: ${a.user}`);
      writeFileSync(path.join(accountsDir, `${a.user}.dat`), await prosodyAccountFile(a.password, a.iterations));
    }));
    // Rosters too: made over XMPP, 100 users subscribing to each other take Prosody minutes.
    const rosterDir = path.join(dir, "data", "localhost", "roster");
    mkdirSync(rosterDir, { recursive: true });
    for (const a of accounts) {
      if (!a.contacts?.length) continue;
      const items = a.contacts.map((c) => `\t["${c}@localhost"] = {\n\t\t["groups"] = {};\n\t\t["subscription"] = "both";\n\t};\n`).join("");
      writeFileSync(path.join(rosterDir, `${a.user}.dat`), `return {\n\t[false] = {\n\t\t["version"] = 1;\n\t\t["pending"] = {};\n\t};\n${items}};\n`);
    }
    return { launch: (options) => launchProsody(dir, version, options) };
  },
};

async function launchProsody(dir: string, version: string, options: LaunchOptions = {}): Promise<ServerUnderTest> {
  const port = await freePort();
  const config = path.join(dir, "prosody.cfg.lua");
  writeFileSync(config, `-- written by Parley's bench
pidfile = "${dir}/prosody.pid"
data_path = "${dir}/data"
run_as_root = true
interfaces = { "127.0.0.1" }
c2s_ports = { ${port} }
c2s_direct_tls_ports = { }
network_backend = "epoll"
-- What the scenarios use, and no mod_limits: its throttles are not what is measured.
modules_enabled = { "roster"; "saslauth"; "disco"; "ping"; "blocklist"; "pep";${options.modern ? ` "carbons"; "mam"; "smacks";` : ""} }
modules_disabled = { "s2s"; "offline"; }
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_hashed"
storage = "internal"
c2s_timeout = 3600
log = { warn = "*stderr" }
VirtualHost "localhost"
-- The muc scenario: group chat with archives of rooms, as Parley's [muc] archive.
Component "conference.localhost" "muc"
  modules_enabled = { "muc_mam"; }
`);
  const child = spawn("prosody", ["--config", config, "-F"], { stdio: ["ignore", "ignore", "pipe"], cwd: dir });
  let log = "";
  child.stderr?.setEncoding("utf8").on("data", (d: string) => { log = (log + d).slice(-4000); });
  await waitForPort(port, child, () => log);
  return { name: "prosody", version, port, domain: "localhost", pid: child.pid ?? 0, dataDir: dir, rostersPreset: true, stop: () => stopChild(child) };
}

/** CPU seconds (user + system) a process has used so far, from /proc. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 of stat, counted after the ")" from field 3.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Resident memory of a process in bytes. */
export function residentBytes(pid: number): number {
  if (!existsSync(`/proc/${pid}/status`)) return 0;
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : 0;
}
