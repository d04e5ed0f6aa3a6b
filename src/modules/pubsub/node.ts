// A pubsub node's event-sourced state (XEP-0060): configuration, affiliations
// and subscriptions, decided and folded as the account decider does rosters.
// `decideNode` is pure (time and the requester's standing enter as data);
// `evolveNode` folds one event. Items are not here: they are module storage
// (items.ts), bounded by the node's max_items.
import { el } from "../../xml/element.js";
import { StanzaError, type StanzaErrorSpec } from "../../xmpp/errors.js";

export const NS_PUBSUB = "http://jabber.org/protocol/pubsub";
export const NS_PUBSUB_OWNER = "http://jabber.org/protocol/pubsub#owner";
export const NS_PUBSUB_EVENT = "http://jabber.org/protocol/pubsub#event";
export const NS_PUBSUB_ERRORS = "http://jabber.org/protocol/pubsub#errors";

export type AccessModel = "authorize" | "open" | "presence" | "roster" | "whitelist";
export type PublishModel = "publishers" | "subscribers" | "open";
export type SendLast = "never" | "on_sub" | "on_sub_and_presence";
export type ItemReply = "owner" | "publisher" | "none";
/** XEP-0060 §4.1; "none" removes the affiliation. */
export type Affiliation = "owner" | "publisher" | "publish-only" | "member" | "none" | "outcast";

/** XEP-0060 §16.4.4 pubsub#node_config, the fields Parley keeps. */
export interface NodeConfig {
  title: string;
  description: string;
  type: string;
  /** Items kept; "max" is the server's limit ([pubsub] max_items). */
  maxItems: number | "max";
  persistItems: boolean;
  accessModel: AccessModel;
  rosterGroupsAllowed: string[];
  publishModel: PublishModel;
  sendLastPublishedItem: SendLast;
  deliverNotifications: boolean;
  deliverPayloads: boolean;
  notificationType: "normal" | "headline";
  notifyDelete: boolean;
  notifyRetract: boolean;
  itemreply: ItemReply;
}

export interface NodeState {
  readonly service: string;
  readonly node: string;
  readonly owner: string;
  readonly config: NodeConfig;
  /** Bare JID → affiliation (never "none"). */
  readonly affiliations: ReadonlyMap<string, Affiliation>;
  /** Subscribed JIDs, full or bare as they subscribed. */
  readonly subscriptions: ReadonlySet<string>;
}

export type NodeEvent =
  | { type: "PubsubNodeCreated"; payload: { service: string; node: string; owner: string; config: NodeConfig } }
  | { type: "PubsubNodeConfigured"; payload: { service: string; node: string; config: NodeConfig } }
  | { type: "PubsubNodeDeleted"; payload: { service: string; node: string } }
  | { type: "PubsubAffiliationChanged"; payload: { service: string; node: string; jid: string; affiliation: Affiliation } }
  | { type: "PubsubSubscriptionChanged"; payload: { service: string; node: string; jid: string; subscribed: boolean } };

export const NODE_EVENT_TYPES: ReadonlySet<string> = new Set([
  "PubsubNodeCreated", "PubsubNodeConfigured", "PubsubNodeDeleted", "PubsubAffiliationChanged", "PubsubSubscriptionChanged",
]);

export function nodeStreamId(service: string, node: string): string {
  return `pubsub:${service}/${node}`;
}

/** Prosody's defaults: PEP nodes are for contacts (presence, one item), a service's are open. */
export function defaultConfig(kind: "pep" | "service"): NodeConfig {
  return {
    title: "", description: "", type: "",
    maxItems: kind === "pep" ? 1 : 20,
    persistItems: true,
    accessModel: kind === "pep" ? "presence" : "open",
    rosterGroupsAllowed: [],
    publishModel: "publishers",
    sendLastPublishedItem: kind === "pep" ? "on_sub_and_presence" : "never",
    deliverNotifications: true,
    deliverPayloads: true,
    notificationType: "headline",
    notifyDelete: true,
    notifyRetract: true,
    itemreply: "none",
  };
}

export type NodeCommand =
  | { kind: "create"; config: NodeConfig }
  | { kind: "configure"; config: NodeConfig }
  | { kind: "delete" }
  | { kind: "affiliations"; changes: readonly { jid: string; affiliation: Affiliation }[] }
  | { kind: "subscribe"; jid: string }
  | { kind: "unsubscribe"; jid: string };

export interface NodeContext {
  readonly service: string;
  readonly node: string;
  /** The requester's bare JID. */
  readonly actor: string;
  /** May create nodes here (an admin, or the PEP owner). */
  readonly mayCreate: boolean;
  /** For the presence access model: the owner shares presence with the requester. */
  readonly actorSeesPresence: boolean;
  /** For the roster access model: the requester's groups in the owner's roster. */
  readonly actorGroups?: readonly string[];
}

function fail(spec: StanzaErrorSpec): never {
  throw new StanzaError(spec);
}

function pubsubError(condition: StanzaErrorSpec["condition"], name: string, text?: string): StanzaErrorSpec {
  return { condition, extra: el(name, NS_PUBSUB_ERRORS), ...(text === undefined ? {} : { text }) };
}

export function affiliationOf(state: NodeState, jid: string): Affiliation {
  return state.affiliations.get(jid) ?? "none";
}

