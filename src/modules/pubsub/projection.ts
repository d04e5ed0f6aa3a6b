// Projection of pubsub node streams (node.ts events) into pubsub_nodes,
// pubsub_affiliations and pubsub_subscriptions, from which the module loads
// every node at start. Rebuilt from the log like the account projections.
import type { Database } from "better-sqlite3";
import type { Projection, StoredEvent } from "../../events/store.js";
import { statement } from "../../projections/statements.js";
import { NODE_EVENT_TYPES, type NodeEvent } from "./node.js";

function isNodeEvent(e: StoredEvent): e is StoredEvent & NodeEvent {
  return NODE_EVENT_TYPES.has(e.type);
}

export const pubsubProjection: Projection = {
  name: "pubsub",
  tables: ["pubsub_nodes", "pubsub_affiliations", "pubsub_subscriptions"],
  apply(db: Database, event: StoredEvent): void {
    if (!isNodeEvent(event)) return;
    const { service, node } = event.payload;
    const bump = () => statement(db, "UPDATE pubsub_nodes SET version = ? WHERE service = ? AND node = ?").run(event.streamVersion, service, node);
    switch (event.type) {
      case "PubsubNodeCreated":
        statement(db, "INSERT INTO pubsub_nodes (service, node, owner, config, version) VALUES (?, ?, ?, ?, ?)")
          .run(service, node, event.payload.owner, JSON.stringify(event.payload.config), event.streamVersion);
        statement(db, "INSERT INTO pubsub_affiliations (service, node, jid, affiliation) VALUES (?, ?, ?, 'owner')").run(service, node, event.payload.owner);
        return;
      case "PubsubNodeConfigured":
        statement(db, "UPDATE pubsub_nodes SET config = ?, version = ? WHERE service = ? AND node = ?")
          .run(JSON.stringify(event.payload.config), event.streamVersion, service, node);
        return;
      case "PubsubNodeDeleted":
        for (const t of ["pubsub_nodes", "pubsub_affiliations", "pubsub_subscriptions"]) {
          statement(db, `DELETE FROM ${t} WHERE service = ? AND node = ?`).run(service, node);
        }
        return;
      case "PubsubAffiliationChanged":
        statement(db, "DELETE FROM pubsub_affiliations WHERE service = ? AND node = ? AND jid = ?").run(service, node, event.payload.jid);
        if (event.payload.affiliation !== "none") {
          statement(db, "INSERT INTO pubsub_affiliations (service, node, jid, affiliation) VALUES (?, ?, ?, ?)")
            .run(service, node, event.payload.jid, event.payload.affiliation);
        }
        bump();
        return;
      case "PubsubSubscriptionChanged":
        if (event.payload.subscribed) {
          statement(db, "INSERT OR IGNORE INTO pubsub_subscriptions (service, node, jid) VALUES (?, ?, ?)").run(service, node, event.payload.jid);
        } else {
          statement(db, "DELETE FROM pubsub_subscriptions WHERE service = ? AND node = ? AND jid = ?").run(service, node, event.payload.jid);
        }
        bump();
        return;
    }
  },
  reset(db: Database): void {
    db.exec("DELETE FROM pubsub_nodes; DELETE FROM pubsub_affiliations; DELETE FROM pubsub_subscriptions;");
  },
};
