// The publish-subscribe engine (XEP-0060) behind both the pubsub.<domain>
// component and PEP (XEP-0163) on every account: one <pubsub/> request in,
// its result out (or a StanzaError), with node changes appended as events
// (node.ts decides, the projection and the in-memory map fold) and items in
// pubsub_items. Who hears a notification is the caller's business (`Audience`):
// a service's subscribers, or a PEP owner's interested resources and contacts.
import { randomUUID } from "node:crypto";
import type { Database } from "better-sqlite3";
import { el, type XmlElement } from "../../xml/element.js";
import { serialize } from "../../xml/serialize.js";
import { parseFragment } from "../../xml/fragment.js";
import { StanzaError } from "../../xmpp/errors.js";
import type { Jid } from "../../jid/jid.js";
import type { EventCause } from "../../events/types.js";
import type { ModuleEventLog } from "../../kernel/module-api.js";
import type { PubsubConfig } from "../../config.js";
import {
  NS_PUBSUB, NS_PUBSUB_OWNER, NS_PUBSUB_EVENT, NS_PUBSUB_ERRORS, decideNode, evolveNode, nodeStreamId, defaultConfig, mayAccess, mayPublish,
  affiliationOf, type Affiliation, type NodeCommand, type NodeConfig, type NodeEvent, type NodeState,
} from "./node.js";
import { applyConfig, checkPreconditions, configForm, formType, formValues, NODE_CONFIG, NS_DATA, PUBLISH_OPTIONS } from "./forms.js";
import { ItemStore, type StoredItem } from "./items.js";

/** One pubsub service: a component's domain, or a PEP owner's bare JID. */
export interface ServiceContext {
  readonly service: string;
  readonly kind: "pep" | "service";
  /** The requester's full JID. */
  readonly requester: Jid;
  /** May create nodes (an admin at the component, the owner on PEP). */
  readonly mayCreate: boolean;
  /** The PEP owner shares presence with the requester (presence access model). */
  readonly seesPresence: boolean;
  /** The requester's groups in the PEP owner's roster (roster access model). */
  readonly rosterGroups?: readonly string[];
  /** Whom the node's notifications reach, and how to send them. */
  readonly audience: Audience;
  /** After an item is stored and its notifications are out (PEP: the `pep/published` hook). */
  readonly published?: (node: string, id: string, payload: XmlElement | undefined) => void;
  /** After an item is retracted (PEP: the `pep/retracted` hook). */
  readonly retracted?: (node: string, id: string) => void;
}

export interface Audience {
  /** Sends an event (§7.1.2.1, §7.2.2.1, §8.4.2) to everyone who should hear it of this node. */
  broadcast(state: NodeState, event: XmlElement): void;
  /** Sends an event to one JID (the last item on subscribing, §6.1.7). */
  sendTo(state: NodeState, jid: string, event: XmlElement): void;
}

export interface RequestOutcome {
  readonly result: XmlElement | null;
  /** Runs after the result is sent (the last item after a subscription's result). */
  readonly after?: () => void;
}

const nodeKey = (service: string, node: string) => `${service}\u0000${node}`;

const perr = (condition: "bad-request" | "item-not-found" | "not-acceptable" | "feature-not-implemented" | "forbidden" | "policy-violation", name?: string, text?: string) =>
  new StanzaError({ condition, ...(name === undefined ? {} : { extra: el(name, NS_PUBSUB_ERRORS) }), ...(text === undefined ? {} : { text }) });

export class PubsubEngine {
  /** service → node → state: a service's nodes are found without a scan of all of them. */
  private readonly byService = new Map<string, Map<string, NodeState>>();
  private readonly versions = new Map<string, number>();
  readonly items: ItemStore;

  constructor(private readonly db: Database, private readonly events: ModuleEventLog, private readonly limits: PubsubConfig,
    joinTurn: () => void, private readonly now: () => Date) {
    this.items = new ItemStore(db, joinTurn);
    this.load();
  }

