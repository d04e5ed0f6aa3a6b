// The slots of XEP-0363 HTTP File Upload in SQLite (migrations/090_http_upload.sql):
// what was promised to whom, what was uploaded, and the sums the quotas check.
import type { Database, Statement } from "better-sqlite3";

export interface Slot {
  readonly id: string;
  readonly owner: string;
  readonly filename: string;
  readonly size: number;
  readonly contentType: string;
  readonly createdAt: number;
  /** A PUT must start before this (ms). */
  readonly expiresAt: number;
  /** When the PUT completed (ms); undefined while the slot is unused. */
  readonly uploadedAt: number | undefined;
}

interface Row {
  id: string; owner: string; filename: string; size: number; content_type: string;
  created_at: number; expires_at: number; uploaded_at: number | null;
}

function slotOf(r: Row): Slot {
  return {
    id: r.id, owner: r.owner, filename: r.filename, size: r.size, contentType: r.content_type,
    createdAt: r.created_at, expiresAt: r.expires_at, uploadedAt: r.uploaded_at ?? undefined,
  };
}

/** Bytes a slot holds: an uploaded file's, or an open slot's (promised, so counted). */
const HOLDS = "(uploaded_at IS NOT NULL OR expires_at > ?)";

export class SlotStore {
  private readonly insertStmt: Statement;
  private readonly getStmt: Statement;
  private readonly markStmt: Statement;
  private readonly ownerBytesStmt: Statement;
  private readonly totalBytesStmt: Statement;
  private readonly recentStmt: Statement;
  private readonly oldestRecentStmt: Statement;
  private readonly ownerIdsStmt: Statement;
  private readonly deleteOwnerStmt: Statement;
  private readonly expiredStmt: Statement;
  private readonly deleteStmt: Statement;

  constructor(private readonly db: Database) {
    this.insertStmt = db.prepare(`INSERT INTO upload_slots (id, owner, filename, size, content_type, created_at, expires_at)
      VALUES (@id, @owner, @filename, @size, @contentType, @createdAt, @expiresAt)`);
    this.getStmt = db.prepare("SELECT * FROM upload_slots WHERE id = ?");
    this.markStmt = db.prepare("UPDATE upload_slots SET uploaded_at = ? WHERE id = ? AND uploaded_at IS NULL");
    this.ownerBytesStmt = db.prepare(`SELECT coalesce(sum(size), 0) AS n FROM upload_slots WHERE owner = ? AND ${HOLDS}`);
    this.totalBytesStmt = db.prepare(`SELECT coalesce(sum(size), 0) AS n FROM upload_slots WHERE ${HOLDS}`);
    this.recentStmt = db.prepare("SELECT count(*) AS n FROM upload_slots WHERE owner = ? AND created_at > ?");
    this.oldestRecentStmt = db.prepare("SELECT min(created_at) AS t FROM upload_slots WHERE owner = ? AND created_at > ?");
    this.ownerIdsStmt = db.prepare("SELECT id FROM upload_slots WHERE owner = ?");
    this.deleteOwnerStmt = db.prepare("DELETE FROM upload_slots WHERE owner = ?");
    this.expiredStmt = db.prepare(`SELECT id FROM upload_slots
      WHERE (uploaded_at IS NULL AND expires_at <= ?) OR (uploaded_at IS NOT NULL AND uploaded_at <= ?) LIMIT ?`);
    this.deleteStmt = db.prepare("DELETE FROM upload_slots WHERE id = ?");
  }

  add(slot: Omit<Slot, "uploadedAt">): void {
    this.insertStmt.run(slot);
  }

  get(id: string): Slot | undefined {
    const row = this.getStmt.get(id) as Row | undefined;
    return row === undefined ? undefined : slotOf(row);
  }

  /** The PUT completed; false when the slot is gone (its account was deleted meanwhile) or was already used. */
  markUploaded(id: string, at: number): boolean {
    return this.markStmt.run(at, id).changes === 1;
  }

  bytesOf(owner: string, now: number): number {
    return (this.ownerBytesStmt.get(owner, now) as { n: number }).n;
  }

  totalBytes(now: number): number {
    return (this.totalBytesStmt.get(now) as { n: number }).n;
  }

  /** Slots `owner` requested after `since`, and when the oldest of them was made. */
  requestedSince(owner: string, since: number): { count: number; oldest: number | undefined } {
    const count = (this.recentStmt.get(owner, since) as { n: number }).n;
    const oldest = (this.oldestRecentStmt.get(owner, since) as { t: number | null }).t ?? undefined;
    return { count, oldest };
  }

  /** Removes an owner's slots; returns their ids (whose files go too). */
  deleteOwner(owner: string): string[] {
    return this.db.transaction(() => {
      const ids = (this.ownerIdsStmt.all(owner) as { id: string }[]).map((r) => r.id);
      this.deleteOwnerStmt.run(owner);
      return ids;
    })();
  }

  /** Slots unused past their expiry, and files uploaded at or before `uploadedBefore`: at most `limit`. */
  expired(now: number, uploadedBefore: number, limit: number): string[] {
    return (this.expiredStmt.all(now, uploadedBefore, limit) as { id: string }[]).map((r) => r.id);
  }

  delete(id: string): void {
    this.deleteStmt.run(id);
  }
}
