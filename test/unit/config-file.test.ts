// The TOML configuration file and PARLEY_* environment overrides: values,
// precedence, and errors that name the key and the file or variable.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { resolveConfig, ENVIRONMENT_VARIABLES } from "../../src/config-file.js";
import { ConfigError, validateConfig } from "../../src/config.js";
import { PARLEY_BIN } from "../helpers/server-process.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "parley-config-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
}

const GOOD = `# Parley configuration
domains = ["Example.org", "chat.example.org"]
data_dir = "state"
log_level = "warn"

[c2s]
bind = "0.0.0.0"
port = 15222
direct_tls_port = 15223

[http]
port = 15280

[tls]
require_encryption = true

[registration]
allowed = true

[limits]
max_stanza_bytes = 100000
offline_messages_per_account = 50
stanzas_per_turn = 3
max_unsent_output_bytes = 2000000
handshake_timeout_seconds = 5

[contact_addresses]
admin = ["xmpp:admin@example.org"]
`;

test("a configuration file sets every section; relative paths are relative to the file", () => {
  const c = resolveConfig(file("good.toml", GOOD), {});
  assert.equal(c.domains, ["example.org", "chat.example.org"]);
  assert.is(c.dataDir, path.join(dir, "state"));
  assert.is(c.logLevel, "warn");
  assert.equal(c.c2s, { host: "0.0.0.0", port: 15222, directTlsPort: 15223, extraHosts: [] });
  assert.is(c.http.port, 15280);
  assert.is(c.tls.requireEncryption, true);
  assert.is(c.registration.allowed, true);
  assert.is(c.limits.maxStanzaBytes, 100000);
  assert.is(c.limits.offlineMessagesPerAccount, 50);
  assert.is(c.limits.stanzasPerTurn, 3);
  assert.is(c.limits.maxUnsentOutputBytes, 2000000);
  assert.is(c.limits.handshakeTimeoutSeconds, 5);
  assert.is(c.limits.maxDepth, 64, "unset values keep their defaults");
  assert.equal(c.contactAddresses, { admin: ["xmpp:admin@example.org"] });
});

test("environment variables override the file", () => {
  const c = resolveConfig(file("good2.toml", GOOD), { PARLEY_C2S_PORT: "25222", PARLEY_DOMAINS: "a.example, b.example", PARLEY_REQUIRE_ENCRYPTION: "false" });
  assert.is(c.c2s.port, 25222);
  assert.equal(c.domains, ["a.example", "b.example"]);
  assert.is(c.tls.requireEncryption, false);
  assert.ok(ENVIRONMENT_VARIABLES.includes("PARLEY_DATA_DIR"));
});

function problem(text: string, env: NodeJS.ProcessEnv = {}): string {
  try {
    resolveConfig(text === "" ? undefined : file(`bad-${Math.random()}.toml`, text), env);
  } catch (err) {
    assert.instance(err, ConfigError);
    return (err as Error).message;
  }
  assert.unreachable("expected a ConfigError");
  return "";
}

test("errors name the key and the problem", () => {
  assert.match(problem("[c2s]\nprot = 5222\n"), /c2s\.prot .*is not a known setting/);
  assert.match(problem("[c2s]\nport = \"5222\"\n"), /c2s\.port .*must be an integer/);
  assert.match(problem("log_level = \"loud\"\n"), /log_level .*must be one of/);
  assert.match(problem("[tls]\nrequire_encryption = \"yes\"\n"), /tls\.require_encryption .*must be true or false/);
  assert.match(problem("domains = \n"), /not valid TOML at line 1/);
  assert.match(problem("", { PARLEY_C2S_PORT: "many" }), /PARLEY_C2S_PORT.*must be an integer/);
});