  /** Every node from the projection (pubsub_nodes and its two tables), each table read once. */
  private load(): void {
    type NodeRow = { service: string; node: string; owner: string; config: string; version: number };
    const affs = new Map<string, Map<string, Affiliation>>();
    for (const a of this.db.prepare("SELECT service, node, jid, affiliation FROM pubsub_affiliations").iterate() as Iterable<{ service: string; node: string; jid: string; affiliation: Affiliation }>) {
      const key = nodeKey(a.service, a.node);
      let m = affs.get(key);
      if (!m) affs.set(key, (m = new Map()));
      m.set(a.jid, a.affiliation);
    }
    const subs = new Map<string, Set<string>>();
    for (const r of this.db.prepare("SELECT service, node, jid FROM pubsub_subscriptions").iterate() as Iterable<{ service: string; node: string; jid: string }>) {
      const key = nodeKey(r.service, r.node);
      let set = subs.get(key);
      if (!set) subs.set(key, (set = new Set()));
      set.add(r.jid);
    }
    for (const r of this.db.prepare("SELECT service, node, owner, config, version FROM pubsub_nodes").iterate() as Iterable<NodeRow>) {
      const key = nodeKey(r.service, r.node);
      this.put({
        service: r.service, node: r.node, owner: r.owner, config: { ...defaultConfig("service"), ...(JSON.parse(r.config) as NodeConfig) },
        affiliations: affs.get(key) ?? new Map(), subscriptions: subs.get(key) ?? new Set(),
      });
      this.versions.set(key, r.version);
    }
  }

  private put(state: NodeState): void {
    let m = this.byService.get(state.service);
    if (!m) this.byService.set(state.service, (m = new Map()));
    m.set(state.node, state);
  }

  private remove(service: string, node: string): void {
    const m = this.byService.get(service);
    m?.delete(node);
    if (m && m.size === 0) this.byService.delete(service);
  }

  node(service: string, node: string): NodeState | undefined {
    return this.byService.get(service)?.get(node);
  }

  /** The nodes of one service, in creation order. */
  nodesOf(service: string): NodeState[] {
    return [...(this.byService.get(service)?.values() ?? [])];
  }

  maxItemsOf(config: NodeConfig): number {
    return config.maxItems === "max" ? this.limits.maxItems : Math.min(config.maxItems, this.limits.maxItems);
  }

  /** Decide, append, fold: the node's stream at its current version. */
  run(service: string, node: string, command: NodeCommand, c: { actor: string; mayCreate: boolean; seesPresence: boolean; groups?: readonly string[] }, by: EventCause): NodeEvent[] {
    const state = this.node(service, node);
    const events = decideNode(command, state, { service, node, actor: c.actor, mayCreate: c.mayCreate, actorSeesPresence: c.seesPresence, ...(c.groups ? { actorGroups: c.groups } : {}) });
    if (events.length === 0) return events;
    this.appendAndFold(service, node, events, by);
    return events;
  }

  private appendAndFold(service: string, node: string, events: readonly NodeEvent[], by: EventCause): void {
    const key = nodeKey(service, node);
    const streamId = nodeStreamId(service, node);
    const expected = this.versions.get(key) ?? this.events.streamVersion(streamId);
    const at = this.now().toISOString();
    const stored = this.events.append(streamId, expected, events.map((e) => ({ type: e.type, payload: e.payload, meta: { by, at } })));
    let next = this.node(service, node);
    for (const e of events) next = evolveNode(next, e);
    if (next) this.put(next);
    else this.remove(service, node);
    this.versions.set(key, stored[stored.length - 1]?.streamVersion ?? expected);
  }

  /** Creates a node unless it exists (PEP's auto-create on publish, XEP-0163 §3). */
  private create(ctx: ServiceContext, node: string, config: NodeConfig): void {
    if ((this.byService.get(ctx.service)?.size ?? 0) >= (ctx.kind === "pep" ? this.limits.maxNodesPerAccount : this.limits.maxNodesPerService)) {
      throw new StanzaError({ condition: "policy-violation", text: "Too many nodes" });
    }
    this.run(ctx.service, node, { kind: "create", config }, this.actorOf(ctx), causeOf(ctx));
  }

