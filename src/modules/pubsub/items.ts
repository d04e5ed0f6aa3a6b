// Published items (XEP-0060 §7.1), in pubsub_items (migrations/050_pubsub.sql):
// module storage, not events. Each write joins the turn's transaction, so an
// item is durable before its notifications or the publisher's result leave.
import type { Database, Statement } from "better-sqlite3";

export interface StoredItem {
  readonly id: string;
  readonly publisher: string;
  /** The item's payload elements, serialised. */
  readonly payload: string;
}

interface Row { item_id: string; publisher: string; payload: string }

export class ItemStore {
  private readonly upsert: Statement<[string, string, string, string, string, string]>;
  private readonly trim: Statement<[string, string, string, string, number]>;
  private readonly latest: Statement<[string, string, number], Row>;
  private readonly byId: Statement<[string, string, string], Row>;
  private readonly remove: Statement<[string, string, string]>;
  private readonly purge: Statement<[string, string]>;
  private readonly purgeService: Statement<[string]>;
  private readonly count: Statement<[string, string], { n: number }>;

  constructor(db: Database, private readonly joinTurn: () => void) {
    // Republishing an id replaces the item and makes it the newest (§7.1.2).
    this.upsert = db.prepare(`INSERT INTO pubsub_items (service, node, item_id, publisher, payload, published) VALUES (?, ?, ?, ?, ?, ?)`);
    this.trim = db.prepare(`DELETE FROM pubsub_items WHERE service = ? AND node = ? AND seq NOT IN
      (SELECT seq FROM pubsub_items WHERE service = ? AND node = ? ORDER BY seq DESC LIMIT ?)`);
    this.latest = db.prepare(`SELECT item_id, publisher, payload FROM
      (SELECT * FROM pubsub_items WHERE service = ? AND node = ? ORDER BY seq DESC LIMIT ?) ORDER BY seq`);
    this.byId = db.prepare("SELECT item_id, publisher, payload FROM pubsub_items WHERE service = ? AND node = ? AND item_id = ?");
    this.remove = db.prepare("DELETE FROM pubsub_items WHERE service = ? AND node = ? AND item_id = ?");
    this.purge = db.prepare("DELETE FROM pubsub_items WHERE service = ? AND node = ?");
    this.purgeService = db.prepare("DELETE FROM pubsub_items WHERE service = ?");
    this.count = db.prepare("SELECT count(*) AS n FROM pubsub_items WHERE service = ? AND node = ?");
  }

  /** Stores an item and keeps only the newest `keep` of the node. */
  publish(service: string, node: string, item: StoredItem, at: string, keep: number): void {
    this.joinTurn();
    this.remove.run(service, node, item.id);
    this.upsert.run(service, node, item.id, item.publisher, item.payload, at);
    this.trim.run(service, node, service, node, keep);
  }

  /** The newest `max` items, oldest first. */
  newest(service: string, node: string, max: number): StoredItem[] {
    return this.latest.all(service, node, max).map(toItem);
  }

  get(service: string, node: string, id: string): StoredItem | undefined {
    const row = this.byId.get(service, node, id);
    return row && toItem(row);
  }

  /** §7.2: true when there was such an item. */
  retract(service: string, node: string, id: string): boolean {
    this.joinTurn();
    return this.remove.run(service, node, id).changes > 0;
  }

  /** §8.5 purge, or the node's deletion. */
  purgeNode(service: string, node: string): void {
    this.joinTurn();
    this.purge.run(service, node);
  }

  /** Every PEP item of a deleted account. */
  purgeAll(service: string): void {
    this.purgeService.run(service);
  }

  size(service: string, node: string): number {
    return this.count.get(service, node)?.n ?? 0;
  }
}

function toItem(r: Row): StoredItem {
  return { id: r.item_id, publisher: r.publisher, payload: r.payload };
}