test("[mam]: archive policy, retention, page sizes, sweep and full text; bad values name the key", () => {
  const c = resolveConfig(file("mam.toml", `[mam]
default_policy = "roster"
retention_days = 0
default_page_size = 20
max_page_size = 100
sweep_interval_seconds = 60
fulltext = false
`), {});
  assert.equal(c.mam, { defaultPolicy: "roster", retentionDays: 0, defaultPageSize: 20, maxPageSize: 100, sweepIntervalSeconds: 60, fulltext: false });
  const fails = (text: string, key: RegExp) => assert.throws(() => validateConfig(resolveConfig(file("bad-mam.toml", text), {})),
    (e: unknown) => e instanceof ConfigError && key.test(e.message), text);
  fails(`[mam]\ndefault_policy = "sometimes"\n`, /mam\.default_policy/);
  fails(`[mam]\nretention_days = -1\n`, /mam\.retention_days/);
  fails(`[mam]\nmax_page_size = 0\n`, /mam\.max_page_size/);
  fails(`[mam]\ndefault_page_size = 500\n`, /mam\.defaultPageSize.*more than mam\.maxPageSize/);
  fails(`[mam]\nretension_days = 3\n`, /mam\.retension_days.*not a known setting/);
});

test("[stream_management]: resumption timeout, queue bounds; bad values name the key", () => {
  const c = resolveConfig(file("sm.toml", `[stream_management]
timeout_seconds = 120
max_queue = 50
csi_max_queue = 10
`), {});
  assert.equal(c.streamManagement, { timeoutSeconds: 120, maxQueue: 50, csiMaxQueue: 10 });
  const fails = (text: string, key: RegExp) => assert.throws(() => resolveConfig(file("bad-sm.toml", text), {}),
    (e: unknown) => e instanceof ConfigError && key.test(e.message), text);
  fails(`[stream_management]\ntimeout_seconds = 0\n`, /stream_management\.timeout_seconds/);
  fails(`[stream_management]\nmax_queue = -1\n`, /stream_management\.max_queue/);
  fails(`[stream_management]\nresume = true\n`, /stream_management\.resume.*not a known setting/);
});

test("parley check reports each problem and exits 1; a sound configuration passes", () => {
  const bad = file("check-bad.toml", `data_dir = "d"\n[tls]\ncert = "missing.crt"\nkey = "missing.key"\n[c2s]\nport = 0\ndirect_tls_port = 0\n[http]\nport = 0\n`);
  const r = spawnSync(process.execPath, [PARLEY_BIN, "check", "--config", bad], { encoding: "utf8" });
  assert.is(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /PROBLEM  certificate: .*missing\.crt/);
  const good = file("check-good.toml", `data_dir = "d2"\n[c2s]\nport = 0\ndirect_tls_port = 0\n[http]\nport = 0\n`);
  const ok = spawnSync(process.execPath, [PARLEY_BIN, "check", "--config", good], { encoding: "utf8" });
  assert.is(ok.status, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /All checks passed/);
  const start = spawnSync(process.execPath, [PARLEY_BIN, "start", "--config", file("typo.toml", "[limits]\nmax_bytes = 1\n")], { encoding: "utf8" });
  assert.is(start.status, 1);
  assert.match(start.stderr, /limits\.max_bytes .*typo\.toml.*is not a known setting/);
});

test("the example configuration in the repository is valid and matches the defaults", async () => {
  const { repoRoot } = await import("../helpers/paths.js");
  const { defaultConfig } = await import("../../src/config.js");
  const c = resolveConfig(path.join(repoRoot(), "parley.example.toml"), {});
  const d = defaultConfig();
  assert.equal({ ...c, dataDir: "" }, { ...d, dataDir: "" });
});