  private actorOf(ctx: ServiceContext) {
    return { actor: ctx.requester.bareString(), mayCreate: ctx.mayCreate, seesPresence: ctx.seesPresence, groups: ctx.rosterGroups ?? [] };
  }

  /** One <pubsub/> IQ payload, in either namespace. */
  handle(type: "get" | "set", payload: XmlElement, ctx: ServiceContext): RequestOutcome {
    const action = payload.getChildren().find((c) => !["configure", "publish-options", "options"].includes(c.name)) ?? payload.getChild("configure", payload.ns);
    if (!action) throw new StanzaError({ condition: "bad-request", text: "No pubsub action" });
    const owner = payload.ns === NS_PUBSUB_OWNER;
    const key = `${owner ? "owner" : "user"} ${type} ${action.name}`;
    switch (key) {
      case "user set create": return this.createRequest(action, payload, ctx);
      case "user set publish": return this.publish(action, payload, ctx);
      case "user set retract": return this.retract(action, ctx);
      case "user set subscribe": return this.subscribe(action, ctx);
      case "user set unsubscribe": return this.unsubscribe(action, ctx);
      case "user get items": return this.getItems(action, ctx);
      case "user get subscriptions": return this.ownSubscriptions(action, ctx);
      case "user get affiliations": return this.ownAffiliations(action, ctx);
      case "owner get configure": return this.getConfigure(action, ctx);
      case "owner set configure": return this.setConfigure(action, ctx);
      case "owner get default": return { result: el("pubsub", NS_PUBSUB_OWNER, {}, el("default", NS_PUBSUB_OWNER, {}, configForm(defaultConfig(ctx.kind), this.limits.maxItems))) };
      case "owner set delete": return this.deleteNode(action, ctx);
      case "owner set purge": return this.purge(action, ctx);
      case "owner get affiliations": return this.getAffiliations(action, ctx);
      case "owner set affiliations": return this.setAffiliations(action, ctx);
      case "owner get subscriptions": return this.getSubscriptions(action, ctx);
      default:
        throw new StanzaError({ condition: "feature-not-implemented", text: `${action.name} is not supported here` });
    }
  }

  private existing(ctx: ServiceContext, action: XmlElement): NodeState {
    const node = action.attrs.node;
    if (node === undefined) throw perr("bad-request", "nodeid-required");
    const state = this.node(ctx.service, node);
    if (!state) throw new StanzaError({ condition: "item-not-found" });
    return state;
  }

  private requireOwner(state: NodeState, ctx: ServiceContext): void {
    if (affiliationOf(state, ctx.requester.bareString()) !== "owner") throw new StanzaError({ condition: "forbidden" });
  }

  private createRequest(action: XmlElement, payload: XmlElement, ctx: ServiceContext): RequestOutcome {
    const instant = action.attrs.node === undefined; // §8.1.2 instant node: the service names it
    const node = action.attrs.node ?? randomUUID();
    let config = defaultConfig(ctx.kind);
    const x = payload.getChild("configure", NS_PUBSUB)?.getChild("x", NS_DATA);
    if (x) config = applyConfig(config, formValues(x), this.limits.maxItems);
    if (!ctx.mayCreate) throw new StanzaError({ condition: "forbidden" });
    this.create(ctx, node, config);
    return { result: instant ? el("pubsub", NS_PUBSUB, {}, el("create", NS_PUBSUB, { node })) : null };
  }

