// `npm run interop`: Smack's XMPP integration test framework (the suite the
// XSF's XMPP Interop Testing project builds on) against a fresh Parley.
//
//   1. resolves the framework from Maven Central through interop/pom.xml
//      (`mvn dependency:build-classpath`, cached in interop/target/);
//   2. starts `parley start` on a fresh data directory, with in-band
//      registration allowed and its flood limits raised, listening on port
//      5222 of a loopback address of its own (127.x.y.z: the framework has no
//      port setting, and 127.0.0.1:5222 may be taken);
//   3. runs interop/SintRunner.java (the framework, a per-test time limit, a
//      JSON record of every outcome) over STARTTLS with the server's
//      generated certificate as the only trusted one, accounts by XEP-0077;
//   4. compares the outcomes with interop/expected-failures.json and prints
//      counts per specification, ending with `N passed, N failed, N skipped`
//      (failed = unexpected outcomes; skipped = listed expected failures and
//      tests the framework found not possible on this server, also listed).
//
// Environment: PARLEY_INTEROP_TESTS=ClassOrClass.method,... runs only those
// (the check for stale list entries is then off); PARLEY_INTEROP_TEST_TIMEOUT
// (seconds per test, default 60); PARLEY_INTEROP_TIMEOUT (seconds for the
// whole framework run, default 600); PARLEY_INTEROP_REPLY_TIMEOUT (ms the
// framework waits for a reply, default 5000); PARLEY_INTEROP_EXTRA_JARS=A.jar:B.jar
// adds test jars built for the same Smack version to the class path (such as
// the XSF's smack-sint-server-extensions, which Maven Central does not carry;
// their tests then show up as unexpected until listed); PARLEY_INTEROP_DEBUG=1 logs every
// stanza the framework's connections send and receive into the framework log.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { firstLine, judge, simple, type Expected, type RunResult, type Verdict } from "./ratchet.js";

const ROOT = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, "package.json"))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error("cannot find the repository root (package.json) above the interop runner");
    dir = up;
  }
  return dir;
})();
const INTEROP = path.join(ROOT, "interop");
const TARGET = path.join(INTEROP, "target");
const POM = path.join(INTEROP, "pom.xml");
const RUNNER = path.join(INTEROP, "SintRunner.java");
// PARLEY_INTEROP_EXPECTED=FILE: another list, to try the ratchet itself.
const EXPECTED = process.env.PARLEY_INTEROP_EXPECTED ? path.resolve(process.env.PARLEY_INTEROP_EXPECTED) : path.join(INTEROP, "expected-failures.json");
const PARLEY_BIN = path.join(ROOT, "bin", "parley.js");

/** Attempts a test listed as flaky gets in all: it fails the run only if every one fails. */
const FLAKY_ATTEMPTS = 6;

