// The s2s scenario: two servers (a.bench and b.bench) federated over loopback
// (STARTTLS, dialback), pairs of users across them exchanging chat messages
// with a bounded window in flight, as the message scenario does on one
// server. Both servers' CPU is counted. The pair is Parley–Parley,
// Prosody–Prosody (the reference for `--vs prosody`) or Parley–Prosody
// (a.bench on Parley, b.bench on Prosody: what federating with the most
// common other server costs). Each server reaches the other through a static
// route (Parley's [s2s.routes], a small plugin on Prosody's side), not DNS.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { LoadClient } from "./load-client.js";
import { cpuSeconds, ensureProsody, freePort, prosodyAccountFile, stopChild, waitForPort } from "./servers.js";
import { PARLEY_BIN } from "../test/helpers/server-process.js";
import { prosodyHostDir, startFederatingProsody } from "../test/helpers/prosody-s2s.js";

const PASSWORD = "bench-password";
/** Prosody's accounts: SCRAM records with this many PBKDF2 iterations (logins are not what is measured). */
const PROSODY_ITERATIONS = 4096;

export type S2sPair = "parley-parley" | "prosody-prosody" | "parley-prosody";

interface Federated { name: string; c2sPort: number; pid: number; stop(): Promise<void> }

/** CPU seconds of each server so far; a server that died mid-run is named, not an ENOENT from /proc. */
function serversCpu(servers: readonly Federated[]): number[] {
  return servers.map((s) => {
    try {
      return cpuSeconds(s.pid);
    } catch {
      throw new Error(`${s.name} (pid ${s.pid}) exited during the run`);
    }
  });
}

/** The server processes alive now: killed if the bench exits without stopping them (an uncaught error). */
const alive = new Set<number>();
process.once("exit", () => {
  for (const pid of alive) {
    try { process.kill(pid, "SIGKILL"); } catch { /* already gone */ }
  }
});

function track(server: Federated): Federated {
  alive.add(server.pid);
  return { ...server, stop: () => server.stop().finally(() => alive.delete(server.pid)) };
}

