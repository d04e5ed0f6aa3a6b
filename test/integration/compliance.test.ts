// Keeps three descriptions of Parley in agreement (issue 14 item 4): what a
// running server advertises (disco#info of a domain and of an account, over a
// real socket), what `parley check features` computes from the same
// configuration (src/compliance), and parley.doap and docs/compliance.md (what
// `npm run compliance` writes). A module that advertises a feature no spec in
// src/compliance/specs.ts claims, or a DOAP entry no configuration can switch
// on, fails here.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { RawClient } from "../helpers/raw-client.js";
import { startTestServer } from "../helpers/test-server.js";
import { repoRoot } from "../helpers/paths.js";
import { PARLEY_BIN } from "../helpers/server-process.js";
import { DEFAULT_MODULES, defaultConfig, type ServerConfig } from "../../src/config.js";
import { capabilitiesOf } from "../../src/compliance/capabilities.js";
import { complianceReport } from "../../src/compliance/report.js";
import { SPECS } from "../../src/compliance/specs.js";
import { GENERATED, generatedFiles, generatedReadmeTable } from "../../src/compliance/generate.js";
import { withReadmeTable } from "../../src/compliance/readme-table.js";

const ACCOUNTS = [{ jid: "romeo@localhost", password: "s3cret" }];

/** Everything Parley has switched on: every module, registration, contact addresses. */
function everythingOn(c: ServerConfig): void {
  c.modulesEnabled = [...DEFAULT_MODULES];
  c.registration.allowed = true;
  c.contactAddresses = { admin: ["xmpp:admin@localhost"], abuse: ["mailto:abuse@localhost"] };
  // XEP-0114: the component listener opens once a component is configured.
  c.components = { host: "127.0.0.1", port: 0, components: [{ domain: "bot.localhost", secret: "a-component-secret-of-some-length" }] };
}

function withoutBlockingAndPing(c: ServerConfig): void {
  c.modulesEnabled = DEFAULT_MODULES.filter((m) => m !== "blocking" && m !== "ping");
}

interface Disco {
  features: Set<string>;
  identities: string[];
  forms: string[];
  items: string[];
}

async function ask(c: RawClient, id: string, to: string, ns: string): Promise<string> {
  c.clear();
  c.write(`<iq type='get' id='${id}' to='${to}'><query xmlns='${ns}'/></iq>`);
  const text = await c.waitFor(new RegExp(`<iq[^>]*id='${id}'[^>]*(/>|>[\\s\\S]*?</iq>)`));
  assert.match(text, /type='result'/, `disco of ${to}: ${text}`);
  return text;
}

