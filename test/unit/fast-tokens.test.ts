// XEP-0484 token storage (src/sasl/fast-tokens.ts) and the HT mechanism
// (src/sasl/ht.ts): bound per account, expiry, the password-change cut-off,
// mechanism binding, and the HT exchange's two MACs.
import { test } from "uvu";
import * as assert from "uvu/assert";
import Database from "better-sqlite3";
import { migrate } from "../../src/events/migrations.js";
import { FastTokenStore } from "../../src/sasl/fast-tokens.js";
import { HtServerMechanism, htMac, htMechanismsFor } from "../../src/sasl/ht.js";

const ACCOUNT = "romeo@localhost";
const T0 = new Date("2026-01-01T00:00:00.000Z");
const later = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

function store(maxUserAgents = 3) {
  const db = new Database(":memory:");
  migrate(db);
  // The accounts projection's row: updated_at is the last credential change.
  db.prepare("INSERT INTO accounts (jid, created_at, updated_at) VALUES (?, ?, ?)").run(ACCOUNT, T0.toISOString(), T0.toISOString());
  return { db, tokens: new FastTokenStore(db, { ttlSeconds: 3600, rotateAfterSeconds: 60, maxUserAgents }) };
}

test("at most max_user_agents user agents hold tokens: the least recently issued loses its own", () => {
  const { tokens } = store(2);
  tokens.issue(ACCOUNT, "phone", "HT-SHA-256-NONE", later(1));
  tokens.issue(ACCOUNT, "laptop", "HT-SHA-256-NONE", later(2));
  tokens.issue(ACCOUNT, "tablet", "HT-SHA-256-NONE", later(3));
  assert.is(tokens.userAgents(ACCOUNT), 2);
  assert.equal(tokens.usable(ACCOUNT, "phone", "HT-SHA-256-NONE", later(4)), []);
  assert.is(tokens.usable(ACCOUNT, "tablet", "HT-SHA-256-NONE", later(4)).length, 1);
});

test("a token is usable until it expires, only with its mechanism, and not after a password change", () => {
  const { db, tokens } = store();
  const t = tokens.issue(ACCOUNT, "phone", "HT-SHA-256-ENDP", later(10));
  assert.equal(tokens.usable(ACCOUNT, "phone", "HT-SHA-256-ENDP", later(20)).map((x) => x.token), [t.token]);
  assert.equal(tokens.usable(ACCOUNT, "phone", "HT-SHA-256-NONE", later(20)), [], "bound to its mechanism");
  assert.equal(tokens.usable(ACCOUNT, "phone", "HT-SHA-256-ENDP", later(3611)), [], "expired after an hour");

  const u = tokens.issue(ACCOUNT, "phone", "HT-SHA-256-NONE", later(30));
  db.prepare("UPDATE accounts SET updated_at = ? WHERE jid = ?").run(later(40).toISOString(), ACCOUNT);
  assert.equal(tokens.usable(ACCOUNT, "phone", u.mechanism, later(50)), [], "issued before the password change");
  assert.is(tokens.userAgents(ACCOUNT), 0, "and deleted on the way");
});

test("rotation: the next token coexists with the current one until promoted", () => {
  const { tokens } = store();
  const current = tokens.issue(ACCOUNT, "phone", "HT-SHA-256-NONE", later(1));
  const next = tokens.issue(ACCOUNT, "phone", "HT-SHA-256-NONE", later(100), "next");
  assert.equal(tokens.usable(ACCOUNT, "phone", "HT-SHA-256-NONE", later(101)).map((x) => x.token).sort(), [current.token, next.token].sort());
  tokens.promote(ACCOUNT, "phone");
  assert.equal(tokens.usable(ACCOUNT, "phone", "HT-SHA-256-NONE", later(102)).map((x) => [x.token, x.slot]), [[next.token, "current"]]);
});

test("HT-SHA-256-*: the initiator's MAC over the channel binding logs in; the answer is the responder's MAC", () => {
  const { tokens } = store();
  const t = tokens.issue(ACCOUNT, "phone", "HT-SHA-256-ENDP", later(1));
  const cb = Buffer.from("certificate hash");
  const lookup = () => tokens.usable(ACCOUNT, "phone", "HT-SHA-256-ENDP", later(2));
  const ok = new HtServerMechanism("HT-SHA-256-ENDP", lookup, cb).step(Buffer.concat([Buffer.from("romeo\0"), htMac(t.token, "Initiator", cb)]));
  assert.is(ok.kind, "success");
  if (ok.kind === "success") assert.equal(ok.data, htMac(t.token, "Responder", cb));
  const otherChannel = new HtServerMechanism("HT-SHA-256-ENDP", lookup, Buffer.from("another certificate"))
    .step(Buffer.concat([Buffer.from("romeo\0"), htMac(t.token, "Initiator", cb)]));
  assert.is(otherChannel.kind, "failure", "a MAC made over another channel does not match");
  const malformed = new HtServerMechanism("HT-SHA-256-ENDP", lookup, cb).step(Buffer.from("romeo"));
  assert.is(malformed.kind === "failure" ? malformed.condition : "", "malformed-request");
  assert.equal(htMechanismsFor({}), ["HT-SHA-256-NONE"]);
  assert.equal(htMechanismsFor({ "tls-exporter": cb, "tls-server-end-point": cb }), ["HT-SHA-256-EXPR", "HT-SHA-256-ENDP", "HT-SHA-256-NONE"]);
});

test.run();