  /** §7.1 publish, with §7.1.5 publish-options; PEP creates the node first (XEP-0163 §3). */
  private publish(action: XmlElement, payload: XmlElement, ctx: ServiceContext): RequestOutcome {
    const node = action.attrs.node;
    if (node === undefined) throw perr("bad-request", "nodeid-required");
    const items = action.getChildren("item", NS_PUBSUB);
    if (items.length > 1) throw perr("bad-request", "invalid-payload", "Publish one item at a time");
    const item = items[0];
    const content = item?.getChildren() ?? [];
    if (content.length > 1) throw perr("bad-request", "invalid-payload", "An item carries one payload element");
    const body = content[0];
    const serialized = body === undefined ? "" : serialize(body);
    if (Buffer.byteLength(serialized) > this.limits.maxItemBytes) {
      throw new StanzaError({ condition: "not-acceptable", extra: el("payload-too-big", NS_PUBSUB_ERRORS), text: `Items are limited to ${this.limits.maxItemBytes} bytes` });
    }
    const optionsForm = payload.getChild("publish-options", NS_PUBSUB)?.getChild("x", NS_DATA);
    if (optionsForm && formType(optionsForm) !== undefined && formType(optionsForm) !== PUBLISH_OPTIONS) {
      throw new StanzaError({ condition: "bad-request", text: "publish-options take the pubsub#publish-options form" });
    }
    const options = optionsForm ? formValues(optionsForm) : new Map<string, string[]>();
    let state = this.node(ctx.service, node);
    if (!state) {
      if (ctx.kind !== "pep") throw new StanzaError({ condition: "item-not-found" });
      this.create(ctx, node, applyConfig(defaultConfig("pep"), options, this.limits.maxItems));
      state = this.node(ctx.service, node) as NodeState;
    } else {
      checkPreconditions(state.config, options, this.limits.maxItems);
    }
    const publisher = ctx.requester.bareString();
    if (!mayPublish(state, publisher)) throw new StanzaError({ condition: "forbidden" });
    // XEP-0060 §7.1.3.6: a transient, notification-only node takes no item at all.
    if (!state.config.persistItems && !state.config.deliverPayloads && item !== undefined) {
      throw perr("bad-request", "item-forbidden", "This node is transient and notification-only: publish without an item");
    }
    const id = item?.attrs.id ?? randomUUID();
    const stored: StoredItem = { id, publisher, payload: serialized };
    // §4.3: a transient node (persist_items false) notifies and keeps nothing.
    if (state.config.persistItems) this.items.publish(ctx.service, node, stored, this.now().toISOString(), this.maxItemsOf(state.config));
    if (state.config.deliverNotifications) {
      ctx.audience.broadcast(state, this.eventOf(el("items", NS_PUBSUB_EVENT, { node }, this.itemElement(state, stored, NS_PUBSUB_EVENT, ctx.kind, state.config.deliverPayloads ? body : undefined))));
    }
    ctx.published?.(node, id, body);
    return { result: el("pubsub", NS_PUBSUB, {}, el("publish", NS_PUBSUB, { node }, el("item", NS_PUBSUB, { id }))) };
  }

  /** <event/> in a message of the node's notification type. */
  eventOf(inner: XmlElement): XmlElement {
    return el("event", NS_PUBSUB_EVENT, {}, inner);
  }

  /** Who an item names as its publisher (pubsub#itemreply; a service's expose_publisher). */
  private publisherAttr(state: NodeState, item: StoredItem, kind: "pep" | "service"): string | undefined {
    if (state.config.itemreply === "publisher") return item.publisher;
    if (state.config.itemreply === "owner") return state.owner;
    return kind === "service" && this.limits.exposePublisher ? item.publisher : undefined;
  }

  itemElement(state: NodeState, item: StoredItem, ns: string, kind: "pep" | "service", body?: XmlElement): XmlElement {
    const content = body ?? (item.payload === "" ? undefined : parseFragment(item.payload));
    return el("item", ns, { id: item.id, publisher: this.publisherAttr(state, item, kind) }, content);
  }

  /** The newest item as a notification (§6.1.7, XEP-0163 §4.3), if there is one. */
  lastItemEvent(state: NodeState, kind: "pep" | "service"): XmlElement | undefined {
    const [last] = this.items.newest(state.service, state.node, 1);
    if (!last) return undefined;
    return this.eventOf(el("items", NS_PUBSUB_EVENT, { node: state.node }, this.itemElement(state, last, NS_PUBSUB_EVENT, kind)));
  }

