// Just enough of POSIX ustar (IEEE Std 1003.1, "pax" format's base) to write
// and read `parley backup` files: regular files and directories, names split
// into prefix and name, sizes up to 8 GiB. `tar tf FILE` and `tar xf FILE`
// read what this writes. Files are copied in chunks, never whole in memory.
import { closeSync, fstatSync, openSync, readSync, writeSync } from "node:fs";

const BLOCK = 512;
const CHUNK = 1024 * 1024;

export class TarError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TarError";
  }
}

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, "0") + "\0";
}

/** Splits a path into ustar's prefix (155 bytes) and name (100 bytes) at a slash. */
function splitName(name: string): { prefix: string; name: string } {
  if (Buffer.byteLength(name) <= 100) return { prefix: "", name };
  for (let i = name.lastIndexOf("/"); i > 0; i = name.lastIndexOf("/", i - 1)) {
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(rest) <= 100) return { prefix, name: rest };
  }
  throw new TarError(`the path '${name}' is too long for a ustar archive`);
}

function header(name: string, size: number, mode: number, mtime: number, type: "0" | "5"): Buffer {
  const h = Buffer.alloc(BLOCK, 0);
  const split = splitName(name);
  h.write(split.name, 0, 100, "utf8");
  h.write(octal(mode & 0o7777, 8), 100, 8, "ascii");
  h.write(octal(0, 8), 108, 8, "ascii");
  h.write(octal(0, 8), 116, 8, "ascii");
  h.write(octal(size, 12), 124, 12, "ascii");
  h.write(octal(Math.floor(mtime / 1000), 12), 136, 12, "ascii");
  h.write("        ", 148, 8, "ascii");
  h.write(type, 156, 1, "ascii");
  h.write("ustar\0", 257, 6, "ascii");
  h.write("00", 263, 2, "ascii");
  h.write(split.prefix, 345, 155, "utf8");
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(octal(sum, 7) + " ", 148, 8, "ascii");
  return h;
}

export class TarWriter {
  private readonly fd: number;
  private finished = false;

  constructor(file: string) {
    this.fd = openSync(file, "wx", 0o600);
  }

  directory(name: string, mtime = Date.now()): void {
    writeSync(this.fd, header(name.endsWith("/") ? name : `${name}/`, 0, 0o700, mtime, "5"));
  }

  /** Copies the file at `source` into the archive as `name`. */
  file(name: string, source: string): void {
    const fd = openSync(source, "r");
    try {
      const stat = fstatSync(fd);
      writeSync(this.fd, header(name, stat.size, 0o600, stat.mtimeMs, "0"));
      const buffer = Buffer.allocUnsafe(CHUNK);
      let copied = 0;
      while (copied < stat.size) {
        const n = readSync(fd, buffer, 0, Math.min(CHUNK, stat.size - copied), copied);
        if (n === 0) throw new TarError(`${source} shrank while it was being archived`);
        writeSync(this.fd, buffer, 0, n);
        copied += n;
      }
      const pad = (BLOCK - (stat.size % BLOCK)) % BLOCK;
      if (pad > 0) writeSync(this.fd, Buffer.alloc(pad, 0));
    } finally {
      closeSync(fd);
    }
  }

  /** A small file from memory (the manifest). */
  text(name: string, content: string): void {
    const data = Buffer.from(content, "utf8");
    writeSync(this.fd, header(name, data.length, 0o600, Date.now(), "0"));
    writeSync(this.fd, data);
    const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
    if (pad > 0) writeSync(this.fd, Buffer.alloc(pad, 0));
  }

  /** Two zero blocks end the archive. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    writeSync(this.fd, Buffer.alloc(BLOCK * 2, 0));
    closeSync(this.fd);
  }

  abandon(): void {
    if (!this.finished) closeSync(this.fd);
    this.finished = true;
  }
}

export interface TarEntry {
  name: string;
  type: "file" | "directory";
  size: number;
  /** Byte offset of the content in the archive. */
  offset: number;
}

function field(h: Buffer, start: number, length: number): string {
  const raw = h.subarray(start, start + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end < 0 ? length : end).toString("utf8");
}

/** The entries of a ustar archive, checking each header's checksum. */
export function readTarEntries(file: string): TarEntry[] {
  const fd = openSync(file, "r");
  try {
    const size = fstatSync(fd).size;
    const entries: TarEntry[] = [];
    const h = Buffer.alloc(BLOCK);
    let at = 0;
    while (at + BLOCK <= size) {
      readSync(fd, h, 0, BLOCK, at);
      if (h.every((b) => b === 0)) return entries;
      let sum = 0;
      for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : (h[i] as number);
      const recorded = parseInt(field(h, 148, 8).trim(), 8);
      if (sum !== recorded) throw new TarError(`${file}: the header at byte ${at} is damaged (checksum ${recorded}, computed ${sum}): not a parley backup, or truncated`);
      const prefix = field(h, 345, 155);
      const name = prefix === "" ? field(h, 0, 100) : `${prefix}/${field(h, 0, 100)}`;
      const length = parseInt(field(h, 124, 12).trim() || "0", 8);
      const type = field(h, 156, 1);
      if (type !== "0" && type !== "" && type !== "5") throw new TarError(`${file}: '${name}' is neither a file nor a directory (type '${type}')`);
      entries.push({ name: name.replace(/\/$/, ""), type: type === "5" ? "directory" : "file", size: length, offset: at + BLOCK });
      at += BLOCK + Math.ceil(length / BLOCK) * BLOCK;
      if (at > size) throw new TarError(`${file} is truncated: '${name}' runs past its end`);
    }
    throw new TarError(`${file} is truncated: it has no end-of-archive blocks`);
  } finally {
    closeSync(fd);
  }
}

/** Copies one entry's content out of the archive into `target` (created, mode 0600). */
export function extractTarEntry(file: string, entry: TarEntry, target: string): void {
  const from = openSync(file, "r");
  const to = openSync(target, "wx", 0o600);
  try {
    const buffer = Buffer.allocUnsafe(CHUNK);
    let copied = 0;
    while (copied < entry.size) {
      const n = readSync(from, buffer, 0, Math.min(CHUNK, entry.size - copied), entry.offset + copied);
      if (n === 0) throw new TarError(`${file} is truncated inside '${entry.name}'`);
      writeSync(to, buffer, 0, n);
      copied += n;
    }
  } finally {
    closeSync(from);
    closeSync(to);
  }
}

/** One entry's content as text (the manifest). */
export function readTarText(file: string, entry: TarEntry): string {
  const fd = openSync(file, "r");
  try {
    const buffer = Buffer.alloc(entry.size);
    readSync(fd, buffer, 0, entry.size, entry.offset);
    return buffer.toString("utf8");
  } finally {
    closeSync(fd);
  }
}
