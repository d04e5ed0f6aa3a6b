// `parley backup FILE` and `parley restore FILE`. A backup is a ustar archive
// (tar.ts; `tar tf` lists it) of:
//   parley-backup.json  what it is: format, version, when, from where, counts, the database's SHA-256
//   parley.sqlite       a consistent snapshot of the event log and every table, taken with SQLite's
//                       online backup API (better-sqlite3's db.backup) while the server runs: the copy
//                       is of one point in time, whatever the server commits meanwhile
//   tls/…               the generated certificate and key, when there are any
//   uploads/…           uploaded files, when the data directory has them
// Restore puts them into an empty data directory and checks the database
// against the manifest; `parley verify` then compares every projection with
// a replay of the log.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, openSync, readSync, closeSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { PARLEY_VERSION } from "../version.js";
import { TarWriter, readTarEntries, extractTarEntry, readTarText, type TarEntry } from "./tar.js";

export const DATABASE_NAME = "parley.sqlite";
/** Where uploaded files live in the data directory (HTTP File Upload), if anywhere. */
export const UPLOAD_DIR_NAME = "uploads";
const TLS_DIR_NAME = "tls";
const MANIFEST_NAME = "parley-backup.json";
const FORMAT = "parley-backup";
const FORMAT_VERSION = 1;

export interface BackupManifest {
  format: typeof FORMAT;
  formatVersion: number;
  parleyVersion: string;
  createdAt: string;
  dataDir: string;
  database: { sha256: string; bytes: number; events: number; lastSeq: number; accounts: number; schemaVersion: number };
  uploads: { files: number; bytes: number };
  tls: string[];
}

export class BackupError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "BackupError";
  }
}

function sha256File(file: string): string {
  const hash = createHash("sha256");
  const fd = openSync(file, "r");
  try {
    const buffer = Buffer.allocUnsafe(1024 * 1024);
    let at = 0;
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, at);
      if (n === 0) break;
      hash.update(buffer.subarray(0, n));
      at += n;
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest("hex");
}

/** Every regular file under `dir`, as paths relative to it, sorted. */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const entry of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const p = rel === "" ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) walk(p);
      else if (entry.isFile()) out.push(p);
    }
  };
  walk("");
  return out.sort();
}

function snapshotFacts(file: string): BackupManifest["database"] {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const check = db.pragma("quick_check", { simple: true });
    if (check !== "ok") throw new BackupError(`the snapshot fails SQLite's quick_check: ${String(check)}`);
    const events = db.prepare("SELECT COUNT(*) AS n, COALESCE(MAX(seq), 0) AS last FROM events").get() as { n: number; last: number };
    const accounts = (db.prepare("SELECT COUNT(*) AS n FROM accounts").get() as { n: number }).n;
    const schemaVersion = (db.prepare("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations").get() as { v: number }).v;
    return { sha256: "", bytes: 0, events: events.n, lastSeq: events.last, accounts, schemaVersion };
  } finally {
    db.close();
  }
}

/**
 * Writes a backup of `dataDir` to `file` (which must not exist): the
 * database through the online backup API, then the certificate files and
 * uploads. Written to FILE.partial and renamed, so FILE is whole or absent.
 */
export async function backup(dataDir: string, file: string, progress: (line: string) => void = () => {}): Promise<BackupManifest> {
  const source = path.join(dataDir, DATABASE_NAME);
  if (!existsSync(source)) throw new BackupError(`there is no database at ${source}: is --data (or data_dir) the server's data directory?`);
  if (existsSync(file)) throw new BackupError(`${file} exists already: a backup never overwrites a file`);
  const partial = `${file}.partial`;
  const snapshot = `${file}.partial-db`;
  rmSync(partial, { force: true });
  rmSync(snapshot, { force: true });
  let writer: TarWriter | undefined;
  try {
    const db = new Database(source, { readonly: true, fileMustExist: true });
    try {
      // Pages are copied a batch at a time; a write by the server restarts the copy, so the result is one point in time.
      await db.backup(snapshot);
    } finally {
      db.close();
    }
    for (const suffix of ["-wal", "-shm"]) rmSync(snapshot + suffix, { force: true });
    const facts = snapshotFacts(snapshot);
    const database = { ...facts, sha256: sha256File(snapshot), bytes: statSync(snapshot).size };
    progress(`database: ${database.events} events (up to #${database.lastSeq}), ${database.accounts} accounts, ${database.bytes} bytes`);
    const tlsDir = path.join(dataDir, TLS_DIR_NAME);
    const tls = existsSync(tlsDir) ? filesUnder(tlsDir) : [];
    const uploadDir = path.join(dataDir, UPLOAD_DIR_NAME);
    const uploads = existsSync(uploadDir) ? filesUnder(uploadDir) : [];
    const uploadBytes = uploads.reduce((n, f) => n + statSync(path.join(uploadDir, f)).size, 0);
    const manifest: BackupManifest = {
      format: FORMAT, formatVersion: FORMAT_VERSION, parleyVersion: PARLEY_VERSION, createdAt: new Date().toISOString(),
      dataDir: path.resolve(dataDir), database, uploads: { files: uploads.length, bytes: uploadBytes }, tls,
    };
    writer = new TarWriter(partial);
    writer.text(MANIFEST_NAME, JSON.stringify(manifest, null, 2) + "\n");
    writer.file(DATABASE_NAME, snapshot);
    if (tls.length > 0) writer.directory(TLS_DIR_NAME);
    for (const f of tls) writer.file(`${TLS_DIR_NAME}/${f}`, path.join(tlsDir, f));
    if (existsSync(uploadDir)) writer.directory(UPLOAD_DIR_NAME);
    for (const f of uploads) writer.file(`${UPLOAD_DIR_NAME}/${f}`, path.join(uploadDir, f));
    writer.finish();
    renameSync(partial, file);
    if (uploads.length > 0) progress(`uploads: ${uploads.length} files, ${uploadBytes} bytes`);
    return manifest;
  } catch (err) {
    writer?.abandon();
    rmSync(partial, { force: true });
    throw err instanceof BackupError ? err : new BackupError(`backing up ${dataDir} failed: ${(err as Error).message}`, { cause: err });
  } finally {
    for (const suffix of ["", "-wal", "-shm"]) rmSync(snapshot + suffix, { force: true });
  }
}

