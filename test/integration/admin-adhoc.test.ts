// XEP-0050 ad-hoc commands with XEP-0133 service administration, from raw
// clients over real sockets: what an administrator sees and runs, and what
// everyone else is refused; each command's effect checked as a user would
// notice it (a new account logs in, a deleted one cannot, a session ends,
// an announcement arrives).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { RawClient } from "../helpers/raw-client.js";
import { startTestServer, type TestServer } from "../helpers/test-server.js";

const ADMIN = { jid: "admin@localhost", password: "administrate" };
const ROMEO = { jid: "romeo@localhost", password: "wherefore art" };
const JULIET = { jid: "juliet@localhost", password: "nightingale" };
const COMMANDS = "http://jabber.org/protocol/commands";
const ADMIN_NS = "http://jabber.org/protocol/admin";

let counter = 0;

async function iq(c: RawClient, body: string, type = "set"): Promise<string> {
  const id = `q${++counter}`;
  c.write(`<iq type='${type}' to='localhost' id='${id}'>${body}</iq>`);
  const text = await c.waitFor(new RegExp(`<iq[^>]*id=['"]${id}['"][\\s\\S]*?(</iq>|/>)`), 5000);
  return (new RegExp(`<iq[^>]*id=['"]${id}['"][^>]*(/>|>[\\s\\S]*?</iq>)`).exec(text) as RegExpExecArray)[0];
}

const field = (name: string, ...values: string[]) =>
  `<field var='${name}'>${values.map((v) => `<value>${v}</value>`).join("")}</field>`;

/** Runs a command in its two stages (§3.2 form, §3.4 submit); returns the final reply. */
async function run(c: RawClient, name: string, ...fields: string[]): Promise<string> {
  const node = `${ADMIN_NS}#${name}`;
  const first = await iq(c, `<command xmlns='${COMMANDS}' node='${node}' action='execute'/>`);
  const sessionid = /sessionid=['"]([^'"]+)['"]/.exec(first)?.[1];
  if (!sessionid) throw new Error(`no session: ${first}`);
  return iq(c, `<command xmlns='${COMMANDS}' node='${node}' sessionid='${sessionid}'>` +
    `<x xmlns='jabber:x:data' type='submit'>${field("FORM_TYPE", ADMIN_NS)}${fields.join("")}</x></command>`);
}

async function withServer(body: (ts: TestServer, admin: RawClient) => Promise<void>, sessionsPerRequester = 5): Promise<void> {
  const ts = await startTestServer({
    accounts: [ADMIN, ROMEO, JULIET],
    configure: (c) => { c.admins = [ADMIN.jid]; c.adhoc.sessionsPerRequester = sessionsPerRequester; },
  });
  const admin = await RawClient.connect(ts.port);
  try {
    await admin.login("admin", ADMIN.password, "console");
    await body(ts, admin);
  } finally {
    admin.destroy();
    await ts.stop();
  }
}

async function canLogIn(ts: TestServer, user: string, password: string): Promise<boolean> {
  const c = await RawClient.connect(ts.port);
  try {
    await c.login(user, password);
    return true;
  } catch {
    return false;
  } finally {
    c.destroy();
  }
}

