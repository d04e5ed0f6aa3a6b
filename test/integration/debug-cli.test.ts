// The debugging commands on the log of a scripted session: events, replay
// (--until, --diff, --explain), verify, rebuild, export/import, --follow;
// and on a long imported account, where they go through snapshots and indexes.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { RawClient } from "../helpers/raw-client.js";
import { startTestServer } from "../helpers/test-server.js";
import { PARLEY_BIN } from "../helpers/server-process.js";
import type { StoredEvent } from "../../src/events/types.js";
import { replayTo, diffStates, explainContact } from "../../src/replay/replay.js";
import { describeRoster, describeCause, summarizeEvent } from "../../src/replay/describe.js";

function parley(args: string[], input?: string) {
  return spawnSync(process.execPath, [PARLEY_BIN, ...args], { input, encoding: "utf8", timeout: 30_000 });
}

let dataDir = "";

test.before(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), "parley-debug-"));
  const ts = await startTestServer({
    dataDir,
    accounts: [{ jid: "romeo@localhost", password: "r" }, { jid: "juliet@localhost", password: "j" }],
  });
  const romeo = await RawClient.connect(ts.port);
  await romeo.login("romeo", "r", "laptop");
  const juliet = await RawClient.connect(ts.port);
  await juliet.login("juliet", "j", "balcony");
  romeo.write("<presence/>");
  juliet.write("<presence/>");
  await romeo.sync("s1");
  await juliet.sync("s2");
  romeo.write("<presence type='subscribe' to='juliet@localhost'/>");
  await romeo.sync("s3");
  juliet.write("<presence type='subscribed' to='romeo@localhost'/>");
  await juliet.sync("s4");
  juliet.write("<presence type='subscribe' to='romeo@localhost'/>");
  await juliet.sync("s5");
  romeo.write("<presence type='subscribed' to='juliet@localhost'/>");
  await romeo.sync("s6");
  juliet.write("<presence type='unsubscribed' to='romeo@localhost'/>");
  await juliet.sync("s7");
  romeo.write("<iq type='set' id='b'><block xmlns='urn:xmpp:blocking'><item jid='tybalt@localhost'/></block></iq>");
  await romeo.sync("s8");
  romeo.destroy();
  juliet.destroy();
  await ts.stop();
});

test.after(() => {
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(dataDir + "-imported", { recursive: true, force: true });
});