test("[muc]: the service's subdomain and limits; off when enabled = false; bad values named", () => {
  const c = resolveConfig(file("muc.toml", `[muc]
subdomain = "chat"
rooms_per_user = 3
occupants_per_room = 50
sessions_per_occupant = 2
history_messages = 0
max_rooms = 500
archive = false
invites_per_message = 2
`), {});
  assert.equal(c.muc, { enabled: true, subdomain: "chat", roomsPerUser: 3, occupantsPerRoom: 50, sessionsPerOccupant: 2, historyMessages: 0, maxRooms: 500, archive: false, invitesPerMessage: 2 });
  assert.is(resolveConfig(file("muc-off.toml", "[muc]\nenabled = false\n"), {}).muc.enabled, false);
  assert.throws(() => resolveConfig(file("muc-bad.toml", "[muc]\nsubdomain = \"a.b\"\n"), {}), /muc\.subdomain/);
  assert.throws(() => resolveConfig(file("muc-zero.toml", "[muc]\noccupants_per_room = 0\n"), {}), /muc\.occupants_per_room/);
  assert.throws(() => resolveConfig(file("muc-typo.toml", "[muc]\nrooms_per_users = 3\n"), {}), /rooms_per_users/);
});

test("[fast]: token lifetime, rotation age and user agents per account; bad values name the key", () => {
  const c = resolveConfig(file("fast.toml", `[fast]
token_seconds = 3600
rotate_after_seconds = 600
max_user_agents = 4
`), {});
  assert.equal(c.fast, { enabled: true, tokenSeconds: 3600, rotateAfterSeconds: 600, maxUserAgents: 4 });
  assert.is(resolveConfig(file("fast-off.toml", "[fast]\nenabled = false\n"), {}).fast.enabled, false);
  assert.throws(() => resolveConfig(file("fast-bad.toml", "[fast]\nmax_user_agents = 0\n"), {}), /fast\.max_user_agents/);
  assert.throws(() => resolveConfig(file("fast-unknown.toml", "[fast]\ntokens = 3\n"), {}), /tokens/);
});

test("[components]: the listener and each component's domain and secret; a served domain, a short secret or a twice-listed domain named", () => {
  const c = resolveConfig(file("components.toml", "[components]\nport = 0\n[[components.component]]\ndomain = \"Bot.Localhost\"\nsecret = \"sixteen-characters!\"\n"), {});
  assert.equal(c.components, { host: "127.0.0.1", port: 0, components: [{ domain: "bot.localhost", secret: "sixteen-characters!" }] });
  assert.throws(() => resolveConfig(file("comp-served.toml", "[[components.component]]\ndomain = \"localhost\"\nsecret = \"sixteen-characters!\"\n"), {}), /is a served domain/);
  assert.throws(() => resolveConfig(file("comp-short.toml", "[[components.component]]\ndomain = \"bot.localhost\"\nsecret = \"short\"\n"), {}), /at least 16 characters/);
  assert.throws(() => resolveConfig(file("comp-twice.toml", "[[components.component]]\ndomain = \"b.localhost\"\nsecret = \"sixteen-characters!\"\n[[components.component]]\ndomain = \"b.localhost\"\nsecret = \"sixteen-characters!\"\n"), {}), /configured twice/);
});

test("[push]: body and sender opt-in, bounds; bad values name the key", () => {
  const c = resolveConfig(file("push.toml", "[push]\ninclude_body = true\nmax_registrations = 2\nmax_errors = 3\nnotifications_per_minute = 10\ntimeout_seconds = 5\n"), {});
  assert.equal(c.push, { includeBody: true, includeSender: false, maxRegistrations: 2, maxErrors: 3, notificationsPerMinute: 10, timeoutSeconds: 5 });
  assert.throws(() => resolveConfig(file("push-bad.toml", "[push]\nmax_errors = 0\n"), {}), /push\.max_errors/);
  assert.throws(() => resolveConfig(file("push-typo.toml", "[push]\nwith_body = true\n"), {}), /with_body/);
});

test("[adhoc]: command sessions per requester, in all, and their lifetime", () => {
  const c = resolveConfig(file("adhoc.toml", "[adhoc]\nsessions_per_requester = 2\nsessions_total = 50\nsession_seconds = 60\n"), {});
  assert.equal(c.adhoc, { sessionsPerRequester: 2, sessionsTotal: 50, sessionSeconds: 60 });
  assert.throws(() => resolveConfig(file("adhoc-bad.toml", "[adhoc]\nsession_seconds = -1\n"), {}), /adhoc\.session_seconds/);
});