const envInt = (name: string, fallback: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, not '${raw}'`);
  return n;
};

function tail(text: string, lines = 40): string {
  return text.split("\n").slice(-lines).join("\n");
}

/** The framework's class path, from Maven Central (once; reused while the pom is unchanged). */
function classPath(): string {
  const file = path.join(TARGET, "classpath.txt");
  if (existsSync(file) && statSync(file).mtimeMs >= statSync(POM).mtimeMs) {
    const cp = readFileSync(file, "utf8").trim();
    if (cp !== "" && cp.split(path.delimiter).every((jar) => existsSync(jar))) return cp;
  }
  mkdirSync(TARGET, { recursive: true });
  process.stdout.write("interop: resolving Smack's integration test framework from Maven Central (mvn dependency:build-classpath)…\n");
  const mvn = spawnSync("mvn", ["-B", "-q", "-Dstyle.color=never", "-f", POM, "dependency:build-classpath", `-Dmdep.outputFile=${file}`], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (mvn.error) throw new Error(`cannot run Maven ('mvn'): ${mvn.error.message}; install it (Debian: apt-get install maven)`);
  if (mvn.status !== 0 || !existsSync(file)) {
    throw new Error(`Maven could not resolve the dependencies of interop/pom.xml (exit ${mvn.status}):\n${tail(mvn.stdout + mvn.stderr)}`);
  }
  const now = new Date();
  utimesSync(file, now, now); // Maven leaves an unchanged file as it was: mark it as made from this pom

  return readFileSync(file, "utf8").trim();
}

function checkJava(): void {
  const v = spawnSync("java", ["-version"], { encoding: "utf8" });
  if (v.error) throw new Error(`cannot run 'java': ${v.error.message}; a JDK 11 or later is needed (Debian: apt-get install default-jdk-headless)`);
  const m = /version "(\d+)/.exec(v.stderr);
  if (!m || Number(m[1]) < 11) throw new Error(`Java 11 or later is needed to run interop/SintRunner.java; 'java -version' says: ${v.stderr.trim()}`);
}

function canListen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once("error", () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}

/** A loopback address of our own on which port 5222 is free. */
async function pickAddress(): Promise<string> {
  for (let i = 0; i < 30; i++) {
    const host = `127.${100 + Math.floor(Math.random() * 150)}.${Math.floor(Math.random() * 256)}.${1 + Math.floor(Math.random() * 250)}`;
    if (await canListen(host, 5222)) return host;
  }
  throw new Error("found no loopback address 127.x.y.z with port 5222 free in 30 tries");
}

interface Server {
  child: ChildProcess;
  log(): string;
  exited: Promise<number | null>;
  stop(): Promise<number | null>;
}

async function startParley(dir: string, host: string, logFile: string): Promise<Server> {
  const config = path.join(dir, "parley.toml");
  writeFileSync(config, [
    `domains = ["localhost"]`,
    `data_dir = ${JSON.stringify(path.join(dir, "data"))}`,
    `log_level = "info"`,
    `[c2s]`, `bind = "${host}"`, `port = 5222`, `direct_tls_port = 0`,
    `[http]`, `port = 0`,
    `[s2s]`, `port = 0`,
    // The framework registers three accounts per run and more for every low-level test, all from one address.
    `[registration]`, `allowed = true`, `per_address_per_hour = 100000`,
    `[limits]`, `connections_per_address = 10000`,
    // PubSubIntegrationTest creates nodes at pubsub.localhost as an ordinary account.
    `[pubsub]`, `creators = "local"`,
  ].join("\n") + "\n");
  const child = spawn(process.execPath, [PARLEY_BIN, "start", "--config", config], { stdio: ["ignore", "ignore", "pipe"] });
  const out = createWriteStream(logFile);
  let log = "";
  child.stderr?.setEncoding("utf8").on("data", (d: string) => { out.write(d); log = (log + d).slice(-20000); });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code, signal) => { out.end(); resolve(code ?? (signal ? 128 : null)); }));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Parley did not report "Parley started" within 30 s; its log:\n${tail(log)}`)), 30_000);
    const onData = () => {
      if (log.includes(`"c2s":"${host}:5222"`) && log.includes(`"msg":"Parley started"`)) {
        clearTimeout(timer);
        child.stderr?.off("data", onData);
        resolve();
      }
    };
    child.stderr?.on("data", onData);
    void exited.then((code) => { clearTimeout(timer); reject(new Error(`Parley exited (${code}) before it started; its log:\n${tail(log)}`)); });
  });
  return {
    child,
    log: () => log,
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      const kill = setTimeout(() => child.kill("SIGKILL"), 15_000);
      child.kill("SIGTERM");
      const code = await exited;
      clearTimeout(kill);
      return code;
    },
  };
}

/** A PKCS#12 trust store holding only the server's generated certificate. */
function trustStore(dir: string): { file: string; password: string } {
  const cert = path.join(dir, "data", "tls", "localhost.crt");
  if (!existsSync(cert)) throw new Error(`Parley made no certificate at ${cert}`);
  new X509Certificate(readFileSync(cert)); // a readable certificate, or a clear error here
  const file = path.join(dir, "trust.p12");
  const password = "parley-interop";
  const kt = spawnSync("keytool", ["-importcert", "-noprompt", "-alias", "parley", "-file", cert, "-keystore", file, "-storetype", "PKCS12", "-storepass", password], { encoding: "utf8" });
  if (kt.error || kt.status !== 0) throw new Error(`keytool could not make a trust store from ${cert}: ${kt.error?.message ?? kt.stderr + kt.stdout}`);
  return { file, password };
}