test("events lists every event with who caused it; filters by account and type; JSON lines", () => {
  const all = parley(["events", "--data", dataDir]);
  assert.is(all.status, 0, all.stderr);
  assert.match(all.stdout, /#1 .* romeo@localhost  AccountRegistered/);
  assert.match(all.stdout, /SubscriptionRequestReceived  romeo@localhost asked to see our presence \(pending in\)\n/);
  const romeo = parley(["events", "--data", dataDir, "--account", "romeo@localhost", "--type", "SubscriptionGranted"]);
  assert.is(romeo.stdout.trim().split("\n").length, 1, romeo.stdout);
  assert.match(romeo.stdout, /juliet@localhost approved us/);
  const json = parley(["events", "--data", dataDir, "--json", "--since", "2"]);
  const lines = json.stdout.trim().split("\n").map((l) => JSON.parse(l) as { seq: number });
  assert.ok(lines.length > 3);
  assert.ok(lines.every((e) => e.seq > 2));
});

test("events --json redacts stored SCRAM keys unless --show-secrets is given", () => {
  const redacted = parley(["events", "--data", dataDir, "--json", "--type", "AccountRegistered"]);
  assert.is(redacted.status, 0, redacted.stderr);
  const first = JSON.parse(redacted.stdout.trim().split("\n")[0] as string) as { payload: { credentials: { hash: string; storedKey: string; salt: string }[] } };
  assert.ok(first.payload.credentials.length > 0);
  for (const c of first.payload.credentials) {
    assert.is(c.storedKey, "[redacted]");
    assert.is(c.salt, "[redacted]");
    assert.match(c.hash, /SHA/);
  }
  const shown = parley(["events", "--data", dataDir, "--json", "--type", "AccountRegistered", "--show-secrets"]);
  const raw = JSON.parse(shown.stdout.trim().split("\n")[0] as string) as { payload: { credentials: { storedKey: string }[] } };
  assert.match(raw.payload.credentials[0]?.storedKey ?? "", /^[A-Za-z0-9+/]+=*$/);
});

test("replay shows the roster now, and as it was before a given event", () => {
  const now = parley(["replay", "--account", "romeo@localhost", "--data", dataDir]);
  assert.is(now.status, 0, now.stderr);
  // Juliet's unsubscribed cancelled romeo's subscription to her: both → from.
  assert.match(now.stdout, /juliet@localhost\s+from\n/);
  assert.match(now.stdout, /blocked: tybalt@localhost/);
  const events = parley(["events", "--data", dataDir, "--account", "romeo@localhost", "--type", "SubscriptionGranted", "--json"]);
  const granted = (JSON.parse(events.stdout.trim()) as { seq: number }).seq;
  const before = parley(["replay", "--account", "romeo@localhost", "--until", String(granted - 1), "--data", dataDir]);
  assert.match(before.stdout, /juliet@localhost\s+none \+ pending out/);
  const at = parley(["replay", "--account", "romeo@localhost", "--until", String(granted), "--data", dataDir]);
  assert.match(at.stdout, /juliet@localhost\s+to\n/);
});

test("replay --diff names what changed and the events that changed it", () => {
  const diff = parley(["replay", "--account", "romeo@localhost", "--diff", "1", "1000", "--data", dataDir]);
  assert.is(diff.status, 0, diff.stderr);
  assert.match(diff.stdout, /juliet@localhost: not in the roster → from/);
  assert.match(diff.stdout, /#\d+ .* SubscriptionCancelled: we no longer see juliet@localhost's presence\n/);
  assert.match(diff.stdout, /blocked: nobody → tybalt@localhost/);
});

test("replay --explain tells why romeo and juliet are `from` and not `both`", () => {
  const why = parley(["replay", "--account", "romeo@localhost", "--explain", "juliet@localhost", "--data", dataDir]);
  assert.is(why.status, 0, why.stderr);
  const text = why.stdout;
  const order = ["SubscriptionRequested", "SubscriptionGranted", "SubscriptionRequestReceived", "ContactApproved", "SubscriptionCancelled"];
  let at = 0;
  for (const type of order) {
    const i = text.indexOf(type, at);
    assert.ok(i >= 0, `${type} missing or out of order in:\n${text}`);
    at = i;
  }
  assert.match(text, /SubscriptionCancelled by the contact juliet@localhost\n\s+→ from/);
  assert.match(text, /now: from/);
});

test("verify finds a tampered projection; rebuild repairs it", () => {
  assert.is(parley(["verify", "--data", dataDir]).status, 0);
  const db = new Database(path.join(dataDir, "parley.sqlite"));
  db.prepare("UPDATE roster_items SET subscription = 'both' WHERE account = 'romeo@localhost'").run();
  db.close();
  const bad = parley(["verify", "--data", dataDir]);
  assert.is(bad.status, 1);
  assert.match(bad.stdout, /DIFF roster/);
  assert.match(bad.stdout, /roster_items/);
  const rebuilt = parley(["rebuild", "--data", dataDir]);
  assert.is(rebuilt.status, 0, rebuilt.stderr);
  assert.match(rebuilt.stdout, /had diverged/);
  const good = parley(["verify", "--data", dataDir]);
  assert.is(good.status, 0, good.stdout);
  assert.match(good.stdout, /OK   roster/);
});

test("export then import into a fresh data directory gives the same log and projections", () => {
  const exported = parley(["export", "--data", dataDir]);
  assert.is(exported.status, 0, exported.stderr);
  const file = path.join(dataDir, "log.jsonl");
  writeFileSync(file, exported.stdout);
  const imported = parley(["import", file, "--data", dataDir + "-imported"]);
  assert.is(imported.status, 0, imported.stderr);
  const again = parley(["export", "--data", dataDir + "-imported"]);
  assert.is(again.stdout, exported.stdout);
  const verify = parley(["verify", "--data", dataDir + "-imported"]);
  assert.is(verify.status, 0, verify.stdout);
  const replayed = parley(["replay", "--account", "romeo@localhost", "--data", dataDir + "-imported"]);
  assert.match(replayed.stdout, /juliet@localhost\s+from\n/);
  const twice = parley(["import", file, "--data", dataDir + "-imported"]);
  assert.is(twice.status, 1);
  assert.match(twice.stderr, /already has events/);
});

test("events --follow prints events appended by another process", async () => {
  const child = spawn(process.execPath, [PARLEY_BIN, "events", "--follow", "--data", dataDir, "--type", "AccountRegistered"], { stdio: ["ignore", "pipe", "pipe"] });
  let seen = "";
  child.stdout.setEncoding("utf8");
  const appeared = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not followed: ${seen}`)), 10_000);
    child.stdout.on("data", (d: string) => {
      seen += d;
      if (seen.includes("benvolio@localhost")) { clearTimeout(timer); resolve(); }
    });
  });
  await new Promise((r) => setTimeout(r, 300));
  assert.is(parley(["adduser", "benvolio@localhost", "--data", dataDir], "benvolio's\n").status, 0);
  await appeared;
  const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  child.kill("SIGINT");
  assert.is(await exit, 0);
});

test("the debugging commands work on the database of a running server, and write nothing", async () => {
  const ts = await startTestServer({ dataDir });
  try {
    const c = await RawClient.connect(ts.port);
    await c.login("juliet", "j", "live");
    c.write("<iq type='set' id='add'><query xmlns='jabber:iq:roster'><item jid='nurse@localhost'/></query></iq>");
    await c.waitFor(/id='add'/);
    const before = parley(["events", "--data", dataDir, "--json"]).stdout;
    assert.match(before, /nurse@localhost/, "an event the running server just appended is visible");
    assert.is(parley(["verify", "--data", dataDir]).status, 0);
    assert.is(parley(["replay", "--account", "juliet@localhost", "--data", dataDir]).status, 0);
    assert.is(parley(["events", "--data", dataDir, "--json"]).stdout, before, "reading wrote no events");
    c.write("<iq type='set' id='add2'><query xmlns='jabber:iq:roster'><item jid='friar@localhost'/></query></iq>");
    await c.waitFor(/id='add2'/);
    c.destroy();
  } finally {
    await ts.stop();
  }
});

/** A long account's export: 1,234 events with a deletion and re-registration, so snapshots (every 500) exist after import. */
function longExport(): { lines: string[]; events: StoredEvent[] } {
  const events: StoredEvent[] = [];
  const account = "account:long@localhost";
  const push = (type: string, payload: unknown) => {
    const seq = events.length + 1;
    const at = new Date(Date.parse("2026-11-01T00:00:00.000Z") + seq * 1000).toISOString();
    events.push({ seq, streamId: account, streamVersion: seq, type, schemaVersion: 1, payload, meta: { by: { kind: "user", resource: "r" }, at }, recordedAt: at });
  };
  push("AccountRegistered", { jid: "long@localhost", credentials: [] });
  for (let k = 0; events.length < 1234; k++) {
    const jid = `c${k % 20}@localhost`;
    if (k === 700) { push("AccountDeleted", { jid: "long@localhost", reason: "test" }); push("AccountRegistered", { jid: "long@localhost", credentials: [] }); continue; }
    switch (k % 8) {
      case 0: push("RosterItemSet", { jid, name: `N${k}`, groups: k % 16 ? [] : ["G"] }); break;
      case 1: push("SubscriptionRequested", { jid }); break;
      case 2: push("SubscriptionGranted", { jid }); break;
      case 3: push("SubscriptionRequestReceived", { jid, stanza: `<presence type='subscribe' from='${jid}'/>` }); break;
      case 4: push("ContactsBlocked", { jids: [`b${k % 10}@localhost`, jid] }); break;
      case 5: push("ContactsUnblocked", { jids: [jid] }); break;
      case 6: push(k % 48 === 6 ? "AllContactsUnblocked" : "ContactApproved", k % 48 === 6 ? {} : { jid }); break;
      default: push("SubscriptionCancelled", { jid }); break;
    }
  }
  return { lines: events.map((e) => JSON.stringify(e)), events };
}

test("on a long imported account, replay/diff/explain through snapshots print what a fold of the whole stream gives", () => {
  const { lines, events } = longExport();
  const dir = dataDir + "-long";
  const file = path.join(dataDir, "long.jsonl");
  writeFileSync(file, lines.join("\n") + "\n");
  try {
    const imported = parley(["import", file, "--data", dir]);
    assert.is(imported.status, 0, imported.stderr);
    const db = new Database(path.join(dir, "parley.sqlite"), { readonly: true });
    const snapshots = (db.prepare("SELECT stream_version FROM account_snapshots ORDER BY 1").all() as { stream_version: number }[]).map((r) => r.stream_version);
    db.close();
    assert.equal(snapshots, [500, 1000], "import wrote the snapshots");
    const verify = parley(["verify", "--data", dir]);
    assert.is(verify.status, 0, verify.stdout);
    assert.match(verify.stdout, /OK   snapshots/);
    assert.match(verify.stdout, /OK   subjects/);
    for (const until of [1, 499, 500, 501, 703, 1000, 1100, 5000]) {
      const { state, last } = replayTo(events, { seq: until });
      const want = [`long@localhost after event #${last?.seq} (${last?.recordedAt}, stream version ${last?.streamVersion}); roster version ${state.version}`, ...describeRoster(state)];
      const got = parley(["replay", "--account", "long@localhost", "--until", String(until), "--data", dir]);
      assert.is(got.stdout, want.join("\n") + "\n", `--until ${until}`);
    }
    const byTime = parley(["replay", "--account", "long@localhost", "--until", events[999]?.recordedAt ?? "", "--data", dir]);
    assert.match(byTime.stdout, /^long@localhost after event #1000 /);
    const diff = diffStates(events, { seq: 650 }, { seq: 1150 });
    const wantDiff = ["long@localhost: changes between #650 and #1150", ...(diff.changes.length === 0 ? ["  no roster changes"] : []),
      ...diff.changes.flatMap((c) => [`  ${c.jid}: ${c.before} → ${c.after}`, ...c.because.map((e) => `      #${e.seq} ${e.recordedAt} ${e.type}: ${summarizeEvent(e)}`)]),
      ...(diff.blockedBefore.join() !== diff.blockedAfter.join() ? [`  blocked: ${diff.blockedBefore.join(", ") || "nobody"} → ${diff.blockedAfter.join(", ") || "nobody"}`] : [])];
    assert.ok(diff.changes.length > 0);
    assert.is(parley(["replay", "--account", "long@localhost", "--diff", "650", "1150", "--data", dir]).stdout, wantDiff.join("\n") + "\n");
    const steps = explainContact(events, "c3@localhost");
    assert.ok(steps.length > 50);
    const wantExplain = ["long@localhost and c3@localhost:", ...steps.flatMap((s) => [`  #${s.event.seq} ${s.event.recordedAt} ${s.event.type} ${describeCause(s.event.meta.by)}`, `      → ${s.state}`]), `now: ${steps[steps.length - 1]?.state}`];
    assert.is(parley(["replay", "--account", "long@localhost", "--explain", "c3@localhost", "--data", dir]).stdout, wantExplain.join("\n") + "\n");
    const listed = parley(["events", "--account", "long@localhost", "--type", "AccountDeleted", "--type", "AllContactsUnblocked", "--json", "--data", dir]);
    assert.equal(listed.stdout.trim().split("\n").map((l) => (JSON.parse(l) as StoredEvent).seq),
      events.filter((e) => e.type === "AccountDeleted" || e.type === "AllContactsUnblocked").map((e) => e.seq));
    assert.is(parley(["export", "--data", dir]).stdout, lines.join("\n") + "\n", "export gives back the file imported");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("bad input names the problem", () => {
  const missing = parley(["events", "--data", path.join(dataDir, "nowhere")]);
  assert.is(missing.status, 1);
  assert.match(missing.stderr, /no Parley database/);
  const badPoint = parley(["replay", "--account", "romeo@localhost", "--until", "yesterday-ish", "--data", dataDir]);
  assert.is(badPoint.status, 2);
  assert.match(badPoint.stderr, /neither an event sequence number nor a time/);
  const noAccount = parley(["replay", "--data", dataDir]);
  assert.is(noAccount.status, 2);
  assert.match(noAccount.stderr, /--account/);
});

test.run();