test("[external_services]: defaults for host and port, [[external_services.service]] entries, and problems named by entry", () => {
  const c = resolveConfig(file("ext.toml", `[external_services]
host = "turn.example.org"
port = 3478
secret = "north"
credential_seconds = 3600

[[external_services.service]]
type = "stun"
transport = "udp"

[[external_services.service]]
type = "turn"
transport = "tcp"
secret = true

[[external_services.service]]
type = "ftp"
host = "files.example.org"
port = 21
username = "john"
password = "pw"
`), {});
  assert.is(c.externalServices.host, "turn.example.org");
  assert.is(c.externalServices.credentialSeconds, 3600);
  assert.equal(c.externalServices.services.map((s) => [s.type, s.transport, s.secret, s.host]), [
    ["stun", "udp", undefined, undefined], ["turn", "tcp", true, undefined], ["ftp", undefined, undefined, "files.example.org"],
  ]);
  const fails = (text: string, key: RegExp) => assert.throws(() => resolveConfig(file("bad-ext.toml", text), {}),
    (e: unknown) => e instanceof ConfigError && key.test(e.message), text);
  fails(`[[external_services.service]]\ntransport = "udp"\n`, /external_services\.service\[0\]\.type .*needs a type/);
  fails(`[[external_services.service]]\ntype = "turn"\nsecret = true\n`, /external_services\.service\[0\]\.secret .*external_services\.secret is not set/);
  fails(`[[external_services.service]]\ntype = "stun"\ntransport = "sctp"\n`, /transport .*udp or tcp/);
  fails(`[[external_services.service]]\ntype = "stun"\nprot = 1\n`, /external_services\.service\[0\]\.prot .*not a known setting/);
});

test("[pubsub]: node creators, limits and expose_publisher, and a bad creators value named", () => {
  const c = resolveConfig(file("pubsub.toml", `[pubsub]
creators = "local"
expose_publisher = true
max_items = 10
max_item_bytes = 2048
max_nodes_per_account = 5
`), {});
  assert.is(c.pubsub.creators, "local");
  assert.is(c.pubsub.exposePublisher, true);
  assert.equal([c.pubsub.maxItems, c.pubsub.maxItemBytes, c.pubsub.maxNodesPerAccount], [10, 2048, 5]);
  assert.throws(() => resolveConfig(file("bad-pubsub.toml", `[pubsub]\ncreators = "everyone"\n`), {}),
    (e: unknown) => e instanceof ConfigError && /pubsub\.creators .*admins or local/.test(e.message));
  assert.throws(() => resolveConfig(file("bad-pubsub2.toml", `[pubsub]\nmax_item = 3\n`), {}),
    (e: unknown) => e instanceof ConfigError && /pubsub\.max_item .*not a known setting/.test(e.message));
});

test("[s2s] and [s2s.routes]: listener, TLS policy, domains, limits and static routes; bad values name the key", () => {
  const c = resolveConfig(file("s2s.toml", `[s2s]
bind = "0.0.0.0"
port = 15269
direct_tls_port = 15270
require_tls = false
insecure_domains = ["Lab.Example"]
blocked_domains = ["spam.example"]
connect_timeout_seconds = 3
queue_limit = 20
ping_interval_seconds = 0
ping_timeout_seconds = 5

[s2s.routes]
"Example.net" = "192.0.2.1:5269"
`), { PARLEY_S2S_PORT: "25269" });
  assert.is(c.s2s.host, "0.0.0.0");
  assert.equal(c.s2s.extraHosts, []);
  assert.is(c.s2s.port, 25269, "PARLEY_S2S_PORT overrides the file");
  assert.is(c.s2s.directTlsPort, 15270);
  assert.is(c.s2s.requireTls, false);
  assert.equal(c.s2s.insecureDomains, ["lab.example"]);
  assert.equal(c.s2s.blockedDomains, ["spam.example"]);
  assert.is(c.s2s.connectTimeoutSeconds, 3);
  assert.is(c.s2s.queueLimit, 20);
  assert.is(c.s2s.pingIntervalSeconds, 0, "0: no pings");
  assert.is(c.s2s.pingTimeoutSeconds, 5);
  assert.equal(c.s2s.routes, { "example.net": "192.0.2.1:5269" });
  const fails = (toml: string, pattern: RegExp) => assert.throws(() => resolveConfig(file("bad-s2s.toml", toml), {}), (e: Error) => e instanceof ConfigError && pattern.test(e.message));
  fails(`[s2s.routes]\n"example.net" = "nowhere"\n`, /s2s\.routes\.example\.net .*host:port/);
  fails(`[s2s]\nqueue_limit = 0\n`, /s2s\.queue_limit .*positive/);
  fails(`[s2s]\nping_interval_seconds = -1\n`, /s2s\.ping_interval_seconds .*0 \(no pings\) or more/);
  fails(`[s2s]\nping_timeout_seconds = 0\n`, /s2s\.ping_timeout_seconds .*positive/);
  fails(`[s2s]\nrequire_tsl = true\n`, /s2s\.require_tsl .*not a known setting/);
});