async function discoOf(c: RawClient, to: string): Promise<Disco> {
  const info = await ask(c, "info", to, "http://jabber.org/protocol/disco#info");
  const items = to.includes("@") ? "" : await ask(c, "items", to, "http://jabber.org/protocol/disco#items");
  return {
    features: new Set([...info.matchAll(/<feature var='([^']+)'/g)].map((m) => m[1] as string)),
    identities: [...info.matchAll(/<identity category='([^']+)' type='([^']+)'/g)].map((m) => `${m[1]}/${m[2]}`),
    forms: [...info.matchAll(/<field var='FORM_TYPE'[^>]*><value>([^<]+)<\/value>/g)].map((m) => m[1] as string),
    items: [...items.matchAll(/<item jid='([^']+)'/g)].map((m) => m[1] as string),
  };
}

const sorted = (s: Iterable<string>) => [...s].sort();

for (const [name, configure] of [["every module, registration and contact addresses", everythingOn], ["without blocking and ping", withoutBlockingAndPing]] as const) {
  test(`a running server advertises what check features reads from its configuration: ${name}`, async () => {
    const ts = await startTestServer({ accounts: ACCOUNTS, configure });
    try {
      const c = await RawClient.connect(ts.port);
      await c.login("romeo", "s3cret", "compliance");
      const host = await discoOf(c, "localhost");
      const account = await discoOf(c, "romeo@localhost");
      c.destroy();

      assert.ok(host.features.has("http://jabber.org/protocol/disco#info") && account.features.has("http://jabber.org/protocol/disco#info"), "the answers were read");
      if (configure === everythingOn) assert.equal(host.forms, ["http://jabber.org/network/serverinfo"]);
      const caps = capabilitiesOf(ts.server.config);
      const domain = caps.domains.find((d) => d.domain === "localhost");
      assert.ok(domain, "check features covers the served domain");
      if (!domain) return;
      assert.equal(sorted(host.features), sorted(domain.host.features), "the domain's disco#info features");
      assert.equal(sorted(host.identities), sorted(domain.host.identities.map((i) => `${i.category}/${i.type}`)), "the domain's identities");
      assert.equal(sorted(host.forms), sorted(domain.host.forms), "the domain's XEP-0128 forms");
      assert.equal(sorted(host.items), sorted(domain.items.map((i) => i.jid)), "the domain's disco#items");
      assert.equal(sorted(account.features), sorted(domain.account.features), "an account's disco#info features");
      assert.equal(sorted(account.identities), sorted(domain.account.identities.map((i) => `${i.category}/${i.type}`)), "an account's identities");

      // Every advertised feature is one that a spec Parley implements defines, and check features says it is provided.
      const report = complianceReport(caps).find((r) => r.domain === "localhost");
      for (const feature of new Set([...host.features, ...account.features])) {
        const spec = SPECS.find((s) => s.features?.includes(feature));
        assert.ok(spec, `${feature} is advertised but no spec in src/compliance/specs.ts defines it`);
        assert.ok(spec?.implemented, `${feature} is advertised: ${spec?.id} must be marked implemented (and so be in parley.doap)`);
        assert.ok(report?.specs.find((s) => s.spec.id === spec?.id)?.provided, `${spec?.id} is advertised but check features says it is not provided`);
      }
      if (configure === everythingOn) {
        // Nothing parley.doap claims is beyond what a configuration can switch on.
        for (const s of SPECS.filter((x) => x.implemented)) {
          const verdict = report?.specs.find((v) => v.spec.id === s.id);
          assert.ok(verdict?.provided, `${s.id} is in parley.doap but not provided with everything on: ${verdict?.evidence.join("; ")}`);
        }
      } else {
        assert.not.ok(host.features.has("urn:xmpp:blocking"));
        assert.not.ok(report?.specs.find((v) => v.spec.id === "XEP-0191")?.provided, "XEP-0191 without the blocking module");
        assert.not.ok(report?.specs.find((v) => v.spec.id === "XEP-0199")?.provided, "XEP-0199 without the ping module");
        assert.ok(report?.specs.find((v) => v.spec.id === "XEP-0030")?.provided);
      }
    } finally {
      await ts.stop();
    }
  });
}

test("docs/compliance.md and parley.doap are what `npm run compliance` writes", () => {
  const files = generatedFiles();
  const root = repoRoot();
  assert.fixture(readFileSync(path.join(root, GENERATED.markdown), "utf8"), files.markdown, `${GENERATED.markdown} is stale: run npm run compliance`);
  assert.fixture(readFileSync(path.join(root, GENERATED.doap), "utf8"), files.doap, `${GENERATED.doap} is stale: run npm run compliance`);
  const readme = readFileSync(path.join(root, GENERATED.readme), "utf8");
  assert.fixture(readme, withReadmeTable(readme, generatedReadmeTable()), `the supported / not yet table in ${GENERATED.readme} is stale: run npm run compliance`);
});

test("parley.doap: one xmpp:SupportedXep per implemented XEP with its version and status, one implements per RFC", () => {
  const doap = readFileSync(path.join(repoRoot(), GENERATED.doap), "utf8");
  const xeps = [...doap.matchAll(/<xmpp:SupportedXep>([\s\S]*?)<\/xmpp:SupportedXep>/g)].map((m) => {
    const body = m[1] as string;
    return {
      url: /<xmpp:xep rdf:resource="([^"]+)"\/>/.exec(body)?.[1],
      version: /<xmpp:version>([^<]+)<\/xmpp:version>/.exec(body)?.[1],
      status: /<xmpp:status>([^<]+)<\/xmpp:status>/.exec(body)?.[1],
    };
  });
  const implemented = SPECS.filter((s) => s.implemented && s.id.startsWith("XEP-"));
  assert.equal(xeps, implemented.map((s) => ({ url: s.url, version: s.implemented?.version, status: s.implemented?.status })));
  for (const id of ["XEP-0030", "XEP-0012", "XEP-0077", "XEP-0092", "XEP-0157", "XEP-0160", "XEP-0191", "XEP-0199", "XEP-0202", "XEP-0203", "XEP-0368", "XEP-0440", "XEP-0478"]) {
    assert.ok(implemented.some((s) => s.id === id), `${id} is implemented`);
  }
  const rfcs = [...doap.matchAll(/<implements rdf:resource="https:\/\/www\.rfc-editor\.org\/info\/rfc(\d+)"\/>/g)].map((m) => m[1]);
  for (const n of ["6120", "6121", "7395", "7622"]) assert.ok(rfcs.includes(n), `RFC ${n} is in parley.doap`);
  // Nothing of what is missing is claimed.
  assert.ok(implemented.some((s) => s.id === "XEP-0045"), "XEP-0045 is implemented (module muc)");
  // (Every spec without `implemented`, so that the list cannot go stale as features land.)
  const notImplemented = SPECS.filter((s) => !s.implemented && /^XEP-\d{4}$/.test(s.id));
  assert.ok(notImplemented.length > 0);
  for (const { id } of notImplemented) {
    assert.not.ok(doap.includes(`xep-${id.slice(4)}.html`), `${id} is not implemented`);
  }
});

