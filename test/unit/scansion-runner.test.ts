// The scansion script parser and matcher, on the team's shared scripts and
// on hand-made cases for each matching rule of shared/scansion/README.md.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { parseScript, accountsOf, ScriptError } from "../../src/scansion/script.js";
import { parseScriptXml } from "../../src/scansion/script-xml.js";
import { matchStanza } from "../../src/scansion/match.js";
import { el } from "../../src/xml/element.js";
import { NS } from "../../src/xmpp/namespaces.js";
import { sharedScansionDir, repoRoot } from "../helpers/paths.js";

const shared = sharedScansionDir();
const dirs = [path.join(repoRoot(), "test", "scansion"), ...(shared ? [shared] : [])];

for (const dir of dirs) {
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".scs"))) {
    test(`parses ${path.basename(dir)}/${file} and every XML block in it`, () => {
      const script = parseScript(readFileSync(path.join(dir, file), "utf8"), file);
      assert.ok(script.clients.size > 0);
      assert.ok(script.steps.length > 0);
      for (const step of script.steps) {
        if (step.kind === "sends" || step.kind === "receives") {
          const xml = step.xml.replace(/\$\{[^}]+\}/g, "x@localhost");
          assert.ok(parseScriptXml(xml).length > 0, `line ${step.line}`);
        }
      }
    });
  }
}

const BASIC_MESSAGE = `[Client] Juliet
	jid: juliet@localhost
	password: password

[Client] Juliet's phone
	jid: juliet@localhost
	password: password
	resource: mobile

---------

# a comment
Juliet's phone connects

Juliet's phone receives
	<presence/>

Juliet receives: nothing
`;

test("names are matched longest first; a missing colon and 'nothing' are understood", () => {
  const s = parseScript(BASIC_MESSAGE, "t");
  assert.equal(s.steps.map((x) => [x.kind, x.client]), [
    ["connects", "Juliet's phone"], ["receives", "Juliet's phone"], ["receivesNothing", "Juliet"],
  ]);
  assert.is(s.clients.get("Juliet's phone")?.resource, "mobile");
  assert.equal(accountsOf(s), [{ jid: "juliet@localhost", password: "password" }]);
});

test("a step naming no client is a ScriptError with the line", () => {
  try {
    parseScript("[Client] A\n\tjid: a@b\n\tpassword: p\n---\nB connects\n", "bad.scs");
    assert.unreachable("should have thrown");
  } catch (err) {
    assert.instance(err, ScriptError);
    assert.match((err as Error).message, /bad\.scs:5/);
  }
});

const one = (xml: string) => parseScriptXml(xml)[0] as NonNullable<ReturnType<typeof parseScriptXml>[0]>;

test("attributes: expected ones must be present and equal; extra ones are fine when not strict; {scansion:any}", () => {
  const got = el("presence", NS.client, { from: "a@b/c", to: "d@e", id: "1" });
  assert.is(matchStanza(one(`<presence from="a@b/c"/>`), got, new Map()), undefined);
  assert.is(matchStanza(one(`<presence from="{scansion:any}" to="d@e"/>`), got, new Map()), undefined);
  assert.match(matchStanza(one(`<presence from="x@y"/>`), got, new Map()) ?? "", /from/);
  assert.match(matchStanza(one(`<presence type="unavailable"/>`), got, new Map()) ?? "", /missing attribute type/);
});

test("children of a non-strict element match in any order, extras ignored; a strict element needs exactly them", () => {
  const got = el("iq", NS.client, { type: "result" },
    el("query", NS.discoInfo, {},
      el("feature", NS.discoInfo, { var: "b" }),
      el("identity", NS.discoInfo, { category: "account", type: "registered" }),
      el("feature", NS.discoInfo, { var: "a" })));
  const loose = one(`<iq type="result"><query xmlns="http://jabber.org/protocol/disco#info" scansion:strict="false">
    <feature var="a"/><identity category="account" type="registered"/></query></iq>`);
  assert.is(matchStanza(loose, got, new Map()), undefined);
  const strict = one(`<iq type="result"><query xmlns="http://jabber.org/protocol/disco#info">
    <feature var="a"/><identity category="account" type="registered"/></query></iq>`);
  assert.match(matchStanza(strict, got, new Map()) ?? "", /strict/);
});

test("a strict element refuses extra attributes; namespaces must agree; text is compared trimmed", () => {
  const got = el("query", NS.roster, { ver: "1", extra: "x" });
  assert.match(matchStanza(one(`<iq><query xmlns="jabber:iq:roster" ver="1"/></iq>`), el("iq", NS.client, {}, got), new Map()) ?? "", /unexpected attribute extra/);
  assert.match(matchStanza(one(`<iq><query xmlns="urn:other"/></iq>`), el("iq", NS.client, {}, el("query", NS.roster)), new Map()) ?? "", /namespace/);
  const msg = el("message", NS.client, {}, el("body", NS.client, {}, "  hello  "));
  assert.is(matchStanza(one(`<message><body>hello</body></message>`), msg, new Map()), undefined);
  assert.match(matchStanza(one(`<message><body>bye</body></message>`), msg, new Map()) ?? "", /text/);
});

test("captures record a value and later uses must agree", () => {
  const captures = new Map<string, string>();
  assert.is(matchStanza(one(`<iq id="{scansion:capture:ID}"/>`), el("iq", NS.client, { id: "42" }), captures), undefined);
  assert.is(captures.get("ID"), "42");
  assert.match(matchStanza(one(`<iq id="{scansion:capture:ID}"/>`), el("iq", NS.client, { id: "43" }), captures) ?? "", /captured/);
});

test.run();
