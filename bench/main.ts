// `npm run bench [-- --vs prosody] [--scenarios a,b] [--runs N] [--quick]`:
// starts each server on a free loopback port, alternates the servers run by run,
// and prints medians, min–max and Parley's ratio to the baseline measured in
// the same run. Raw figures go to bench/results/<time>.json.
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { ensureProsody, parley, prosody, type PreparedServer, type ServerFactory } from "./servers.js";
import { SCENARIOS, FULL_SIZES, QUICK_SIZES, accountsFor, type Metrics, type Scenario } from "./scenarios.js";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

interface RunRecord { scenario: string; server: string; run: number; metrics?: Metrics; error?: string }

interface Summary { median: number; min: number; max: number }

function summarize(values: number[]): Summary {
  const sorted = [...values].filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length === 0 ? NaN : sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return { median, min: sorted[0] ?? NaN, max: sorted[sorted.length - 1] ?? NaN };
}

const fmt = (n: number): string => {
  if (!Number.isFinite(n)) return "—";
  const a = Math.abs(n);
  if (a >= 10_000) return `${(n / 1000).toFixed(0)}k`;
  if (a >= 100) return n.toFixed(0);
  if (a >= 10) return n.toFixed(1);
  return n.toFixed(2);
};

function machine() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? "unknown", cores: cpus.length, memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`, node: process.version,
  };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      vs: { type: "string" },
      scenarios: { type: "string" },
      runs: { type: "string" },
      quick: { type: "boolean" },
      out: { type: "string" },
    },
  });
  if (values.vs !== undefined && values.vs !== "prosody") throw new Error(`--vs takes 'prosody', not '${values.vs}'`);
  const wanted = values.scenarios?.split(",").map((s) => s.trim()) ?? SCENARIOS.map((s) => s.name);
  const scenarios: Scenario[] = wanted.map((name) => {
    const s = SCENARIOS.find((x) => x.name === name);
    if (!s) throw new Error(`unknown scenario '${name}' (known: ${SCENARIOS.map((x) => x.name).join(", ")})`);
    return s;
  });
  const runs = values.runs === undefined ? 3 : Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive whole number, not '${values.runs}'`);
  const sizes = values.quick ? QUICK_SIZES : FULL_SIZES;
  const factories: ServerFactory[] = values.vs === "prosody" ? [parley, prosody] : [parley];

  const accounts = accountsFor(sizes);
  const prepared = new Map<string, PreparedServer>();
  const setup: Record<string, number> = {};
  // Scenarios that make their own server (history) need no prepared accounts.
  const needsServers = scenarios.some((s) => !s.runAlone);
  for (const f of needsServers ? factories : []) {
    const t0 = performance.now();
    prepared.set(f.name, await f.prepare(accounts));
    setup[`${f.name}_accounts_s`] = (performance.now() - t0) / 1000;
    process.stderr.write(`${f.name}: ${accounts.length} accounts ready in ${setup[`${f.name}_accounts_s`]?.toFixed(1)} s\n`);
  }

  const records: RunRecord[] = [];
  const versions: Record<string, string> = {};
  const report = (record: RunRecord) => {
    records.push(record);
    process.stderr.write(`${record.scenario} ${record.server} run ${record.run}: ${record.error ?? Object.entries(record.metrics ?? {}).map(([k, v]) => `${k}=${fmt(v)}`).join(" ")}\n`);
  };
  const measure = async (scenario: Scenario, server: string, run: number, body: () => Promise<Metrics>) => {
    const record: RunRecord = { scenario: scenario.name, server, run };
    try {
      record.metrics = await body();
    } catch (err) {
      record.error = (err as Error).message;
    }
    report(record);
  };
  for (const scenario of scenarios) {
    for (let run = 1; run <= runs; run++) {
      // Alternate which server goes first, so neither always gets the warmer machine.
      const entries: { name: string; go: () => Promise<void> }[] = [];
      for (const f of factories) {
        if (scenario.runAlone) {
          // Scenarios that make their own servers (history: Parley's own log; s2s: a pair of each).
          if (!(scenario.aloneOn ?? ["parley"]).includes(f.name)) continue;
          const runAlone = scenario.runAlone.bind(scenario);
          entries.push({ name: f.name, go: () => measure(scenario, f.name, run, () => runAlone(sizes, f.name)) });
          continue;
        }
        entries.push({
          name: f.name, go: async () => {
            const server = await (prepared.get(f.name) as PreparedServer).launch(scenario.modern ? { modern: true } : undefined);
            versions[f.name] = server.version;
            try {
              await measure(scenario, f.name, run, () => scenario.run(server, sizes));
            } finally {
              await server.stop();
            }
          },
        });
      }
      for (const extra of scenario.extras ?? []) entries.push({ name: extra.name, go: () => measure(scenario, extra.name, run, () => extra.run(sizes)) });
      for (const entry of run % 2 === 1 ? entries : entries.reverse()) await entry.go();
    }
  }
  if (scenarios.some((s) => s.runAlone)) versions.parley ??= "this checkout (its own server processes)";
  if (scenarios.some((s) => s.extras?.length) || (factories.includes(prosody) && scenarios.some((s) => s.aloneOn?.includes("prosody")))) {
    try {
      versions.prosody ??= ensureProsody();
    } catch (err) {
      versions.prosody ??= `unavailable: ${(err as Error).message}`;
    }
  }

  // The table: one row per metric, medians with min–max, and the ratio to Prosody.
  const lines: string[] = [];
  // Extra columns (the s2s scenario's Parley–Prosody pair) after the ratio; "—" for scenarios without them.
  const extras = [...new Set(scenarios.flatMap((s) => (s.extras ?? []).map((e) => e.name)))];
  const header = ["scenario", "metric", ...factories.map((f) => `${f.name} median (min–max)`), ...(factories.length > 1 ? ["parley / prosody"] : []),
    ...extras.map((e) => `${e} median (min–max)`)];
  lines.push(`| ${header.join(" | ")} |`, `|${header.map(() => "---").join("|")}|`);
  const table: Record<string, Record<string, Record<string, Summary>>> = {};
  for (const scenario of scenarios) {
    const metricNames = new Set<string>();
    for (const r of records) if (r.scenario === scenario.name) for (const k of Object.keys(r.metrics ?? {})) metricNames.add(k);
    for (const metric of metricNames) {
      const cells: string[] = [];
      const medians: number[] = [];
      for (const f of factories) {
        const vals = records.filter((r) => r.scenario === scenario.name && r.server === f.name && r.metrics).map((r) => (r.metrics as Metrics)[metric] as number);
        const s = summarize(vals);
        ((table[scenario.name] ??= {})[metric] ??= {})[f.name] = s;
        cells.push(`${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})`);
        medians.push(s.median);
      }
      const r = (medians[0] as number) / (medians[1] as number);
      const ratio = factories.length > 1 ? [Number.isFinite(r) ? `${r.toFixed(2)}×` : "—"] : [];
      const extraCells = extras.map((name) => {
        const vals = records.filter((r) => r.scenario === scenario.name && r.server === name && r.metrics).map((r) => (r.metrics as Metrics)[metric] as number);
        if (vals.length === 0) return "—";
        const s = summarize(vals);
        ((table[scenario.name] ??= {})[metric] ??= {})[name] = s;
        return `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})`;
      });
      lines.push(`| ${[scenario.name, metric, ...cells, ...ratio, ...extraCells].join(" | ")} |`);
    }
  }
  const failures = records.filter((r) => r.error);
  for (const f of failures) lines.push(`\n${f.scenario} ${f.server} run ${f.run} failed: ${f.error}`);
  const command = `npm run bench -- ${process.argv.slice(2).join(" ")}`.trim();
  process.stdout.write(`\n${command}\n${JSON.stringify(machine())}\n${JSON.stringify(versions)}\n\n${lines.join("\n")}\n`);

  const outDir = values.out ?? path.join(REPO, "bench", "results");
  mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, `${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
  writeFileSync(file, JSON.stringify({ command, date: new Date().toISOString(), machine: machine(), versions, sizes, setup, summary: table, runs: records }, null, 2) + "\n");
  process.stdout.write(`\nresults: ${path.relative(process.cwd(), file)}\n`);
  return failures.length === 0 ? 0 : 1;
}

main().then((code) => process.exit(code), (err: Error) => {
  process.stderr.write(`bench: ${err.message}\n`);
  process.exit(2);
});
