// /metrics and /health (issue 20, part 1): a real server's exposition,
// scraped over HTTP after real traffic, parsed by prometheus_client's strict
// OpenMetrics parser (PyPI), with the numbers the traffic must have moved.
import { test } from "uvu";
import * as assert from "uvu/assert";
import http from "node:http";
import { RawClient } from "../helpers/raw-client.js";
import { startTestServer } from "../helpers/test-server.js";
import { parseOpenMetrics, type ParsedFamily } from "../helpers/prometheus-venv.js";
import { metricsRoute, isLoopbackAddress } from "../../src/metrics/http.js";

const ACCOUNTS = [
  { jid: "romeo@localhost", password: "wherefore art thou" },
  { jid: "juliet@localhost", password: "a rose by any name" },
];

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    // A connection per request (agent: false): Node's default agent keeps the socket alive, and reusing it
    // after the parse below took longer than the server's keep-alive timeout (5 s) was a read ECONNRESET.
    http.get({ host: "127.0.0.1", port, path, headers, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => { body += d; });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, type: String(res.headers["content-type"] ?? ""), body }));
    }).on("error", reject);
  });
}

function sample(families: ParsedFamily[], name: string, labels: Record<string, string> = {}): number | undefined {
  for (const f of families) {
    for (const s of f.samples) {
      if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) return s.value;
    }
  }
  return undefined;
}

