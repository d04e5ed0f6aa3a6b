// Reading Prosody's internal file storage (mod_storage_internal over
// util/datamanager.lua): `<data>/<host>/<store>/<user>.dat` for keyval
// stores and `.list` for list (archive) stores. Host and user names are
// percent-encoded (every non-alphanumeric byte as %xx), store names keep
// underscores. Stanzas are kept "preserialized" (util/stanza.lua
// preserialize): a table with `name`, `attr` and the children as its array
// part, strings for text.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { XmlElement, type XmlNode } from "../../xml/element.js";
import { LuaDataError, LuaTable, parseLuaItems, parseLuaReturn, type LuaValue } from "./lua-data.js";

/** datamanager's decode: %xx to the byte, read as UTF-8. */
export function decodePathPart(s: string): string {
  return Buffer.from(s.replace(/%([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))), "latin1").toString("utf8");
}

export class ProsodyDataDir {
  constructor(readonly root: string) {
    if (!existsSync(root) || !statSync(root).isDirectory()) throw new Error(`${root} is not a directory`);
  }

  /** Host folders: decoded name → folder. `_global` (no host) is not one. */
  hosts(): Map<string, string> {
    const out = new Map<string, string>();
    for (const entry of readdirSync(this.root, { withFileTypes: true })) {
      if (!entry.isDirectory() || entry.name === "_global") continue;
      out.set(decodePathPart(entry.name), path.join(this.root, entry.name));
    }
    return out;
  }

  /** Store folders of a host: decoded name (e.g. `pep_urn:xmpp:bookmarks:1`) → folder. */
  storeDirs(hostDir: string): Map<string, string> {
    const out = new Map<string, string>();
    for (const e of readdirSync(hostDir, { withFileTypes: true })) if (e.isDirectory()) out.set(decodePathPart(e.name), path.join(hostDir, e.name));
    return new Map([...out].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  stores(hostDir: string): string[] {
    return [...this.storeDirs(hostDir).keys()];
  }

  /** The users with a file in a store: decoded name → file. */
  users(hostDir: string, store: string, ext: "dat" | "list"): Map<string, string> {
    const dir = this.storeDirs(hostDir).get(store) ?? path.join(hostDir, store);
    const out = new Map<string, string>();
    if (!existsSync(dir)) return out;
    for (const name of readdirSync(dir).sort()) {
      if (name.endsWith(`.${ext}`)) out.set(decodePathPart(name.slice(0, -ext.length - 1)), path.join(dir, name));
    }
    return out;
  }

  keyval(file: string): LuaValue {
    return parseLuaReturn(readFileSync(file, "utf8"), file);
  }

  list(file: string): LuaValue[] {
    return parseLuaItems(readFileSync(file, "utf8"), file);
  }
}

/**
 * A preserialized stanza as an element. `ns`: the namespace in scope (a
 * child without xmlns inherits it). Throws LuaDataError on a malformed one.
 */
export function stanzaFrom(value: LuaValue, file: string, ns = "jabber:client"): XmlElement {
  if (!(value instanceof LuaTable)) throw new LuaDataError(file, 0, "a stored stanza is not a table");
  const name = value.string("name");
  if (name === undefined || name === "") throw new LuaDataError(file, 0, "a stored stanza has no name");
  const attrs: Record<string, string> = {};
  const attrTable = value.table("attr");
  let own = ns;
  if (attrTable) {
    for (const [k, v] of attrTable.entries) {
      if (typeof k !== "string" || typeof v !== "string") continue;
      if (k === "xmlns") own = v;
      else attrs[k] = v;
    }
  }
  const children: XmlNode[] = [];
  for (const c of value.array()) {
    if (typeof c === "string") children.push(c);
    else children.push(stanzaFrom(c, file, own));
  }
  return new XmlElement(name, own, attrs, children);
}
