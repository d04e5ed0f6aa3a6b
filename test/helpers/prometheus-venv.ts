// The Python Prometheus client from PyPI (prometheus_client), for its
// OpenMetrics parser: a virtual environment of Debian's python3 under the
// cache directory, made on first use, as slixmpp-venv.ts does for slixmpp.
// PARLEY_PROMETHEUS_VENV names another directory.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { SYSTEM_PYTHON } from "./slixmpp-venv.js";

export function prometheusVenvDir(): string {
  const fromEnv = process.env.PARLEY_PROMETHEUS_VENV;
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  const cache = process.env.XDG_CACHE_HOME !== undefined && process.env.XDG_CACHE_HOME !== ""
    ? process.env.XDG_CACHE_HOME
    : path.join(os.homedir(), ".cache");
  return path.join(cache, "parley", "prometheus-venv");
}

function run(command: string, args: string[], what: string): void {
  const r = spawnSync(command, args, { encoding: "utf8", timeout: 300_000 });
  if (r.status !== 0) throw new Error(`${what} failed (${r.error?.message ?? `exit ${r.status}`}): ${command} ${args.join(" ")}\n${r.stdout}\n${r.stderr}`);
}

/** The venv's python with prometheus_client importable, made when missing. */
export function prometheusPython(): string {
  const dir = prometheusVenvDir();
  const python = path.join(dir, "bin", "python");
  const probe = () => spawnSync(python, ["-c", "import prometheus_client.openmetrics.parser"], { encoding: "utf8" });
  let found = existsSync(python) ? probe() : undefined;
  if (!found || found.status !== 0) {
    if (!existsSync(SYSTEM_PYTHON)) throw new Error(`${SYSTEM_PYTHON} is missing: .ci/run installs python3 and python3-venv`);
    run(SYSTEM_PYTHON, ["-m", "venv", dir], `making the venv ${dir}`);
    run(path.join(dir, "bin", "pip"), ["install", "--quiet", "--disable-pip-version-check", "prometheus_client"], "pip install prometheus_client (from PyPI)");
    found = probe();
    if (found.status !== 0) throw new Error(`prometheus_client does not import in ${dir} after pip install: ${found.stderr}`);
  }
  return python;
}

export interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface ParsedFamily {
  name: string;
  type: string;
  help: string;
  samples: ParsedSample[];
}

const PARSE = `
import json, sys, math
from prometheus_client.openmetrics.parser import text_string_to_metric_families
out = []
for f in text_string_to_metric_families(sys.stdin.read()):
    out.append({"name": f.name, "type": f.type, "help": f.documentation,
                "samples": [{"name": s.name, "labels": s.labels, "value": (s.value if math.isfinite(s.value) else str(s.value))} for s in f.samples]})
print(json.dumps(out))
`;

/** Parses an OpenMetrics exposition with prometheus_client's strict parser; throws with its complaint. */
export function parseOpenMetrics(text: string): ParsedFamily[] {
  const r = spawnSync(prometheusPython(), ["-c", PARSE], { input: text, encoding: "utf8", timeout: 60_000 });
  if (r.status !== 0) throw new Error(`prometheus_client's OpenMetrics parser refused the exposition: ${r.stderr}`);
  return JSON.parse(r.stdout) as ParsedFamily[];
}
