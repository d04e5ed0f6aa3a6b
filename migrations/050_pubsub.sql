-- Publish-subscribe (XEP-0060) and PEP (XEP-0163), src/modules/pubsub.
-- A node's configuration, affiliations and subscriptions are events on the
-- stream `pubsub:<service>/<node>` (the service is pubsub.<domain> or, for
-- PEP, the owner's bare JID); these three tables are their projection.
CREATE TABLE pubsub_nodes (
  service  TEXT NOT NULL,
  node     TEXT NOT NULL,
  owner    TEXT NOT NULL,            -- the bare JID that created it
  config   TEXT NOT NULL,            -- JSON, src/modules/pubsub/node.ts NodeConfig
  version  INTEGER NOT NULL,         -- the stream version the row reflects
  PRIMARY KEY (service, node)
);
CREATE TABLE pubsub_affiliations (
  service     TEXT NOT NULL,
  node        TEXT NOT NULL,
  jid         TEXT NOT NULL,
  affiliation TEXT NOT NULL,
  PRIMARY KEY (service, node, jid)
);
CREATE TABLE pubsub_subscriptions (
  service  TEXT NOT NULL,
  node     TEXT NOT NULL,
  jid      TEXT NOT NULL,            -- the subscribed JID (full or bare, XEP-0060 §6.1)
  PRIMARY KEY (service, node, jid)
);
-- Items are not events: payloads come and go by the node's max_items and
-- would make every node's stream grow without bound. Written inside the
-- turn's transaction (ModuleApi.joinTurn), like the message archive. Order
-- of publication is `seq`; republishing an id moves it to the end.
CREATE TABLE pubsub_items (
  seq        INTEGER PRIMARY KEY AUTOINCREMENT,
  service    TEXT NOT NULL,
  node       TEXT NOT NULL,
  item_id    TEXT NOT NULL,
  publisher  TEXT NOT NULL,
  payload    TEXT NOT NULL,          -- the item's children, serialised
  published  TEXT NOT NULL,          -- ISO-8601
  UNIQUE (service, node, item_id)
);
CREATE INDEX pubsub_items_node ON pubsub_items (service, node, seq);
