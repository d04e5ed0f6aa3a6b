// Secrets the server keeps across restarts, made once at random and stored
// in the database (mode 0600, like everything in the data directory).
import { randomBytes } from "node:crypto";
import type { Database } from "better-sqlite3";

export function loadOrCreateSecret(db: Database, name: string, octets = 32): Buffer {
  const row = db.prepare("SELECT value FROM server_secrets WHERE name = ?").get(name) as { value: Buffer } | undefined;
  if (row) return row.value;
  const value = randomBytes(octets);
  db.prepare("INSERT OR IGNORE INTO server_secrets (name, value) VALUES (?, ?)").run(name, value);
  return (db.prepare("SELECT value FROM server_secrets WHERE name = ?").get(name) as { value: Buffer }).value;
}
