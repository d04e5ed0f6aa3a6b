// A strict reader for the Lua data files Prosody's internal storage writes
// (util/datamanager.lua with util/serialization.lua): a keyval store file is
// `return <value>;`, a list store file is `item(<value>);` repeated. Values
// are tables (`{ [key] = value; value; ... }`), strings in double or single
// quotes with Lua's escapes, numbers (and `(1/0)`, `(-1/0)`, `(0/0)`),
// `true`, `false` and `nil`. Nothing else is accepted — no names, calls or
// expressions — so a file is data, never code. Errors name the file and line.
export type LuaKey = string | number | boolean;
export type LuaValue = string | number | boolean | null | LuaTable;

/** A Lua table: its keys in file order; positional values have keys 1, 2, … */
export class LuaTable {
  readonly entries = new Map<LuaKey, LuaValue>();

  get(key: LuaKey): LuaValue | undefined {
    return this.entries.get(key);
  }

  /** The array part: values at 1, 2, … up to the first gap. */
  array(): LuaValue[] {
    const out: LuaValue[] = [];
    for (let i = 1; this.entries.has(i); i++) out.push(this.entries.get(i) as LuaValue);
    return out;
  }

  string(key: LuaKey): string | undefined {
    const v = this.entries.get(key);
    return typeof v === "string" ? v : undefined;
  }

  number(key: LuaKey): number | undefined {
    const v = this.entries.get(key);
    return typeof v === "number" ? v : undefined;
  }

  table(key: LuaKey): LuaTable | undefined {
    const v = this.entries.get(key);
    return v instanceof LuaTable ? v : undefined;
  }
}

export class LuaDataError extends Error {
  /** `line` 0: a well-formed file whose content is not what its store holds. */
  constructor(readonly file: string, readonly line: number, readonly reason: string) {
    super(line > 0 ? `${file}:${line}: ${reason}` : `${file}: ${reason}`);
    this.name = "LuaDataError";
  }
}

/** Deeper nesting than any store Prosody writes (its serializer stops at 127). */
const MAX_DEPTH = 128;
const utf8 = new TextDecoder("utf-8", { fatal: true });

class Reader {
  private pos = 0;
  private line = 1;

  constructor(private readonly text: string, private readonly file: string) {}

  fail(reason: string): never {
    throw new LuaDataError(this.file, this.line, reason);
  }

  /** Skips white space (and counts lines); Prosody writes no comments. */
  skip(): void {
    const t = this.text;
    while (this.pos < t.length) {
      const c = t[this.pos];
      if (c === "\n") this.line++;
      else if (c !== " " && c !== "\t" && c !== "\r") return;
      this.pos++;
    }
  }

  atEnd(): boolean {
    this.skip();
    return this.pos >= this.text.length;
  }

  /** Consumes `word` if it is next (a keyword must not run on into a name). */
  accept(word: string): boolean {
    this.skip();
    if (!this.text.startsWith(word, this.pos)) return false;
    if (/^\w/.test(word) && /\w/.test(this.text[this.pos + word.length] ?? "")) return false;
    this.pos += word.length;
    return true;
  }

  expect(word: string): void {
    if (!this.accept(word)) this.fail(`expected '${word}', found ${this.found()}`);
  }

  found(): string {
    this.skip();
    if (this.pos >= this.text.length) return "the end of the file";
    return `'${this.text.slice(this.pos, this.pos + 12).split("\n")[0]}'`;
  }

  value(depth: number): LuaValue {
    this.skip();
    const c = this.text[this.pos];
    if (c === "{") return this.table(depth + 1);
    if (c === '"' || c === "'") return this.string();
    if (this.accept("true")) return true;
    if (this.accept("false")) return false;
    if (this.accept("nil")) return null;
    if (this.accept("(1/0)")) return Infinity;
    if (this.accept("(-1/0)")) return -Infinity;
    if (this.accept("(0/0)")) return NaN;
    const m = /^-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/.exec(this.text.slice(this.pos, this.pos + 64));
    if (m) {
      this.pos += m[0].length;
      return Number(m[0]);
    }
    return this.fail(`expected a value, found ${this.found()}`);
  }

