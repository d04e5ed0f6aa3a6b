// `npm run soak [-- --sessions N --seconds S --rate R]`: holds N authenticated
// sessions on one Parley process with steady message traffic between pairs,
// samples the server's resident memory, and fails on any stream error, lost
// message, dropped session or memory that keeps growing. Not part of
// `npm test`; its latest result is in docs/reliability.md.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { LoadClient } from "./load-client.js";
import { parley, residentBytes, cpuSeconds } from "./servers.js";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const PASSWORD = "soak-password";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mib = (b: number) => Math.round((b / 2 ** 20) * 10) / 10;

function positiveInt(raw: string | undefined, fallback: number, flag: string): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a positive whole number, not '${raw}'`);
  return n;
}

async function main(): Promise<number> {
  const { values } = parseArgs({ args: process.argv.slice(2), options: { sessions: { type: "string" }, seconds: { type: "string" }, rate: { type: "string" } } });
  const sessions = positiveInt(values.sessions, 5000, "--sessions") & ~1; // pairs
  const seconds = positiveInt(values.seconds, 120, "--seconds");
  const rate = positiveInt(values.rate, 2000, "--rate"); // messages a second, across all pairs

  const accounts = Array.from({ length: sessions }, (_, i) => ({ user: `s${i}`, password: PASSWORD, iterations: 4096 }));
  process.stderr.write(`creating ${sessions} accounts…\n`);
  const prepared = await parley.prepare(accounts);
  const server = await prepared.launch();
  const rssStart = residentBytes(server.pid);
  const problems: string[] = [];
  try {
    process.stderr.write(`logging in ${sessions} sessions…\n`);
    const t0 = performance.now();
    const clients: LoadClient[] = new Array(sessions);
    let next = 0;
    await Promise.all(Array.from({ length: 100 }, async () => {
      while (next < sessions) {
        const i = next++;
        const c = await LoadClient.connect(server.port, server.domain);
        await c.login(`s${i}`, PASSWORD, "soak");
        clients[i] = c;
      }
    }));
    const loginSeconds = (performance.now() - t0) / 1000;
    const rssLoggedIn = residentBytes(server.pid);
    process.stderr.write(`${sessions} sessions in ${loginSeconds.toFixed(1)} s; server RSS ${mib(rssLoggedIn)} MiB\n`);

    let sent = 0;
    let received = 0;
    let streamErrors = 0;
    let stanzaErrors = 0;
    clients.forEach((c) => {
      c.onStanza = (stanza, name) => {
        if (name === "message") {
          if (/type=['"]error['"]/.test(stanza)) stanzaErrors++;
          else received++;
        } else if (name === "stream:error") {
          streamErrors++;
          if (problems.length < 20) problems.push(`stream error: ${stanza.slice(0, 200)}`);
        }
      };
    });
    const samples: { t: number; rssMiB: number; sent: number; received: number }[] = [];
    const cpu0 = cpuSeconds(server.pid);
    const start = performance.now();
    const perTick = Math.max(1, Math.round(rate / 20));
    let turn = 0;
    const traffic = setInterval(() => {
      for (let k = 0; k < perTick; k++) {
        const i = turn++ % sessions;
        const peer = clients[i ^ 1] as LoadClient;
        (clients[i] as LoadClient).send(`<message to='${peer.jid}' type='chat'><body>soak ${sent}</body></message>`);
        sent++;
      }
    }, 50);
    while (performance.now() - start < seconds * 1000) {
      await sleep(5000);
      const t = (performance.now() - start) / 1000;
      samples.push({ t: Math.round(t), rssMiB: mib(residentBytes(server.pid)), sent, received });
      process.stderr.write(`${Math.round(t)} s: RSS ${mib(residentBytes(server.pid))} MiB, ${sent} sent, ${received} received\n`);
    }
    clearInterval(traffic);
    const elapsed = (performance.now() - start) / 1000;
    const serverCores = (cpuSeconds(server.pid) - cpu0) / elapsed;
    const deadline = Date.now() + 15_000;
    while (received + stanzaErrors < sent && Date.now() < deadline) await sleep(100);

    // Every session must still be there and answering.
    const dropped = clients.filter((c) => c.closed).length;
    const pings = await Promise.allSettled(clients.filter((_, i) => i % 50 === 0).map((c, k) => c.ping(`soak${k}`)));
    const unanswered = pings.filter((p) => p.status === "rejected").length;
    const rssEnd = residentBytes(server.pid);
    // Bounded: V8 lets garbage pile up between major collections, so the peaks
    // say little; what must not climb is the floor the heap returns to. The
    // lowest sample of the last third may exceed that of the first third by 25 %.
    const third = seconds / 3;
    const floor = (from: number, to: number) => Math.min(...samples.filter((s) => s.t > from && s.t <= to).map((s) => s.rssMiB));
    const firstFloor = floor(0, third);
    const lastFloor = floor(seconds - third, Infinity);
    const peak = Math.max(...samples.map((s) => s.rssMiB));
    const growing = lastFloor > firstFloor * 1.25;

    if (sent !== received) problems.push(`${sent - received} of ${sent} messages not delivered (${stanzaErrors} bounced)`);
    if (streamErrors > 0) problems.push(`${streamErrors} stream errors`);
    if (dropped > 0) problems.push(`${dropped} sessions dropped`);
    if (unanswered > 0) problems.push(`${unanswered} of ${pings.length} pings unanswered`);
    if (growing) problems.push(`memory kept growing: its floor rose from ${firstFloor} MiB (first third) to ${lastFloor} MiB (last third)`);

    const result = {
      command: `npm run soak -- ${process.argv.slice(2).join(" ")}`.trim(),
      date: new Date().toISOString(),
      version: server.version,
      sessions, seconds: Math.round(elapsed), rate,
      login_seconds: Math.round(loginSeconds * 10) / 10,
      messages_sent: sent, messages_received: received, stanza_errors: stanzaErrors, stream_errors: streamErrors,
      sessions_dropped: dropped, pings_unanswered: unanswered,
      server_cores: Math.round(serverCores * 100) / 100,
      rss_mib: { before_login: mib(rssStart), after_login: mib(rssLoggedIn), floor_first_third: firstFloor, floor_last_third: lastFloor, peak, end: mib(rssEnd) },
      samples,
      problems,
      ok: problems.length === 0,
    };
    const outDir = path.join(REPO, "bench", "results");
    mkdirSync(outDir, { recursive: true });
    const file = path.join(outDir, `soak-${result.date.replace(/[:.]/g, "-")}.json`);
    writeFileSync(file, JSON.stringify(result, null, 2) + "\n");
    process.stdout.write(`${JSON.stringify({ ...result, samples: undefined }, null, 2)}\nresults: ${path.relative(process.cwd(), file)}\n`);
    for (const c of clients) c.destroy();
  } finally {
    await server.stop();
  }
  if (problems.length > 0) {
    process.stderr.write(`soak FAILED:\n  ${problems.join("\n  ")}\n`);
    return 1;
  }
  process.stderr.write("soak passed\n");
  return 0;
}

main().then((code) => process.exit(code), (err: Error) => {
  process.stderr.write(`soak: ${err.message}\n`);
  process.exit(2);
});