/** XEP-0060 §6.1.3: whether the requester may subscribe to or retrieve from the node. */
export function mayAccess(state: NodeState, actor: string, seesPresence: boolean, groups: readonly string[] = []): boolean {
  const aff = affiliationOf(state, actor);
  if (aff === "outcast") return false;
  if (aff === "owner" || aff === "publisher" || aff === "member") return true;
  switch (state.config.accessModel) {
    case "open": return true;
    case "presence": return seesPresence;
    case "roster": return groups.some((g) => state.config.rosterGroupsAllowed.includes(g));
    case "whitelist":
    case "authorize": return false;
  }
}

/** XEP-0060 §7.1.3.1: the publish model. */
export function mayPublish(state: NodeState, actor: string): boolean {
  const aff = affiliationOf(state, actor);
  if (aff === "owner" || aff === "publisher" || aff === "publish-only") return true;
  if (aff === "outcast") return false;
  if (state.config.publishModel === "open") return true;
  if (state.config.publishModel === "subscribers") return [...state.subscriptions].some((j) => j === actor || j.startsWith(`${actor}/`));
  return false;
}

const meta = (c: NodeContext) => ({ service: c.service, node: c.node });

/** decide(command, state) → events, or a StanzaError for an illegal command. */
export function decideNode(command: NodeCommand, state: NodeState | undefined, c: NodeContext): NodeEvent[] {
  if (command.kind === "create") {
    if (!c.mayCreate) fail({ condition: "forbidden" });
    if (state) fail({ condition: "conflict" }); // §8.1.3
    return [{ type: "PubsubNodeCreated", payload: { ...meta(c), owner: c.actor, config: command.config } }];
  }
  if (!state) fail({ condition: "item-not-found" });
  const owner = affiliationOf(state, c.actor) === "owner";
  switch (command.kind) {
    case "configure":
      if (!owner) fail({ condition: "forbidden" }); // §8.2.3.3
      return [{ type: "PubsubNodeConfigured", payload: { ...meta(c), config: command.config } }];
    case "delete":
      if (!owner) fail({ condition: "forbidden" }); // §8.4.3.1
      return [{ type: "PubsubNodeDeleted", payload: meta(c) }];
    case "affiliations": {
      if (!owner) fail({ condition: "forbidden" }); // §8.9.2.3
      const events: NodeEvent[] = [];
      for (const ch of command.changes) {
        // §8.9.2.4: the owner may not strip the last owner.
        if (ch.jid === c.actor && ch.affiliation !== "owner") fail({ condition: "not-acceptable", text: "The owner cannot give up ownership" });
        if (affiliationOf(state, ch.jid) === ch.affiliation) continue;
        events.push({ type: "PubsubAffiliationChanged", payload: { ...meta(c), jid: ch.jid, affiliation: ch.affiliation } });
      }
      return events;
    }
    case "subscribe": {
      // §6.1.3.1: the subscribed JID must be the requester's own.
      if (bareOf(command.jid) !== c.actor) fail({ ...pubsubError("bad-request", "invalid-jid"), text: "You may subscribe only your own JID" });
      if (!mayAccess(state, c.actor, c.actorSeesPresence, c.actorGroups)) {
        const model = state.config.accessModel;
        if (model === "presence") fail(pubsubError("not-authorized", "presence-subscription-required"));
        if (model === "roster") fail(pubsubError("not-authorized", "not-in-roster-group"));
        fail(pubsubError("not-allowed", "closed-node"));
      }
      if (state.subscriptions.has(command.jid)) return [];
      return [{ type: "PubsubSubscriptionChanged", payload: { ...meta(c), jid: command.jid, subscribed: true } }];
    }
    case "unsubscribe":
      if (bareOf(command.jid) !== c.actor && !owner) fail({ ...pubsubError("bad-request", "invalid-jid") }); // §6.2.3.3
      if (!state.subscriptions.has(command.jid)) fail({ ...pubsubError("unexpected-request", "not-subscribed") }); // §6.2.3.2
      return [{ type: "PubsubSubscriptionChanged", payload: { ...meta(c), jid: command.jid, subscribed: false } }];
  }
}

export function bareOf(jid: string): string {
  const slash = jid.indexOf("/");
  return slash < 0 ? jid : jid.slice(0, slash);
}

/** evolve(state, event) → state; undefined: the node does not exist. */
export function evolveNode(state: NodeState | undefined, event: NodeEvent): NodeState | undefined {
  switch (event.type) {
    case "PubsubNodeCreated":
      return {
        service: event.payload.service, node: event.payload.node, owner: event.payload.owner, config: event.payload.config,
        affiliations: new Map([[event.payload.owner, "owner" as const]]), subscriptions: new Set(),
      };
    case "PubsubNodeConfigured":
      return state && { ...state, config: event.payload.config };
    case "PubsubNodeDeleted":
      return undefined;
    case "PubsubAffiliationChanged": {
      if (!state) return state;
      const affiliations = new Map(state.affiliations);
      if (event.payload.affiliation === "none") affiliations.delete(event.payload.jid);
      else affiliations.set(event.payload.jid, event.payload.affiliation);
      return { ...state, affiliations };
    }
    case "PubsubSubscriptionChanged": {
      if (!state) return state;
      const subscriptions = new Set(state.subscriptions);
      if (event.payload.subscribed) subscriptions.add(event.payload.jid);
      else subscriptions.delete(event.payload.jid);
      return { ...state, subscriptions };
    }
  }
}