test("a scrape after real traffic parses as OpenMetrics and counts what happened", async () => {
  const ts = await startTestServer({ accounts: ACCOUNTS });
  try {
    const romeo = await RawClient.connect(ts.port);
    await romeo.login("romeo", "wherefore art thou", "orchard");
    // juliet is offline: stored for her (offline storage), an event-free stanza flow.
    romeo.write("<message to='juliet@localhost' type='chat' id='m1'><body>hello</body></message>");
    // An IQ to a JID nobody serves here: answered with an error stanza.
    romeo.write("<iq type='get' id='e1' to='nobody@localhost'><query xmlns='jabber:iq:version'/></iq>");
    await romeo.waitFor(/id='e1'[\s\S]*<\/iq>/);
    romeo.write("<iq type='set' id='r1'><query xmlns='jabber:iq:roster'><item jid='juliet@localhost'/></query></iq>");
    await romeo.waitFor(/id='r1'/);
    const intruder = await RawClient.connect(ts.port);
    await intruder.login("juliet", "not her password").catch(() => undefined);
    intruder.destroy();
    const scrape = await get(ts.server.httpPort, "/metrics");
    assert.is(scrape.status, 200);
    assert.match(scrape.type, /^application\/openmetrics-text; version=1\.0\.0/);
    assert.match(scrape.body, /# EOF\n$/);
    const families = parseOpenMetrics(scrape.body);
    const names = new Set(families.map((f) => f.name));
    for (const n of ["parley_connections", "parley_stanzas_received", "parley_sasl_successes", "parley_events_appended", "parley_commit_seconds",
      "parley_fsync_seconds", "parley_turn_seconds", "parley_commit_gate_wait_seconds", "parley_offline_messages", "parley_mam_messages",
      "parley_upload_bytes", "process_resident_memory_bytes", "nodejs_eventloop_lag_seconds", "parley_info"]) {
      assert.ok(names.has(n), `${n} is exposed`);
    }
    assert.is(families.find((f) => f.name === "parley_sasl_successes")?.type, "counter");
    assert.is(families.find((f) => f.name === "parley_commit_seconds")?.type, "histogram");
    assert.is(sample(families, "parley_connections", { transport: "tcp" }), 1, "romeo is connected (the intruder has gone)");
    assert.is(sample(families, "parley_authenticated_users"), 1);
    assert.is(sample(families, "parley_bound_resources"), 1);
    assert.is(sample(families, "parley_accounts"), 2);
    assert.is(sample(families, "parley_connections_opened_total", { transport: "tcp" }), 2);
    assert.is(sample(families, "parley_sasl_successes_total", { mechanism: "PLAIN" }), 1);
    assert.is(sample(families, "parley_sasl_failures_total", { mechanism: "PLAIN", condition: "not-authorized" }), 1);
    assert.ok((sample(families, "parley_stanzas_received_total", { transport: "tcp", kind: "message" }) ?? 0) >= 1);
    assert.ok((sample(families, "parley_stanzas_received_total", { transport: "tcp", kind: "iq" }) ?? 0) >= 3, "bind, the version query, the roster set");
    assert.ok((sample(families, "parley_stanzas_sent_total", { transport: "tcp", kind: "nonza" }) ?? 0) >= 2, "stream features, SASL success");
    assert.ok((sample(families, "parley_stanza_errors_sent_total", { condition: "service-unavailable" }) ?? 0) >= 1);
    assert.is(sample(families, "parley_events_appended_total", { type: "AccountRegistered" }), 2);
    assert.is(sample(families, "parley_events_appended_total", { type: "RosterItemSet" }), 1);
    assert.ok((sample(families, "parley_commit_seconds_count") ?? 0) >= 1, "the roster set was committed by the gate");
    assert.ok((sample(families, "parley_fsync_seconds_count") ?? 0) >= 1, "and synced");
    assert.ok((sample(families, "parley_turn_seconds_count", { committed: "true" }) ?? 0) >= 1);
    assert.is(sample(families, "parley_offline_messages"), 1);
    assert.ok((sample(families, "parley_offline_bytes") ?? 0) > 0);
    assert.ok((sample(families, "parley_database_bytes", { file: "database" }) ?? 0) > 0);
    assert.ok((sample(families, "process_resident_memory_bytes") ?? 0) > 0);
    // Counts are totals: a second scrape with no traffic between says the same, neither doubled nor lost.
    const again = parseOpenMetrics((await get(ts.server.httpPort, "/metrics")).body);
    for (const [name, labels] of [["parley_events_appended_total", { type: "RosterItemSet" }], ["parley_stanzas_received_total", { transport: "tcp", kind: "iq" }]] as const) {
      assert.is(sample(again, name, labels), sample(families, name, labels), `${name} on a second scrape`);
    }
    romeo.destroy();
    const health = await get(ts.server.httpPort, "/health");
    assert.is(health.status, 200);
    assert.is(health.body, "ok\n");
  } finally {
    await ts.stop();
  }
});

test("a bearer token guards /metrics when set; /health stays open", async () => {
  const ts = await startTestServer({ configure: (c) => { c.metrics.token = "s3cret-scraper"; } });
  try {
    const none = await get(ts.server.httpPort, "/metrics");
    assert.is(none.status, 401);
    assert.is((await get(ts.server.httpPort, "/metrics", { authorization: "Bearer wrong" })).status, 401);
    const ok = await get(ts.server.httpPort, "/metrics", { authorization: "Bearer s3cret-scraper" });
    assert.is(ok.status, 200);
    assert.ok(parseOpenMetrics(ok.body).length > 10);
    assert.is((await get(ts.server.httpPort, "/health")).status, 200);
  } finally {
    await ts.stop();
  }
});

test("metrics.bind moves /metrics and /health to a listener of their own", async () => {
  const ts = await startTestServer({ configure: (c) => { c.metrics.bind = "127.0.0.1:0"; } });
  try {
    const port = ts.server.metricsPort;
    assert.ok(port !== undefined && port > 0);
    assert.is((await get(ts.server.httpPort, "/metrics")).status, 404, "no longer on the WebSocket port");
    const scrape = await get(port, "/metrics");
    assert.is(scrape.status, 200);
    assert.ok(parseOpenMetrics(scrape.body).some((f) => f.name === "parley_connections"));
    assert.is((await get(port, "/health")).status, 200);
  } finally {
    await ts.stop();
  }
});

test("metrics off: no /metrics", async () => {
  const ts = await startTestServer({ configure: (c) => { c.metrics.enabled = false; } });
  try {
    assert.is((await get(ts.server.httpPort, "/metrics")).status, 404);
  } finally {
    await ts.stop();
  }
});

test("on the WebSocket listener only loopback clients are answered", () => {
  assert.ok(isLoopbackAddress("127.0.0.1"));
  assert.ok(isLoopbackAddress("::1"));
  assert.ok(isLoopbackAddress("::ffff:127.0.0.1"));
  assert.not.ok(isLoopbackAddress("192.0.2.7"));
  assert.not.ok(isLoopbackAddress("::ffff:192.0.2.7"));
  const route = metricsRoute({ exposition: async () => ({ contentType: "text/plain", body: "" }), unhealthy: () => undefined }, { enabled: true, bind: "" }, true, () => {});
  let status = 0;
  let body = "";
  const res = { writeHead: (s: number) => { status = s; return res; }, end: (b?: string) => { body = b ?? ""; } } as unknown as http.ServerResponse;
  const req = { method: "GET", headers: {}, socket: { remoteAddress: "192.0.2.7" } } as unknown as http.IncomingMessage;
  assert.ok(route(req, res, "/metrics"));
  assert.is(status, 403);
  assert.match(body, /answers clients on this host only; set metrics.bind/);
});

test("/health is 503 once the server is stopping", async () => {
  const ts = await startTestServer();
  assert.is(ts.server.unhealthy(), undefined);
  await ts.stop();
  assert.match(String(ts.server.unhealthy()), /not listening/);
});

test.run();