test("an administrator sees the six commands; anyone else sees none and is forbidden", async () => {
  await withServer(async (ts, admin) => {
    const items = await iq(admin, `<query xmlns='http://jabber.org/protocol/disco#items' node='${COMMANDS}'/>`, "get");
    for (const name of ["add-user", "delete-user", "change-user-password", "get-online-users-list", "end-user-session", "announce"]) {
      assert.match(items, new RegExp(`node=['"]${ADMIN_NS}#${name}['"]`), items);
    }
    const info = await iq(admin, `<query xmlns='http://jabber.org/protocol/disco#info'/>`, "get");
    assert.match(info, new RegExp(`var=['"]${COMMANDS}['"]`));

    const romeo = await RawClient.connect(ts.port);
    try {
      await romeo.login("romeo", ROMEO.password);
      const none = await iq(romeo, `<query xmlns='http://jabber.org/protocol/disco#items' node='${COMMANDS}'/>`, "get");
      assert.not.match(none, /<item/);
      const refused = await iq(romeo, `<command xmlns='${COMMANDS}' node='${ADMIN_NS}#add-user' action='execute'/>`);
      assert.match(refused, /type=['"]error['"]/);
      assert.match(refused, /<forbidden/);
    } finally {
      romeo.destroy();
    }
  });
});

test("add-user: the form, then a new account that can log in; an existing one is a conflict", async () => {
  await withServer(async (ts, admin) => {
    const form = await iq(admin, `<command xmlns='${COMMANDS}' node='${ADMIN_NS}#add-user' action='execute'/>`);
    assert.match(form, /status=['"]executing['"]/);
    assert.match(form, /<x xmlns=['"]jabber:x:data['"] type=['"]form['"]/);
    assert.match(form, /var=['"]accountjid['"] type=['"]jid-single['"]/);
    const done = await run(admin, "add-user", field("accountjid", "mercutio@localhost"), field("password", "queen mab!"), field("password-verify", "queen mab!"));
    assert.match(done, /status=['"]completed['"]/);
    assert.ok(await canLogIn(ts, "mercutio", "queen mab!"), "the new account logs in");

    const again = await run(admin, "add-user", field("accountjid", "romeo@localhost"), field("password", "whatever it is"), field("password-verify", "whatever it is"));
    assert.match(again, /<conflict/);
    const mismatch = await run(admin, "add-user", field("accountjid", "tybalt@localhost"), field("password", "prince of cats"), field("password-verify", "prince of dogs"));
    assert.match(mismatch, /<not-acceptable/);
    const short = await run(admin, "add-user", field("accountjid", "tybalt@localhost"), field("password", "cat"), field("password-verify", "cat"));
    assert.match(short, /<not-acceptable/);
    assert.not.ok(await canLogIn(ts, "tybalt", "prince of cats"));
  });
});

test("change-user-password and delete-user take effect at the next login", async () => {
  await withServer(async (ts, admin) => {
    const changed = await run(admin, "change-user-password", field("accountjid", "romeo@localhost"), field("password", "a new password"));
    assert.match(changed, /status=['"]completed['"]/);
    assert.not.ok(await canLogIn(ts, "romeo", ROMEO.password), "the old password is refused");
    assert.ok(await canLogIn(ts, "romeo", "a new password"));

    const deleted = await run(admin, "delete-user", field("accountjids", "juliet@localhost"));
    assert.match(deleted, /status=['"]completed['"]/);
    assert.not.ok(await canLogIn(ts, "juliet", JULIET.password), "a deleted account cannot log in");
    const unknown = await run(admin, "delete-user", field("accountjids", "nobody@localhost"));
    assert.match(unknown, /<item-not-found/);
  });
});

test("online users, an announcement to them, and ending a session", async () => {
  await withServer(async (ts, admin) => {
    const romeo = await RawClient.connect(ts.port);
    try {
      await romeo.login("romeo", ROMEO.password, "balcony");
      const list = await run(admin, "get-online-users-list", field("max_items", "100"));
      assert.match(list, /type=['"]result['"]/);
      assert.match(list, /<value>romeo@localhost<\/value>/);
      assert.match(list, /<value>admin@localhost<\/value>/);
      assert.not.match(list, /juliet@localhost/);

      const sent = await run(admin, "announce", field("subject", "Maintenance"), field("announcement", "Back at noon", "Thank you"));
      assert.match(sent, /status=['"]completed['"]/);
      const got = await romeo.waitFor(/<message[^>]*type=['"]headline['"][\s\S]*?<\/message>/);
      assert.match(got, /<subject>Maintenance<\/subject><body>Back at noon\nThank you<\/body>/);

      const ended = await run(admin, "end-user-session", field("accountjids", "romeo@localhost/balcony"));
      assert.match(ended, /1 session ended/);
      await romeo.waitFor(/<policy-violation/);
      await romeo.waitClosed();
    } finally {
      romeo.destroy();
    }
  });
});

test("a wrong session id is bad-sessionid; cancel ends the session", async () => {
  await withServer(async (_ts, admin) => {
    const wrong = await iq(admin, `<command xmlns='${COMMANDS}' node='${ADMIN_NS}#announce' sessionid='nope'><x xmlns='jabber:x:data' type='submit'/></command>`);
    assert.match(wrong, /<bad-request[\s\S]*<bad-sessionid xmlns=['"]http:\/\/jabber.org\/protocol\/commands['"]/);
    const first = await iq(admin, `<command xmlns='${COMMANDS}' node='${ADMIN_NS}#announce' action='execute'/>`);
    const sessionid = /sessionid=['"]([^'"]+)['"]/.exec(first)?.[1] ?? "";
    const canceled = await iq(admin, `<command xmlns='${COMMANDS}' node='${ADMIN_NS}#announce' sessionid='${sessionid}' action='cancel'/>`);
    assert.match(canceled, /status=['"]canceled['"]/);
    const after = await iq(admin, `<command xmlns='${COMMANDS}' node='${ADMIN_NS}#announce' sessionid='${sessionid}'><x xmlns='jabber:x:data' type='submit'/></command>`);
    assert.match(after, /<bad-sessionid/);
  });
});

test("open command sessions are bounded per requester: the oldest goes first", async () => {
  await withServer(async (_ts, admin) => {
    const start = async () => {
      const r = await iq(admin, `<command xmlns='${COMMANDS}' node='${ADMIN_NS}#announce' action='execute'/>`);
      return /sessionid=['"]([^'"]+)['"]/.exec(r)?.[1] ?? "";
    };
    const [a, b, c] = [await start(), await start(), await start()];
    const submit = (id: string) => iq(admin, `<command xmlns='${COMMANDS}' node='${ADMIN_NS}#announce' sessionid='${id}'>` +
      `<x xmlns='jabber:x:data' type='submit'>${field("announcement", "hi")}</x></command>`);
    assert.match(await submit(a), /<bad-sessionid/, "the oldest of three was dropped");
    assert.match(await submit(b), /status=['"]completed['"]/);
    assert.match(await submit(c), /status=['"]completed['"]/);
  }, 2);
});

test.run();
