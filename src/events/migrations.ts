// Numbered SQL migrations (migrations/NNN_name.sql) applied in order at
// start-up, each in its own transaction, recorded in schema_migrations.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Database } from "better-sqlite3";

export class MigrationError extends Error {
  constructor(readonly file: string, cause: unknown) {
    super(`migration ${file} failed: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = "MigrationError";
  }
}

/** The repository's migrations/ folder, found by walking up from this module (src/ or dist/src/). */
export function migrationsDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, "migrations");
    if (existsSync(candidate) && existsSync(path.join(dir, "package.json"))) return candidate;
    const up = path.dirname(dir);
    if (up === dir) throw new Error("cannot find the migrations/ folder beside package.json");
    dir = up;
  }
}

export interface AppliedMigration {
  version: number;
  name: string;
}

/** Applies every migration not yet recorded; returns those applied now. */
export function migrate(db: Database, dir = migrationsDir()): AppliedMigration[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`);
  const done = new Set(
    (db.prepare("SELECT version FROM schema_migrations").all() as { version: number }[]).map((r) => r.version));
  const files = readdirSync(dir).filter((f) => /^\d+_.+\.sql$/.test(f)).sort();
  const applied: AppliedMigration[] = [];
  const record = db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)");
  for (const file of files) {
    const version = Number.parseInt(file, 10);
    if (done.has(version)) continue;
    const sql = readFileSync(path.join(dir, file), "utf8");
    try {
      db.transaction(() => {
        db.exec(sql);
        record.run(version, file, new Date().toISOString());
      })();
    } catch (err) {
      throw new MigrationError(file, err);
    }
    applied.push({ version, name: file });
  }
  return applied;
}