  /** §7.2: the publisher or an owner retracts; subscribers hear it when `notify` asks. */
  private retract(action: XmlElement, ctx: ServiceContext): RequestOutcome {
    const state = this.existing(ctx, action);
    const id = action.getChild("item", NS_PUBSUB)?.attrs.id;
    if (id === undefined) throw perr("bad-request", "item-required");
    const item = this.items.get(ctx.service, state.node, id);
    if (!item) throw new StanzaError({ condition: "item-not-found" });
    const actor = ctx.requester.bareString();
    if (item.publisher !== actor && affiliationOf(state, actor) !== "owner" && affiliationOf(state, actor) !== "publisher") {
      throw new StanzaError({ condition: "forbidden" });
    }
    this.items.retract(ctx.service, state.node, id);
    ctx.retracted?.(state.node, id);
    const notify = action.attrs.notify === "1" || action.attrs.notify === "true";
    if (notify && state.config.notifyRetract) {
      ctx.audience.broadcast(state, this.eventOf(el("items", NS_PUBSUB_EVENT, { node: state.node }, el("retract", NS_PUBSUB_EVENT, { id }))));
    }
    return { result: null };
  }

  private subscriptionElement(ns: string, node: string, jid: string, subscribed: boolean): XmlElement {
    return el("subscription", ns, { jid, node, subscription: subscribed ? "subscribed" : "none" });
  }

  /** §6.1; the last item follows the result when the node says so (§6.1.7). */
  private subscribe(action: XmlElement, ctx: ServiceContext): RequestOutcome {
    const state = this.existing(ctx, action);
    const jid = action.attrs.jid;
    if (jid === undefined) throw perr("bad-request", "invalid-jid");
    if (state.subscriptions.size >= this.limits.maxSubscriptionsPerNode && !state.subscriptions.has(jid)) {
      throw new StanzaError({ condition: "policy-violation", text: "This node has as many subscribers as it takes" });
    }
    this.run(ctx.service, state.node, { kind: "subscribe", jid }, this.actorOf(ctx), causeOf(ctx));
    const now = this.node(ctx.service, state.node) as NodeState;
    const result = el("pubsub", NS_PUBSUB, {}, this.subscriptionElement(NS_PUBSUB, state.node, jid, true));
    if (now.config.sendLastPublishedItem === "never") return { result };
    return {
      result,
      after: () => {
        const last = this.lastItemEvent(now, ctx.kind);
        if (last) ctx.audience.sendTo(now, jid, last);
      },
    };
  }

  private unsubscribe(action: XmlElement, ctx: ServiceContext): RequestOutcome {
    const state = this.existing(ctx, action);
    const jid = action.attrs.jid;
    if (jid === undefined) throw perr("bad-request", "invalid-jid");
    this.run(ctx.service, state.node, { kind: "unsubscribe", jid }, this.actorOf(ctx), causeOf(ctx));
    return { result: el("pubsub", NS_PUBSUB, {}, this.subscriptionElement(NS_PUBSUB, state.node, jid, false)) };
  }

  /** §6.5: all items (oldest first), the newest `max_items`, or the ones named. */
  private getItems(action: XmlElement, ctx: ServiceContext): RequestOutcome {
    const state = this.existing(ctx, action);
    const actor = ctx.requester.bareString();
    if (!mayAccess(state, actor, ctx.seesPresence, ctx.rosterGroups)) {
      if (state.config.accessModel === "presence") throw new StanzaError({ condition: "not-authorized", extra: el("presence-subscription-required", NS_PUBSUB_ERRORS) });
      if (state.config.accessModel === "roster") throw new StanzaError({ condition: "not-authorized", extra: el("not-in-roster-group", NS_PUBSUB_ERRORS) });
      throw new StanzaError({ condition: "not-allowed", extra: el("closed-node", NS_PUBSUB_ERRORS) });
    }
    const wanted = action.getChildren("item", NS_PUBSUB).map((i) => i.attrs.id).filter((id): id is string => id !== undefined);
    let items: StoredItem[];
    if (wanted.length > 0) {
      items = wanted.map((id) => this.items.get(ctx.service, state.node, id)).filter((i): i is StoredItem => i !== undefined);
    } else {
      const max = action.attrs.max_items === undefined ? this.limits.maxItems : Number(action.attrs.max_items);
      if (!Number.isInteger(max) || max < 1) throw new StanzaError({ condition: "bad-request", text: "max_items is a positive number" });
      items = this.items.newest(ctx.service, state.node, Math.min(max, this.limits.maxItems));
    }
    return { result: el("pubsub", NS_PUBSUB, {}, el("items", NS_PUBSUB, { node: state.node }, ...items.map((i) => this.itemElement(state, i, NS_PUBSUB, ctx.kind)))) };
  }