  private table(depth: number): LuaTable {
    if (depth > MAX_DEPTH) this.fail(`tables nested deeper than ${MAX_DEPTH}`);
    this.expect("{");
    const t = new LuaTable();
    let next = 1;
    for (;;) {
      if (this.accept("}")) return t;
      let key: LuaKey;
      let value: LuaValue;
      if (this.accept("[")) {
        const k = this.value(depth);
        if (k === null || k instanceof LuaTable || (typeof k === "number" && Number.isNaN(k))) this.fail("a table key must be a string, number or boolean");
        key = k;
        this.expect("]");
        this.expect("=");
        value = this.value(depth);
      } else {
        this.skip();
        const name = /^[A-Za-z_]\w*/.exec(this.text.slice(this.pos, this.pos + 256));
        const afterName = name ? this.text.slice(this.pos + name[0].length).match(/^[ \t]*=/) : null;
        if (name && afterName && !["true", "false", "nil"].includes(name[0])) {
          // `name = value`: util.serialization writes it with the `unquoted` option.
          this.pos += name[0].length;
          this.expect("=");
          key = name[0];
        } else {
          key = next++;
        }
        value = this.value(depth);
      }
      if (t.entries.has(key)) this.fail(`the key ${JSON.stringify(key)} appears twice`);
      // `[k] = nil` is no entry at all, in Lua.
      if (value !== null) t.entries.set(key, value);
      if (this.accept("}")) return t;
      if (!this.accept(";") && !this.accept(",")) this.fail(`expected ';', ',' or '}', found ${this.found()}`);
    }
  }

  /** A quoted string: its bytes, escapes decoded, read as UTF-8. */
  private string(): string {
    const quote = this.text[this.pos] as string;
    this.pos++;
    const bytes: number[] = [];
    const t = this.text;
    for (;;) {
      if (this.pos >= t.length) this.fail("a string runs to the end of the file");
      const c = t[this.pos] as string;
      this.pos++;
      if (c === quote) break;
      if (c === "\n") this.fail("a line break inside a string");
      if (c !== "\\") {
        for (const b of Buffer.from(c, "utf8")) bytes.push(b);
        continue;
      }
      const e = t[this.pos] ?? "";
      this.pos++;
      const simple: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, "\\": 92, '"': 34, "'": 39, "\n": 10 };
      if (e in simple) {
        if (e === "\n") this.line++;
        bytes.push(simple[e] as number);
      } else if (/\d/.test(e)) {
        const m = /^\d{1,3}/.exec(t.slice(this.pos - 1, this.pos + 2)) as RegExpExecArray;
        const n = Number(m[0]);
        if (n > 255) this.fail(`the escape \\${m[0]} is more than a byte`);
        bytes.push(n);
        this.pos += m[0].length - 1;
      } else if (e === "x") {
        const m = /^[0-9a-fA-F]{2}/.exec(t.slice(this.pos, this.pos + 2));
        if (!m) this.fail("\\x needs two hexadecimal digits");
        bytes.push(parseInt(m[0], 16));
        this.pos += 2;
      } else {
        this.fail(`unknown escape \\${e}`);
      }
    }
    try {
      return utf8.decode(Uint8Array.from(bytes));
    } catch {
      return this.fail("a string is not UTF-8");
    }
  }
}

/** A keyval store file: `return <value>;` */
export function parseLuaReturn(text: string, file: string): LuaValue {
  const r = new Reader(text, file);
  r.expect("return");
  const v = r.value(0);
  r.accept(";");
  if (!r.atEnd()) r.fail(`unexpected ${r.found()} after the value`);
  return v;
}

/** A list store file: `item(<value>);` per item. */
export function parseLuaItems(text: string, file: string): LuaValue[] {
  const r = new Reader(text, file);
  const items: LuaValue[] = [];
  while (!r.atEnd()) {
    r.expect("item");
    r.expect("(");
    items.push(r.value(0));
    r.expect(")");
    r.accept(";");
  }
  return items;
}
