// The reader of Prosody's Lua data files (src/ops/import-prosody/lua-data.ts):
// what util/serialization writes, read back exactly; anything else refused
// with the file and line.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { LuaDataError, LuaTable, parseLuaItems, parseLuaReturn } from "../../src/ops/import-prosody/lua-data.js";
import { decodePathPart, stanzaFrom } from "../../src/ops/import-prosody/prosody-store.js";

test("a keyval file: nested tables, [false] keys, escapes, bytes as UTF-8, numbers", () => {
  const v = parseLuaReturn(`return {
\t[false] = {
\t\t["version"] = 7;
\t};
\t["juliet@localhost"] = {
\t\t["name"] = "Juli\\195\\169t \\"the sun\\"\\n";
\t\t["groups"] = {
\t\t\t["Love"] = true;
\t\t};
\t\t["ratio"] = 0.5;
\t\t["gone"] = nil;
\t};
};
`, "roster/romeo.dat");
  assert.ok(v instanceof LuaTable);
  const t = v as LuaTable;
  assert.is(t.table(false)?.number("version"), 7);
  const item = t.table("juliet@localhost") as LuaTable;
  assert.is(item.string("name"), "Juliét \"the sun\"\n");
  assert.is(item.table("groups")?.get("Love"), true);
  assert.is(item.number("ratio"), 0.5);
  assert.is(item.get("gone"), undefined, "[k] = nil is no entry");
});

test("a list file: item(...) per entry, the array part in order, a stanza rebuilt", () => {
  const items = parseLuaItems(`item({
\t{
\t\t"Friar Laurence\\'s cell";
\t\t["name"] = "body";
\t\t["attr"] = {};
\t};
\t["when"] = 1796224623;
\t["attr"] = {
\t\t["to"] = "nurse@localhost";
\t\t["type"] = "chat";
\t};
\t["name"] = "message";
});
item({ ["name"] = "message"; ["attr"] = { ["xmlns"] = "jabber:client" }; });
`, "offline/nurse.list");
  assert.is(items.length, 2);
  const stanza = stanzaFrom(items[0] ?? null, "offline/nurse.list");
  assert.is(stanza.name, "message");
  assert.is(stanza.attr("to"), "nurse@localhost");
  assert.is(stanza.getChild("body")?.children[0], "Friar Laurence's cell");
  assert.is((items[0] as LuaTable).number("when"), 1796224623);
});

test("anything but data is refused, naming the file and the line", () => {
  const bad: [string, RegExp][] = [
    ["return {\n\t[\"a\"] = os.exit();\n};", /^x\.dat:2: expected a value/],
    ["return {\n\t[\"a\"] = 1;\n\t[\"a\"] = 2;\n};", /^x\.dat:3: the key "a" appears twice/],
    ["return {\n\t[\"a\"] = \"open\n\";}", /^x\.dat:2: a line break inside a string/],
    ["return { [\"a\"] = \"\\q\" };", /^x\.dat:1: unknown escape \\q/],
    ["return { [\"a\"] = \"\\255\\254\" };", /^x\.dat:1: a string is not UTF-8/],
    ["return { 1 }; print(1)", /^x\.dat:1: unexpected/],
    ["return {", /^x\.dat:1: expected a value, found the end of the file/],
    ["local x = 1", /^x\.dat:1: expected 'return'/],
  ];
  for (const [text, message] of bad) {
    try {
      parseLuaReturn(text, "x.dat");
      assert.unreachable(`accepted: ${text}`);
    } catch (err) {
      assert.instance(err, LuaDataError, String(err));
      assert.match((err as Error).message, message);
    }
  }
});

test("datamanager's percent-encoded names decode to UTF-8", () => {
  assert.is(decodePathPart("conference%2eexample%2eorg"), "conference.example.org");
  assert.is(decodePathPart("j%c3%bcrgen"), "jürgen");
});

test.run();
