// The projections the server registers, and the tools to compare live
// tables with a rebuild from the log.
import { createHash } from "node:crypto";
import type { Database } from "better-sqlite3";
import type { EventStore, Projection } from "../events/store.js";
import { accountsProjection } from "./accounts.js";
import { rosterProjection } from "./roster.js";
import { accountSnapshots, DEFAULT_SNAPSHOT_EVERY, type SnapshotOffer } from "./account-snapshots.js";
import { MODULE_PROJECTIONS } from "../modules/projections.js";

export const STANDARD_PROJECTIONS: readonly Projection[] = [accountsProjection, rosterProjection];

export interface StandardProjectionOptions {
  /** Stream versions between account snapshots (default DEFAULT_SNAPSHOT_EVERY). */
  snapshotEvery?: number;
}

/**
 * The accounts and roster projections, the account snapshots (account-snapshots.ts), the feature modules' own
 * (src/modules/projections.ts) and any `extra`, in that order. Returns the
 * snapshot writer, to which an appender that holds the state it appends from
 * may offer it (the kernel does).
 */
export function registerStandardProjections(store: EventStore, extra: readonly Projection[] = [], options: StandardProjectionOptions = {}): SnapshotOffer {
  const snapshots = accountSnapshots(store, options.snapshotEvery ?? DEFAULT_SNAPSHOT_EVERY);
  for (const p of [...STANDARD_PROJECTIONS, snapshots, ...MODULE_PROJECTIONS, ...extra]) {
    store.registerProjection(p);
  }
  return snapshots;
}

/** Every row of the tables, ordered by every column: a deterministic dump. */
export function snapshotTables(db: Database, tables: readonly string[]): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  for (const table of tables) {
    const columns = (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name);
    const order = columns.map((_, i) => String(i + 1)).join(", ");
    out[table] = db.prepare(`SELECT * FROM ${table} ORDER BY ${order}`).all();
  }
  return out;
}

export function checksumProjection(db: Database, p: Projection): string {
  return createHash("sha256").update(JSON.stringify(snapshotTables(db, p.tables))).digest("hex");
}
