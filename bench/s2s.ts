// The s2s scenario: two Parley processes (a.bench and b.bench) federated over
// loopback through [s2s.routes] (STARTTLS, dialback), pairs of users across them
// exchanging chat messages with a bounded window in flight, as the message
// scenario does on one server. Both servers' CPU is counted.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { LoadClient } from "./load-client.js";
import { cpuSeconds, freePort } from "./servers.js";
import { PARLEY_BIN } from "../test/helpers/server-process.js";

const PASSWORD = "bench-password";

interface Federated { c2sPort: number; pid: number; stop(): Promise<void> }

async function waitForPort(port: number, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, "127.0.0.1");
      s.once("connect", () => { s.destroy(); resolve(true); });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function startFederated(domain: string, users: number, s2sPort: number, peer: string, peerS2sPort: number): Promise<Federated> {
  const dir = mkdtempSync(path.join(os.tmpdir(), `parley-bench-s2s-${domain}-`));
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
  const child = spawn(process.execPath, [PARLEY_BIN, "start", "--config", config], { stdio: ["ignore", "ignore", "inherit"] });
  await waitForPort(c2sPort);
  return {
    c2sPort, pid: child.pid ?? 0,
    stop: () => new Promise<void>((resolve) => {
      const done = () => { rmSync(dir, { recursive: true, force: true }); resolve(); };
      if (child.exitCode !== null) return done();
      child.once("exit", done);
      child.kill("SIGTERM");
    }),
  };
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runS2s(pairs: number, window: number, seconds: number): Promise<Record<string, number>> {
  const [aS2s, bS2s] = [await freePort(), await freePort()];
  const a = await startFederated("a.bench", pairs, aS2s, "b.bench", bS2s);
  const b = await startFederated("b.bench", pairs, bS2s, "a.bench", aS2s);
  try {
    const login = async (port: number, domain: string, i: number) => {
      const c = await LoadClient.connect(port, domain);
      await c.login(`u${i}`, PASSWORD, "bench");
      return c;
    };
    const clients: LoadClient[] = [];
    for (let i = 0; i < pairs; i++) clients.push(await login(a.c2sPort, "a.bench", i), await login(b.c2sPort, "b.bench", i));
    // One round trip first: the streams between the servers are open before the clock starts.
    await new Promise<void>((resolve, reject) => {
      (clients[1] as LoadClient).onStanza = (_s, name) => { if (name === "message") resolve(); };
      (clients[0] as LoadClient).send(`<message to='${(clients[1] as LoadClient).jid}' type='chat'><body>0</body></message>`);
      setTimeout(() => reject(new Error("no federated message within 15 s")), 15_000).unref();
    });
    const phase = { running: true, measuring: false };
    let sent = 0;
    let received = 0;
    let delivered = 0;
    const latencies: number[] = [];
    const sendFrom = (i: number) => {
      const peer = clients[i ^ 1] as LoadClient;
      (clients[i] as LoadClient).send(`<message to='${peer.jid}' type='chat'><body>${performance.now().toFixed(3)}</body></message>`);
      sent++;
    };
    clients.forEach((c, i) => {
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
    for (let i = 0; i < clients.length; i++) for (let w = 0; w < window; w++) sendFrom(i);
    await sleep(1000);
    phase.measuring = true;
    const cpu0 = cpuSeconds(a.pid) + cpuSeconds(b.pid);
    const t0 = performance.now();
    await sleep(seconds * 1000);
    const wall = (performance.now() - t0) / 1000;
    const cpu = cpuSeconds(a.pid) + cpuSeconds(b.pid) - cpu0;
    phase.measuring = false;
    phase.running = false;
    const deadline = Date.now() + 10_000;
    while (received < sent && Date.now() < deadline) await sleep(20);
    const sorted = Float64Array.from(latencies).sort();
    await Promise.all(clients.map((c) => c.close()));
    return {
      messages_per_s: delivered / wall,
      servers_cpu_s_per_10k: (cpu / delivered) * 10_000,
      latency_p50_ms: percentile(sorted, 50),
      latency_p99_ms: percentile(sorted, 99),
      lost: sent - received,
    };
  } finally {
    await a.stop();
    await b.stop();
  }
}
