// Comparing projection tables with the log: `verify` replays the log into a
// scratch in-memory database and compares, writing nothing; `rebuild`
// replays into the live tables and reports what was different before.
import { EventStore, type Projection } from "../events/store.js";
import { registerStandardProjections, snapshotTables, checksumProjection } from "../projections/index.js";

export interface ProjectionReport {
  name: string;
  liveChecksum: string;
  logChecksum: string;
  ok: boolean;
  /** Tables whose rows differ, with row counts live → from the log. */
  differences: string[];
}

function compare(p: Projection, live: EventStore, fromLog: EventStore): ProjectionReport {
  const a = snapshotTables(live.db, p.tables);
  const b = snapshotTables(fromLog.db, p.tables);
  const differences: string[] = [];
  for (const t of p.tables) {
    if (JSON.stringify(a[t]) !== JSON.stringify(b[t])) differences.push(`${t}: ${a[t]?.length ?? 0} rows live, ${b[t]?.length ?? 0} from the log`);
  }
  const liveChecksum = checksumProjection(live.db, p);
  const logChecksum = checksumProjection(fromLog.db, p);
  return { name: p.name, liveChecksum, logChecksum, ok: differences.length === 0, differences };
}

/** Replays the whole log into a scratch database and compares every projection. */
export function verifyProjections(live: EventStore): ProjectionReport[] {
  const scratch = EventStore.open(":memory:");
  try {
    registerStandardProjections(scratch);
    const projections = scratch.projectionsRegistered();
    scratch.db.transaction(() => {
      for (const e of live.readAll()) for (const p of projections) p.apply(scratch.db, e);
    })();
    return projections.map((p) => compare(p, live, scratch));
  } finally {
    scratch.close();
  }
}

/** Rebuilds the live projections from the log; reports, per projection, whether it had diverged. */
export function rebuildAndReport(live: EventStore): ProjectionReport[] {
  const before = verifyProjections(live);
  live.rebuildProjections();
  const after = live.projectionsRegistered().map((p) => checksumProjection(live.db, p));
  return before.map((r, i) => ({ ...r, logChecksum: after[i] ?? r.logChecksum }));
}