test("[upload]: the component's name, URL, limits and types; bad values name the key", () => {
  const c = resolveConfig(file("upload.toml", `[upload]
domain = "Files.{domain}"
public_url = "https://files.example.org/"
max_file_bytes = 5000
quota_bytes_per_user = 10000
total_quota_bytes = 0
expire_days = 0
allowed_types = ["image/*", "Text/Plain"]
slot_seconds = 60
slots_per_user_per_hour = 5
`), {});
  assert.equal(c.upload, {
    domain: "files.{domain}", publicUrl: "https://files.example.org", maxFileBytes: 5000, quotaBytesPerUser: 10000,
    totalQuotaBytes: 0, expireDays: 0, allowedTypes: ["image/*", "text/plain"], slotSeconds: 60, slotsPerUserPerHour: 5,
  });
  const fails = (text: string, key: RegExp) => assert.throws(() => resolveConfig(file("bad-upload.toml", text), {}),
    (e: unknown) => e instanceof ConfigError && key.test(e.message), text);
  fails(`[upload]\nmax_file_bytes = 0\n`, /upload\.max_file_bytes/);
  fails(`[upload]\nexpire_days = -1\n`, /upload\.expire_days/);
  fails(`[upload]\npublic_url = "files.example.org"\n`, /upload\.public_url .*http/);
  fails(`[upload]\nallowed_types = ["images"]\n`, /upload\.allowed_types .*'images'/);
  fails(`[upload]\nmax_size = 1\n`, /upload\.max_size .*not a known setting/);
});

test("[bosh]: the bounds of a BOSH session; bad values name the key", () => {
  const c = resolveConfig(file("bosh.toml", `[bosh]
enabled = false
max_wait_seconds = 30
max_hold = 2
inactivity_seconds = 90
polling_seconds = 5
max_pause_seconds = 30
max_request_bytes = 100000
sessions_per_address = 3
`), {});
  assert.equal(c.bosh, { enabled: false, maxWaitSeconds: 30, maxHold: 2, inactivitySeconds: 90, pollingSeconds: 5, maxPauseSeconds: 30, maxRequestBytes: 100000, sessionsPerAddress: 3 });
  const fails = (text: string, key: RegExp) => assert.throws(() => resolveConfig(file("bad-bosh.toml", text), {}),
    (e: unknown) => e instanceof ConfigError && key.test(e.message), text);
  fails(`[bosh]\nmax_wait_seconds = 0\n`, /bosh\.max_wait_seconds/);
  fails(`[bosh]\nmax_hold = -1\n`, /bosh\.max_hold/);
  fails(`[bosh]\nmax_pause_seconds = -1\n`, /bosh\.max_pause_seconds/);
  fails(`[bosh]\nmax_pause_seconds = 70000\n`, /bosh\.max_pause_seconds .*65535/);
  fails(`[bosh]\nwait = 5\n`, /bosh\.wait .*not a known setting/);
});

test.run();