  /** §5.6: the requester's subscriptions at this service. */
  private ownSubscriptions(action: XmlElement, ctx: ServiceContext): RequestOutcome {
    const bare = ctx.requester.bareString();
    const nodes = this.nodesOf(ctx.service).filter((n) => action.attrs.node === undefined || n.node === action.attrs.node);
    const subs = nodes.flatMap((n) => [...n.subscriptions].filter((j) => j === bare || j.startsWith(`${bare}/`)).map((j) => this.subscriptionElement(NS_PUBSUB, n.node, j, true)));
    return { result: el("pubsub", NS_PUBSUB, {}, el("subscriptions", NS_PUBSUB, {}, ...subs)) };
  }

  /** §5.7: the requester's affiliations at this service. */
  private ownAffiliations(action: XmlElement, ctx: ServiceContext): RequestOutcome {
    const bare = ctx.requester.bareString();
    const nodes = this.nodesOf(ctx.service).filter((n) => action.attrs.node === undefined || n.node === action.attrs.node);
    const affs = nodes.filter((n) => n.affiliations.has(bare)).map((n) => el("affiliation", NS_PUBSUB, { node: n.node, affiliation: n.affiliations.get(bare) }));
    return { result: el("pubsub", NS_PUBSUB, {}, el("affiliations", NS_PUBSUB, {}, ...affs)) };
  }

  private getConfigure(action: XmlElement, ctx: ServiceContext): RequestOutcome {
    const state = this.existing(ctx, action);
    this.requireOwner(state, ctx);
    return { result: el("pubsub", NS_PUBSUB_OWNER, {}, el("configure", NS_PUBSUB_OWNER, { node: state.node }, configForm(state.config, this.limits.maxItems))) };
  }

  /** §8.2.4; a lower max_items drops the oldest items at once. */
  private setConfigure(action: XmlElement, ctx: ServiceContext): RequestOutcome {
    const state = this.existing(ctx, action);
    this.requireOwner(state, ctx);
    const x = action.getChild("x", NS_DATA);
    if (!x) throw new StanzaError({ condition: "bad-request", text: "Submit the configuration form" });
    if (x.attrs.type === "cancel") return { result: null }; // §8.2.5
    if (formType(x) !== undefined && formType(x) !== NODE_CONFIG) throw new StanzaError({ condition: "bad-request", text: "Not a node configuration form" });
    const config = applyConfig(state.config, formValues(x), this.limits.maxItems);
    this.run(ctx.service, state.node, { kind: "configure", config }, this.actorOf(ctx), causeOf(ctx));
    const keep = this.maxItemsOf(config);
    const kept = this.items.newest(ctx.service, state.node, keep);
    if (this.items.size(ctx.service, state.node) > kept.length) {
      // Republishing the kept ones in order would reorder nothing; trimming is one delete.
      const ids = new Set(kept.map((i) => i.id));
      for (const i of this.items.newest(ctx.service, state.node, this.limits.maxItems)) if (!ids.has(i.id)) this.items.retract(ctx.service, state.node, i.id);
    }
    return { result: null };
  }

  /** §8.4: subscribers hear of it (notify_delete), the items go. */
  private deleteNode(action: XmlElement, ctx: ServiceContext): RequestOutcome {
    const state = this.existing(ctx, action);
    this.run(ctx.service, state.node, { kind: "delete" }, this.actorOf(ctx), causeOf(ctx));
    this.items.purgeNode(ctx.service, state.node);
    if (state.config.notifyDelete) ctx.audience.broadcast(state, this.eventOf(el("delete", NS_PUBSUB_EVENT, { node: state.node })));
    return { result: null };
  }

  private purge(action: XmlElement, ctx: ServiceContext): RequestOutcome {
    const state = this.existing(ctx, action);
    this.requireOwner(state, ctx);
    this.items.purgeNode(ctx.service, state.node);
    if (state.config.notifyRetract) ctx.audience.broadcast(state, this.eventOf(el("purge", NS_PUBSUB_EVENT, { node: state.node })));
    return { result: null };
  }