async function startParley(domain: string, users: number, s2sPort: number, peer: string, peerS2sPort: number): Promise<Federated> {
  const dir = mkdtempSync(path.join(os.tmpdir(), `parley-bench-s2s-${domain}-`));
  try {
    const c2sPort = await freePort();
    const config = path.join(dir, "bench.toml");
    writeFileSync(config, [
      `domains = ["${domain}"]`,
      `data_dir = ${JSON.stringify(dir)}`,
      `log_level = "warn"`,
      `modules_enabled = ["blocking", "roster", "presence", "disco", "ping"]`,
      `[c2s]`, `port = ${c2sPort}`, `direct_tls_port = ${await freePort()}`,
      `[http]`, `port = ${await freePort()}`,
      `[limits]`, `connections_per_address = 1000000`, `stanzas_per_second = 1000000`, `stanza_burst = 1000000`, `idle_seconds = 3600`,
      `[s2s]`, `port = ${s2sPort}`, `bind = "127.0.0.1"`, `stanzas_per_second = 1000000`, `stanza_burst = 1000000`, `queue_limit = 100000`,
      `[s2s.routes]`, `"${peer}" = "127.0.0.1:${peerS2sPort}"`,
    ].join("\n") + "\n");
    const input = Array.from({ length: users }, (_, i) => `u${i}@${domain} ${PASSWORD}`).join("\n") + "\n";
    const add = spawnSync(process.execPath, [PARLEY_BIN, "adduser", "--batch", "--config", config], { input, encoding: "utf8" });
    if (add.status !== 0) throw new Error(`parley adduser --batch failed: ${add.stderr}`);
    // PARLEY_BENCH_PROFILE=DIR: a V8 CPU profile of each Parley process, as for the other scenarios.
    const profile = process.env.PARLEY_BENCH_PROFILE;
    const node = profile ? ["--cpu-prof", `--cpu-prof-dir=${path.resolve(profile)}`] : [];
    const child = spawn(process.execPath, [...node, PARLEY_BIN, "start", "--config", config], { stdio: ["ignore", "ignore", "pipe"] });
    let log = "";
    child.stderr?.setEncoding("utf8").on("data", (d: string) => { log = (log + d).slice(-4000); });
    const stop = () => stopChild(child).finally(() => rmSync(dir, { recursive: true, force: true }));
    try {
      await waitForPort(c2sPort, child, () => log);
    } catch (err) {
      await stop();
      throw new Error(`Parley for ${domain}: ${(err as Error).message}`);
    }
    return track({ name: `Parley for ${domain}`, c2sPort, pid: child.pid ?? 0, stop });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

async function startProsody(domain: string, users: number, s2sPort: number, peer: string, peerS2sPort: number): Promise<Federated> {
  const server = await startFederatingProsody({
    domain, s2sPort, routes: { [peer]: `127.0.0.1:${peerS2sPort}` },
    authentication: "internal_hashed", logLevel: "warn",
    // Accounts written as Prosody would store them: faster than prosodyctl once per user.
    setup: async (_config, dataDir) => {
      const accounts = path.join(prosodyHostDir(dataDir, domain), "accounts");
      mkdirSync(accounts, { recursive: true });
      await Promise.all(Array.from({ length: users }, async (_, i) =>
        writeFileSync(path.join(accounts, `u${i}.dat`), await prosodyAccountFile(PASSWORD, PROSODY_ITERATIONS))));
    },
  });
  return track({ name: `Prosody for ${domain}`, c2sPort: server.c2sPort, pid: server.pid, stop: () => server.stop() });
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runS2s(pair: S2sPair, pairs: number, window: number, seconds: number): Promise<Record<string, number>> {
  if (pair !== "parley-parley") ensureProsody();
  const [aKind, bKind] = pair.split("-") as ["parley" | "prosody", "parley" | "prosody"];
  const [aS2s, bS2s] = [await freePort(), await freePort()];
  const start = (kind: "parley" | "prosody", domain: string, s2sPort: number, peer: string, peerS2s: number) =>
    (kind === "parley" ? startParley : startProsody)(domain, pairs, s2sPort, peer, peerS2s);
  const servers: Federated[] = [];
  const clients: LoadClient[] = [];
  try {
    const a = await start(aKind, "a.bench", aS2s, "b.bench", bS2s);
    servers.push(a);
    const b = await start(bKind, "b.bench", bS2s, "a.bench", aS2s);
    servers.push(b);
    const login = async (port: number, domain: string, i: number) => {
      const c = await LoadClient.connect(port, domain);
      clients.push(c);
      await c.login(`u${i}`, PASSWORD, "bench");
      return c;
    };
    // clients[2i] on a.bench, clients[2i + 1] its peer on b.bench.
    const pairsOf: LoadClient[] = [];
    for (let i = 0; i < pairs; i++) pairsOf.push(await login(a.c2sPort, "a.bench", i), await login(b.c2sPort, "b.bench", i));
    // One round trip each way first: the streams between the servers (one per
    // direction, RFC 6120 §8.1) are open and authenticated before the clock starts.
    for (const [from, to] of [[0, 1], [1, 0]] as const) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no federated message from ${pairsOf[from]?.jid} to ${pairsOf[to]?.jid} within 15 s`)), 15_000);
        (pairsOf[to] as LoadClient).onStanza = (_s, name) => { if (name === "message") { clearTimeout(timer); resolve(); } };
        (pairsOf[from] as LoadClient).send(`<message to='${(pairsOf[to] as LoadClient).jid}' type='chat'><body>0</body></message>`);
      });
    }
    const phase = { running: true, measuring: false };
    let sent = 0;
    let received = 0;
    let delivered = 0;
    const latencies: number[] = [];
    const sendFrom = (i: number) => {
      const peer = pairsOf[i ^ 1] as LoadClient;
      (pairsOf[i] as LoadClient).send(`<message to='${peer.jid}' type='chat'><body>${performance.now().toFixed(3)}</body></message>`);
      sent++;
    };
    pairsOf.forEach((c, i) => {
      c.onStanza = (stanza, name) => {
        if (name !== "message") return;
        received++;
        if (phase.measuring) {
          delivered++;
          const at = stanza.indexOf("<body>");
          latencies.push(performance.now() - parseFloat(stanza.slice(at + 6, stanza.indexOf("<", at + 6))));
        }
        if (phase.running) sendFrom(i ^ 1);
      };
    });
    for (let i = 0; i < pairsOf.length; i++) for (let w = 0; w < window; w++) sendFrom(i);
    await sleep(1000);
    phase.measuring = true;
    const cpu0 = serversCpu(servers);
    const generator0 = process.cpuUsage();
    const t0 = performance.now();
    await sleep(seconds * 1000);
    const wall = (performance.now() - t0) / 1000;
    const [aCpu, bCpu] = serversCpu(servers).map((c, i) => c - (cpu0[i] as number)) as [number, number];
    const cpu = aCpu + bCpu;
    const generator = process.cpuUsage(generator0);
    phase.measuring = false;
    phase.running = false;
    const deadline = Date.now() + 10_000;
    while (received < sent && Date.now() < deadline) await sleep(20);
    const sorted = Float64Array.from(latencies).sort();
    return {
      messages_per_s: delivered / wall,
      servers_cpu_s_per_10k: (cpu / delivered) * 10_000,
      latency_p50_ms: percentile(sorted, 50),
      latency_p99_ms: percentile(sorted, 99),
      // Which side limits: a.bench is Parley in the mixed pair, b.bench Prosody.
      a_server_cores: aCpu / wall,
      b_server_cores: bCpu / wall,
      // The load generator's own CPU: near 1 core, it and not the servers would be the limit.
      generator_cores: (generator.user + generator.system) / 1e6 / wall,
      lost: sent - received,
    };
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => c.destroy())));
    // b first: a's outgoing stream to it closes before a goes.
    for (const s of servers.reverse()) await s.stop().catch((err: Error) => process.stderr.write(`s2s: stopping a server: ${err.message}\n`));
  }
}