test("with one XEP-0114 component configured, every XEP-0479 category is met, and the report names none missing", () => {
  const config = defaultConfig();
  config.components = { host: "127.0.0.1", port: 5347, components: [{ domain: "bot.localhost", secret: "a-component-secret-of-some-length" }] };
  const [report] = complianceReport(capabilitiesOf(config));
  assert.ok(report);
  assert.equal(report?.levels.filter((l) => !l.met).map((l) => `${l.category} ${l.level}`), []);
  assert.ok(report?.specs.find((s) => s.spec.id === "XEP-0115")?.provided, "the server's own caps (XEP-0115) are in its stream features");
});

test("the default configuration (no component configured, so no XEP-0114 listener): Core is not met, so no category is", () => {
  const [report] = complianceReport(capabilitiesOf(defaultConfig()));
  assert.ok(report);
  for (const id of ["XEP-0280", "XEP-0313", "XEP-0359", "XEP-0045", "XEP-0410", "XEP-0198", "XEP-0352", "XEP-0050", "XEP-0133", "XEP-0386", "XEP-0388", "XEP-0484", "XEP-0363", "XEP-0124", "XEP-0206", "XEP-0357"]) assert.ok(report?.specs.find((s) => s.spec.id === id)?.provided, `${id} is provided`);
  assert.equal(report?.levels.filter((l) => l.met), []);
  const core = report?.levels.find((l) => l.category === "Core" && l.level === "Server");
  assert.equal(core?.missing.flatMap((m) => m.specs), ["XEP-0114"], "XEP-0114 alone keeps Core from being met");
});

test("parley check features --config FILE: reads modules_enabled from the file; --format is checked", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "parley-features-"));
  try {
    const file = path.join(dir, "parley.toml");
    writeFileSync(file, `domains = ["a.example", "b.example"]\nmodules_enabled = ["roster", "presence", "disco"]\n`);
    const r = spawnSync(process.execPath, [PARLEY_BIN, "check", "features", "--config", file], { encoding: "utf8", env: { ...process.env, PARLEY_CONFIG: "" } });
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`server side, for ${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
    assert.match(r.stdout, /\na\.example\n/);
    assert.match(r.stdout, /\nb\.example\n/);
    assert.match(r.stdout, /modules: roster, presence, disco\n/);
    assert.match(r.stdout, /XEP-0191 +Blocking Command: module blocking not in modules_enabled/);
    assert.match(r.stdout, /Core +Server +NOT MET: missing XEP-0114/);
    assert.match(r.stdout, /No XEP-0479 category is met\./);
    const bad = spawnSync(process.execPath, [PARLEY_BIN, "check", "features", "--format", "yaml"], { encoding: "utf8" });
    assert.is(bad.status, 2);
    assert.match(bad.stderr, /--format must be one of text, markdown, doap/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