function runFramework(cp: string, host: string, trust: { file: string; password: string }, expected: Expected, out: string, logFile: string, only = process.env.PARLEY_INTEROP_TESTS): Promise<boolean> {
  const testTimeout = envInt("PARLEY_INTEROP_TEST_TIMEOUT", 60);
  const runTimeout = envInt("PARLEY_INTEROP_TIMEOUT", 600);
  const replyTimeout = envInt("PARLEY_INTEROP_REPLY_TIMEOUT", 5000);
  const props: Record<string, string> = {
    "javax.net.ssl.trustStore": trust.file,
    "javax.net.ssl.trustStorePassword": trust.password,
    "javax.net.ssl.trustStoreType": "PKCS12",
    "sinttest.service": "localhost",
    "sinttest.host": host,
    // STARTTLS, verified against the trust store: the framework refuses XEP-0077 over an unencrypted stream.
    "sinttest.securityMode": "required",
    "sinttest.accountRegistration": "inBandRegistration",
    "sinttest.replyTimeout": String(replyTimeout),
    // The low-level tests would otherwise run once per connection kind; Parley's WebSocket is not on 5222.
    "sinttest.enabledConnections": "tcp",
    "sinttest.dnsResolver": "javax",
    "parley.testTimeoutSeconds": String(testTimeout),
  };
  // Every stanza of every connection into framework.log, to see why a test fails.
  if (process.env.PARLEY_INTEROP_DEBUG === "1") props["sinttest.debugger"] = "console";
  if (only) props["sinttest.enabledTests"] = only;
  const disabled = Object.keys(expected.disabled);
  // Not sinttest.disabledTests: in Smack 4.5.0-beta5 a Class.method there disables the whole class (see SintRunner.java).
  if (disabled.length > 0) props["parley.disabled"] = disabled.join(",");
  const args = [...Object.entries(props).map(([k, v]) => `-D${k}=${v}`), "-cp", cp, RUNNER, out];
  const child = spawn("java", args, { stdio: ["ignore", "pipe", "pipe"] });
  const log = createWriteStream(logFile);
  let recent = "";
  const keep = (d: Buffer) => { log.write(d); recent = (recent + d.toString("utf8")).slice(-20000); };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the framework ran past PARLEY_INTEROP_TIMEOUT (${runTimeout} s) and was killed; see ${logFile}`));
    }, runTimeout * 1000);
    child.once("error", (err) => { clearTimeout(timer); reject(new Error(`cannot start java: ${err.message}`)); });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      log.end();
      // 3: SintRunner stopped at a test that passed the per-test limit, after writing the results so far.
      if ((code === 0 || code === 3) && existsSync(out)) resolve(code === 3);
      else reject(new Error(`the framework exited (${code ?? signal}) without results; the end of ${logFile}:\n${tail(recent)}`));
    });
  });
}

/**
 * The whole framework run; when SintRunner stops at a test that passed the per-test limit,
 * the run goes on in a new JVM without the tests that already have a result.
 */
async function runResumed(cp: string, host: string, trust: { file: string; password: string }, expected: Expected, resultsFile: string, frameworkLog: string, last: string): Promise<void> {
  const done: Record<string, string> = {};
  let merged: RunResult | undefined;
  for (let part = 1; ; part++) {
    const file = part === 1 ? resultsFile : path.join(last, `results-part-${part}.json`);
    const log = part === 1 ? frameworkLog : path.join(last, `framework-part-${part}.log`);
    const stopped = await runFramework(cp, host, trust, { ...expected, disabled: { ...expected.disabled, ...done } }, file, log);
    const r = JSON.parse(readFileSync(file, "utf8")) as RunResult;
    if (!merged) merged = r;
    else {
      merged.tests.push(...r.tests);
      merged.impossibleClasses.push(...r.impossibleClasses);
      merged.durationMs += r.durationMs;
      merged.availableTests += r.availableTests;
    }
    if (!stopped) break;
    console.log(`interop: ${r.stoppedAt} passed the per-test limit; resuming the run without the ${r.tests.length} tests that have a result (part ${part + 1})`);
    for (const t of r.tests) done[`${simple(t.class)}.${t.method}`] = "has a result already";
    for (const c of r.impossibleClasses) done[simple(c.class)] = "has a result already";
    if (part >= 20) throw new Error(`the run was stopped at the per-test limit 20 times; see ${last}`);
  }
  merged.stoppedAt = null;
  writeFileSync(resultsFile, JSON.stringify(merged, null, 1));
}

function loadExpected(): Expected {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(EXPECTED, "utf8"));
  } catch (err) {
    throw new Error(`cannot read ${path.relative(ROOT, EXPECTED)}: ${(err as Error).message}`);
  }
  const obj = raw as Partial<Expected>;
  const section = (name: keyof Expected): Record<string, string> => {
    const s = obj[name] ?? {};
    for (const [k, v] of Object.entries(s)) {
      if (typeof v !== "string" || v.trim() === "") throw new Error(`${path.relative(ROOT, EXPECTED)}: "${name}" → "${k}" needs its reason`);
    }
    return s;
  };
  const expected = { failures: section("failures"), notPossible: section("notPossible"), disabled: section("disabled"), flaky: section("flaky") };
  for (const key of Object.keys(expected.flaky)) {
    if (expected.failures[key] || expected.notPossible[key] || expected.disabled[key]) throw new Error(`${path.relative(ROOT, EXPECTED)}: "${key}" is flaky and listed elsewhere too`);
  }
  return expected;
}

function report(result: RunResult, verdicts: Verdict[], expected: Expected): { passed: number; failed: number; skipped: number } {
  const bySpec = new Map<string, { passed: number; xfail: number; np: number; unexpected: number }>();
  for (const v of verdicts) {
    const row = bySpec.get(v.spec) ?? { passed: 0, xfail: 0, np: 0, unexpected: 0 };
    if (v.status === "passed") row.passed++;
    else if (v.status === "expected-failure") row.xfail++;
    else if (v.status === "expected-not-possible") row.np++;
    else row.unexpected++;
    bySpec.set(v.spec, row);
  }
  const specs = [...bySpec.keys()].sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
  const pad = (s: string | number, n: number) => String(s).padStart(n);
  console.log(`\nSmack ${result.smackVersion} integration tests against Parley: ${result.tests.length} tests ran, ${result.impossibleClasses.length} classes not possible, in ${(result.durationMs / 1000).toFixed(0)} s`);
  console.log(`${"specification".padEnd(16)} ${pad("passed", 7)} ${pad("failed", 7)} ${pad("expected", 9)} ${pad("not", 9)}`);
  console.log(`${"".padEnd(16)} ${pad("", 7)} ${pad("(new)", 7)} ${pad("to fail", 9)} ${pad("possible", 9)}`);
  for (const s of specs) {
    const r = bySpec.get(s)!;
    console.log(`${s.padEnd(16)} ${pad(r.passed, 7)} ${pad(r.unexpected, 7)} ${pad(r.xfail, 9)} ${pad(r.np, 9)}`);
  }
  for (const v of verdicts) if (v.status === "passed" && v.message) console.log(`  (${v.key}: ${v.message})`);
  const unexpected = verdicts.filter((v) => v.status === "unexpected");
  if (unexpected.length > 0) {
    console.log(`\nUnexpected outcomes (${unexpected.length}):`);
    for (const v of unexpected) console.log(`  ✘ ${v.key} [${v.spec}]: ${v.message ?? ""}`);
  }
  const passed = verdicts.filter((v) => v.status === "passed").length;
  const xfail = verdicts.filter((v) => v.status === "expected-failure").length;
  const np = verdicts.filter((v) => v.status === "expected-not-possible").length;
  const disabled = Object.keys(expected.disabled);
  if (disabled.length > 0) {
    console.log(`\nNot run (interop/expected-failures.json, "disabled"):`);
    for (const d of disabled) console.log(`  - ${d}: ${firstLine(expected.disabled[d]).slice(0, 160)}…`);
  }
  console.log(`\ninterop: skipped ${xfail} listed expected failures, ${np} listed not-possible tests or classes and ${disabled.length} disabled tests (interop/expected-failures.json)`);
  return { passed, failed: unexpected.length, skipped: xfail + np + disabled.length };
}

async function main(): Promise<number> {
  const expected = loadExpected();
  checkJava();
  const extra = (process.env.PARLEY_INTEROP_EXTRA_JARS ?? "").split(path.delimiter).filter((j) => j !== "");
  for (const jar of extra) if (!existsSync(jar)) throw new Error(`PARLEY_INTEROP_EXTRA_JARS names ${jar}, which does not exist`);
  const cp = [classPath(), ...extra.map((j) => path.resolve(j))].join(path.delimiter);
  const last = path.join(TARGET, "last-run");
  rmSync(last, { recursive: true, force: true });
  mkdirSync(last, { recursive: true });
  const dir = mkdtempSync(path.join(os.tmpdir(), "parley-interop-"));
  const host = await pickAddress();
  const serverLog = path.join(last, "server.log");
  const frameworkLog = path.join(last, "framework.log");
  const resultsFile = path.join(last, "results.json");
  console.log(`interop: Parley on ${host}:5222 (data in ${dir}); logs in ${path.relative(ROOT, last)}/`);
  const server = await startParley(dir, host, serverLog);
  let stopping = false;
  let died: number | null | undefined; // the exit code, if the server ended before we stopped it
  void server.exited.then((code) => { if (!stopping) died = code; });
  try {
    const trust = trustStore(dir);
    await runResumed(cp, host, trust, expected, resultsFile, frameworkLog, last);
    // A flaky test (listed with its race) that failed runs again, up to FLAKY_ATTEMPTS in all.
    const first = JSON.parse(readFileSync(resultsFile, "utf8")) as RunResult;
    for (let attempt = 2; attempt <= FLAKY_ATTEMPTS; attempt++) {
      const again = first.tests.filter((t) => t.outcome === "failed" && expected.flaky[`${simple(t.class)}.${t.method}`]);
      if (again.length === 0) break;
      const names = again.map((t) => `${simple(t.class)}.${t.method}`);
      console.log(`interop: attempt ${attempt} of ${FLAKY_ATTEMPTS} for the flaky ${names.join(", ")}`);
      const retryFile = path.join(last, `results-attempt-${attempt}.json`);
      await runFramework(cp, host, trust, { ...expected, disabled: {} }, retryFile, path.join(last, `framework-attempt-${attempt}.log`), again.map((t) => `${t.class}.${t.method}`).join(","));
      const retry = JSON.parse(readFileSync(retryFile, "utf8")) as RunResult;
      for (const r of retry.tests) {
        const i = first.tests.findIndex((t) => t.class === r.class && t.method === r.method);
        if (i >= 0 && r.outcome === "passed") first.tests[i] = { ...r, attempts: attempt };
        else if (i >= 0) first.tests[i] = { ...first.tests[i]!, attempts: attempt };
      }
    }
    writeFileSync(resultsFile, JSON.stringify(first, null, 1));
  } finally {
    stopping = true;
    await server.stop();
    if (died !== undefined) console.log(`interop: Parley died during the run (exit ${died}); see ${serverLog}`);
  }
  const result = JSON.parse(readFileSync(resultsFile, "utf8")) as RunResult;
  if (result.tests.length === 0) throw new Error(`the framework ran no test (available: ${result.availableTests}); see ${frameworkLog}`);
  const verdicts = judge(result, expected, Boolean(process.env.PARLEY_INTEROP_TESTS));
  const counts = report(result, verdicts, expected);
  if (died !== undefined) counts.failed++;
  rmSync(dir, { recursive: true, force: true });
  console.log(`${counts.passed} passed, ${counts.failed} failed${counts.skipped > 0 ? `, ${counts.skipped} skipped` : ""}`);
  return counts.failed === 0 ? 0 : 1;
}

main().then((code) => process.exit(code), (err: unknown) => {
  console.error(`interop: ${err instanceof Error ? err.message : String(err)}`);
  console.log("0 passed, 1 failed");
  process.exit(1);
});
