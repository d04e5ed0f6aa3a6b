// A current slixmpp from PyPI, in a virtual environment of Debian's python3
// (python3-venv) under the cache directory, made on first use; .ci/run makes the
// same one and upgrades it to PyPI's latest. Debian's python3-slixmpp (1.8) stays
// the system interpreter's. PARLEY_SLIXMPP_VENV names another directory.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";

/** Debian's interpreter: python3-venv and python3-slixmpp install for it. */
export const SYSTEM_PYTHON = "/usr/bin/python3";

export function slixmppVenvDir(): string {
  const fromEnv = process.env.PARLEY_SLIXMPP_VENV;
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  const cache = process.env.XDG_CACHE_HOME !== undefined && process.env.XDG_CACHE_HOME !== ""
    ? process.env.XDG_CACHE_HOME
    : path.join(os.homedir(), ".cache");
  return path.join(cache, "parley", "slixmpp-venv");
}

function run(command: string, args: string[], what: string): string {
  const r = spawnSync(command, args, { encoding: "utf8", timeout: 300_000 });
  if (r.status !== 0) {
    throw new Error(`${what} failed (${r.error?.message ?? `exit ${r.status}`}): ${command} ${args.join(" ")}\n${r.stdout}\n${r.stderr}`);
  }
  return r.stdout.trim();
}

/** The venv's python with slixmpp importable, creating the venv and installing slixmpp from PyPI when missing. */
export function pypiSlixmppPython(): { python: string; version: string } {
  const dir = slixmppVenvDir();
  const python = path.join(dir, "bin", "python");
  const probe = () => spawnSync(python, ["-c", "import slixmpp; print(slixmpp.__version__)"], { encoding: "utf8" });
  let found = existsSync(python) ? probe() : undefined;
  if (!found || found.status !== 0) {
    if (!existsSync(SYSTEM_PYTHON)) throw new Error(`${SYSTEM_PYTHON} is missing: .ci/run installs python3 and python3-venv`);
    run(SYSTEM_PYTHON, ["-m", "venv", dir], `making the venv ${dir}`);
    run(path.join(dir, "bin", "pip"), ["install", "--quiet", "--disable-pip-version-check", "slixmpp"], "pip install slixmpp (from PyPI)");
    found = probe();
    if (found.status !== 0) throw new Error(`slixmpp does not import in ${dir} after pip install: ${found.stderr}`);
  }
  return { python, version: found.stdout.trim() };
}

export interface SlixmppLogin {
  step: "login";
  jid: string;
  mechanism: string;
  /** The SCRAM gs2 header the client sent ("n,,", "p=tls-exporter,,"), null for PLAIN. */
  gs2: string | null;
  tls: string | null;
  /** Each refused attempt before the login: [mechanism, condition, text]. */
  failures: [string, string, string][];
  ms: number;
}

export interface SlixmppRun {
  logins: SlixmppLogin[];
  messageExchanged: boolean;
  slixmppVersion: string;
  pythonChannelBindings: string[];
  output: string;
}

/** Runs test/clients/slixmpp_login.py: alice logs in `logins` times, then bob, then they exchange a message. */
export async function runSlixmppLogin(python: string, script: string, port: number, transport: "starttls" | "direct-tls", logins: number): Promise<SlixmppRun> {
  const { spawn } = await import("node:child_process");
  const child = spawn(python, [script, "127.0.0.1", String(port), transport, String(logins)], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => { stdout += d.toString(); });
  child.stderr.on("data", (d: Buffer) => { stderr += d.toString(); });
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  const output = `${stdout}\n--- stderr ---\n${stderr.slice(-4000)}`;
  if (code !== 0) throw new Error(`${path.basename(script)} exited ${code}:\n${output}`);
  const steps = stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
  const done = steps.find((s) => s.step === "done");
  if (!done) throw new Error(`${path.basename(script)} did not finish:\n${output}`);
  return {
    logins: steps.filter((s): s is Record<string, unknown> & SlixmppLogin => s.step === "login"),
    messageExchanged: steps.some((s) => s.step === "message"),
    slixmppVersion: String(done.slixmpp),
    pythonChannelBindings: Array.isArray(done.python_channel_bindings) ? done.python_channel_bindings.map(String) : [],
    output,
  };
}