/** An entry name that stays inside the data directory, under the parts a backup has. */
function safeTarget(dataDir: string, entry: TarEntry, file: string): string {
  const name = entry.name;
  const parts = name.split("/");
  const top = parts[0];
  const allowed = name === MANIFEST_NAME || name === DATABASE_NAME || top === TLS_DIR_NAME || top === UPLOAD_DIR_NAME;
  if (!allowed || path.isAbsolute(name) || parts.some((p) => p === ".." || p === "." || p === "")) {
    throw new BackupError(`${file}: the entry '${name}' is not part of a parley backup`);
  }
  return path.join(dataDir, ...parts);
}

export function readManifest(file: string): { manifest: BackupManifest; entries: TarEntry[] } {
  if (!existsSync(file)) throw new BackupError(`${file} does not exist`);
  const entries = readTarEntries(file);
  const entry = entries.find((e) => e.name === MANIFEST_NAME);
  if (!entry) throw new BackupError(`${file} has no ${MANIFEST_NAME}: not a parley backup`);
  let manifest: BackupManifest;
  try {
    manifest = JSON.parse(readTarText(file, entry)) as BackupManifest;
  } catch (err) {
    throw new BackupError(`${file}: ${MANIFEST_NAME} is not JSON: ${(err as Error).message}`);
  }
  if (manifest.format !== FORMAT) throw new BackupError(`${file}: not a parley backup (format '${String(manifest.format)}')`);
  if (manifest.formatVersion > FORMAT_VERSION) {
    throw new BackupError(`${file} is backup format ${manifest.formatVersion}, newer than this Parley reads (${FORMAT_VERSION}): restore it with Parley ${manifest.parleyVersion} or later`);
  }
  return { manifest, entries };
}

/**
 * Puts a backup into `dataDir`, which must be empty or absent (a restore
 * never mixes with existing data), and checks the database's digest.
 */
export function restore(file: string, dataDir: string): BackupManifest {
  const { manifest, entries } = readManifest(file);
  if (existsSync(dataDir)) {
    if (!statSync(dataDir).isDirectory()) throw new BackupError(`${dataDir} is not a directory`);
    const present = readdirSync(dataDir);
    if (present.length > 0) {
      throw new BackupError(`${dataDir} is not empty (it has ${present.slice(0, 3).join(", ")}${present.length > 3 ? ", …" : ""}): restore only into an empty or new data directory`);
    }
  }
  if (!entries.some((e) => e.name === DATABASE_NAME)) throw new BackupError(`${file} has no ${DATABASE_NAME}`);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  try {
    for (const entry of entries) {
      if (entry.name === MANIFEST_NAME) continue;
      const target = safeTarget(dataDir, entry, file);
      if (entry.type === "directory") {
        mkdirSync(target, { recursive: true, mode: 0o700 });
        continue;
      }
      mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
      extractTarEntry(file, entry, target);
    }
    const digest = sha256File(path.join(dataDir, DATABASE_NAME));
    if (digest !== manifest.database.sha256) {
      throw new BackupError(`${file}: the database's SHA-256 is ${digest}, the manifest says ${manifest.database.sha256}: the backup is damaged`);
    }
  } catch (err) {
    // Nothing half-restored is left behind to be started by mistake.
    for (const name of readdirSync(dataDir)) rmSync(path.join(dataDir, name), { recursive: true, force: true });
    throw err;
  }
  return manifest;
}
