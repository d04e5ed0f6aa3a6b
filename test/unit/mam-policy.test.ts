// The archive policy as a specification (XEP-0313 preferences, XEP-0334
// hints, XEP-0085 chat states): given these preferences and roster, when this
// message is exchanged with this JID, then it is archived or not, and why.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parseFragment } from "../../src/xml/fragment.js";
import { parseJid } from "../../src/jid/jid.js";
import { archivableContent, decideArchiving, type MamPrefs } from "../../src/modules/mam/policy.js";
import { parsePrefs } from "../../src/modules/mam/query.js";
import type { XmlElement } from "../../src/xml/element.js";

const msg = (xml: string): XmlElement => {
  const m = parseFragment(xml);
  if (!m) throw new Error(`test message does not parse: ${xml}`);
  return m;
};

const always: MamPrefs = { default: "always", always: [], never: [] };
const roster = new Set(["romeo@montague.lit"]);
const inRoster = (bare: string) => roster.has(bare);

interface Row { given: MamPrefs; when: string; with: string; then: boolean; because: string }

const rows: Row[] = [
  // What is worth keeping (default always, so only content decides).
  { given: always, when: "<message type='chat'><body>hi</body></message>", with: "romeo@montague.lit", then: true, because: "body" },
  { given: always, when: "<message><body>hi</body></message>", with: "romeo@montague.lit", then: true, because: "body" },
  { given: always, when: "<message type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>", with: "romeo@montague.lit", then: false, because: "no content" },
  { given: always, when: "<message type='chat'><active xmlns='http://jabber.org/protocol/chatstates'/><body>x</body></message>", with: "romeo@montague.lit", then: true, because: "body" },
  { given: always, when: "<message type='chat'><received xmlns='urn:xmpp:receipts' id='a'/></message>", with: "romeo@montague.lit", then: true, because: "receipt (XEP-0184)" },
  { given: always, when: "<message type='chat'><displayed xmlns='urn:xmpp:chat-markers:0' id='a'/></message>", with: "romeo@montague.lit", then: true, because: "marker (XEP-0333)" },
  { given: always, when: "<message type='chat'><encryption xmlns='urn:xmpp:eme:0' namespace='x'/></message>", with: "romeo@montague.lit", then: true, because: "encrypted (XEP-0380)" },
  { given: always, when: "<message type='headline'><body>news</body></message>", with: "romeo@montague.lit", then: false, because: "headline" },
  { given: always, when: "<message type='error'><body>x</body><error type='cancel'/></message>", with: "romeo@montague.lit", then: false, because: "error" },
  { given: always, when: "<message type='groupchat'><body>room talk</body></message>", with: "room@conference.lit", then: false, because: "groupchat" },
  // XEP-0334 hints.
  { given: always, when: "<message type='chat'><body>secret</body><no-store xmlns='urn:xmpp:hints'/></message>", with: "romeo@montague.lit", then: false, because: "no-store hint" },
  { given: always, when: "<message type='chat'><body>secret</body><no-permanent-store xmlns='urn:xmpp:hints'/></message>", with: "romeo@montague.lit", then: false, because: "no-store hint" },
  { given: always, when: "<message type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/><store xmlns='urn:xmpp:hints'/></message>", with: "romeo@montague.lit", then: true, because: "store hint" },
  // Preferences (XEP-0313 <prefs/>).
  { given: { default: "never", always: [], never: [] }, when: "<message type='chat'><body>hi</body></message>", with: "romeo@montague.lit", then: false, because: "preferences" },
  { given: { default: "never", always: ["romeo@montague.lit"], never: [] }, when: "<message type='chat'><body>hi</body></message>", with: "romeo@montague.lit/orchard", then: true, because: "body" },
  { given: { default: "always", always: [], never: ["tybalt@capulet.lit"] }, when: "<message type='chat'><body>hi</body></message>", with: "tybalt@capulet.lit/sword", then: false, because: "preferences" },
  { given: { default: "always", always: [], never: ["tybalt@capulet.lit/sword"] }, when: "<message type='chat'><body>hi</body></message>", with: "tybalt@capulet.lit/dagger", then: true, because: "body" },
  { given: { default: "roster", always: [], never: [] }, when: "<message type='chat'><body>hi</body></message>", with: "romeo@montague.lit", then: true, because: "body" },
  { given: { default: "roster", always: [], never: [] }, when: "<message type='chat'><body>hi</body></message>", with: "stranger@example.org", then: false, because: "preferences" },
  // A store hint makes content archivable; it does not overrule the user's `never`.
  { given: { default: "always", always: [], never: ["romeo@montague.lit"] }, when: "<message type='chat'><body>x</body><store xmlns='urn:xmpp:hints'/></message>", with: "romeo@montague.lit", then: false, because: "preferences" },
];

for (const [i, row] of rows.entries()) {
  test(`archive policy ${i + 1}: given default=${row.given.default} always=[${row.given.always}] never=[${row.given.never}], when ${row.when} with ${row.with}, then ${row.then ? "archived" : "not archived"} (${row.because})`, () => {
    const decision = decideArchiving(msg(row.when), parseJid(row.with), row.given, inRoster);
    assert.equal(decision, { archive: row.then, reason: row.because });
  });
}

test("chat states alone are never worth keeping, whatever the state", () => {
  for (const state of ["active", "composing", "paused", "inactive", "gone"]) {
    const verdict = archivableContent(msg(`<message type='chat'><${state} xmlns='http://jabber.org/protocol/chatstates'/></message>`));
    assert.equal(verdict.archivable, false, state);
  }
});

test("preferences as set: JIDs prepared, duplicates merged, never wins over always, default required", () => {
  const prefs = parsePrefs(msg(`<prefs xmlns='urn:xmpp:mam:2' default='roster'>
      <always><jid>JULIET@MONTAGUE.LIT</jid><jid>juliet@montague.lit</jid><jid>Nurse@Capulet.lit</jid></always>
      <never><jid>nurse@capulet.LIT</jid></never></prefs>`), 10);
  assert.equal(prefs, { default: "roster", always: ["juliet@montague.lit"], never: ["nurse@capulet.lit"] });
  assert.throws(() => parsePrefs(msg("<prefs xmlns='urn:xmpp:mam:2'/>"), 10), (e: Error) => /default must be/.test(e.message));
  assert.throws(() => parsePrefs(msg("<prefs xmlns='urn:xmpp:mam:2' default='sometimes'/>"), 10), (e: Error) => /sometimes/.test(e.message));
  assert.throws(() => parsePrefs(msg("<prefs xmlns='urn:xmpp:mam:2' default='always'><never><jid>a@@b</jid></never></prefs>"), 10),
    (e: Error) => /jid-malformed/.test(e.message));
  assert.throws(() => parsePrefs(msg("<prefs xmlns='urn:xmpp:mam:2' default='always'><never><jid>a@b</jid><jid>c@d</jid></never></prefs>"), 1),
    (e: Error) => /policy-violation.*at most 1/.test(e.message));
});

test.run();