  private getAffiliations(action: XmlElement, ctx: ServiceContext): RequestOutcome {
    const state = this.existing(ctx, action);
    this.requireOwner(state, ctx);
    const list = [...state.affiliations].map(([jid, affiliation]) => el("affiliation", NS_PUBSUB_OWNER, { affiliation, jid }));
    return { result: el("pubsub", NS_PUBSUB_OWNER, {}, el("affiliations", NS_PUBSUB_OWNER, { node: state.node }, ...list)) };
  }

  private setAffiliations(action: XmlElement, ctx: ServiceContext): RequestOutcome {
    const state = this.existing(ctx, action);
    const allowed: readonly string[] = ["owner", "publisher", "publish-only", "member", "none", "outcast"];
    const changes = action.getChildren("affiliation").map((a) => {
      const jid = a.attrs.jid;
      const affiliation = a.attrs.affiliation;
      if (jid === undefined || affiliation === undefined || !allowed.includes(affiliation)) {
        throw new StanzaError({ condition: "bad-request", text: "Each affiliation names a JID and one of owner, publisher, publish-only, member, none, outcast" });
      }
      return { jid: bareJidText(jid), affiliation: affiliation as Affiliation };
    });
    const after = new Set(state.affiliations.keys());
    for (const c of changes) {
      if (c.affiliation === "none") after.delete(c.jid);
      else after.add(c.jid);
    }
    if (after.size > this.limits.maxSubscriptionsPerNode) {
      throw new StanzaError({ condition: "policy-violation", text: "This node has as many affiliations as it takes" });
    }
    this.run(ctx.service, state.node, { kind: "affiliations", changes }, this.actorOf(ctx), causeOf(ctx));
    return { result: null };
  }

  private getSubscriptions(action: XmlElement, ctx: ServiceContext): RequestOutcome {
    const state = this.existing(ctx, action);
    this.requireOwner(state, ctx);
    const list = [...state.subscriptions].map((jid) => el("subscription", NS_PUBSUB_OWNER, { jid, subscription: "subscribed" }));
    return { result: el("pubsub", NS_PUBSUB_OWNER, {}, el("subscriptions", NS_PUBSUB_OWNER, { node: state.node }, ...list)) };
  }

  /**
   * A deleted account: its PEP nodes go (by event, with their items), and its
   * subscriptions and non-owner affiliations elsewhere end. Nodes it owns at a
   * service stay, with their other owners, or with none until an admin acts.
   */
  forgetAccount(bare: string, by: EventCause): void {
    for (const n of this.nodesOf(bare)) {
      this.run(bare, n.node, { kind: "delete" }, { actor: n.owner, mayCreate: false, seesPresence: true }, by);
    }
    this.items.purgeAll(bare);
    for (const n of [...this.byService.values()].flatMap((m) => [...m.values()])) {
      const events: NodeEvent[] = [];
      for (const jid of n.subscriptions) {
        if (jid === bare || jid.startsWith(`${bare}/`)) events.push({ type: "PubsubSubscriptionChanged", payload: { service: n.service, node: n.node, jid, subscribed: false } });
      }
      const aff = n.affiliations.get(bare);
      if (aff !== undefined && aff !== "owner") events.push({ type: "PubsubAffiliationChanged", payload: { service: n.service, node: n.node, jid: bare, affiliation: "none" } });
      if (events.length > 0) this.appendAndFold(n.service, n.node, events, by);
    }
  }
}

function bareJidText(jid: string): string {
  const slash = jid.indexOf("/");
  return (slash < 0 ? jid : jid.slice(0, slash)).toLowerCase();
}

function causeOf(ctx: ServiceContext): EventCause {
  if (ctx.kind === "pep" && ctx.requester.bareString() === ctx.service) return { kind: "user", resource: ctx.requester.resource };
  return { kind: "contact", jid: ctx.requester.toString() };
}

export { NS_PUBSUB, NS_PUBSUB_OWNER, NS_PUBSUB_EVENT };
