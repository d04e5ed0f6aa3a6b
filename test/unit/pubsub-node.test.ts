// The pubsub node decider as specifications (XEP-0060): creation (§8.1),
// configuration (§8.2), deletion (§8.4), affiliations (§8.9), subscriptions
// (§6.1, §6.2) and their access models; plus the configuration form read
// onto a node's configuration and publish-options as preconditions (§7.1.5).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { decideNode, defaultConfig, evolveNode, type NodeCommand, type NodeContext, type NodeEvent, type NodeState } from "../../src/modules/pubsub/node.js";
import { applyConfig, checkPreconditions } from "../../src/modules/pubsub/forms.js";
import { StanzaError } from "../../src/xmpp/errors.js";
import { spec } from "../helpers/decider-spec.js";

const nodeDecider = {
  initialState: undefined as NodeState | undefined,
  evolve: evolveNode,
  decide: (command: NodeCommand, state: NodeState | undefined, c: NodeContext) => ({ events: decideNode(command, state, c) }),
};
const SERVICE = "pubsub.example.com";
const ADMIN = "admin@example.com";
const JULIET = "juliet@example.com";
const as = (actor: string, more: Partial<NodeContext> = {}): NodeContext =>
  ({ service: SERVICE, node: "musings", actor, mayCreate: actor === ADMIN, actorSeesPresence: false, ...more });
const base = { service: SERVICE, node: "musings" };
const created: NodeEvent = { type: "PubsubNodeCreated", payload: { ...base, owner: ADMIN, config: defaultConfig("service") } };
const withAccess = (accessModel: "open" | "presence" | "whitelist"): NodeEvent =>
  ({ type: "PubsubNodeConfigured", payload: { ...base, config: { ...defaultConfig("service"), accessModel } } });
const condition = (c: string) => (err: unknown) => err instanceof StanzaError && err.spec.condition === c;
const appCondition = (c: string, name: string) => (err: unknown) => condition(c)(err) && (err as StanzaError).spec.extra?.name === name;

test("§8.1: an admin creates a node and becomes its owner; a second create is a conflict; others are forbidden", () => {
  spec(nodeDecider, as(ADMIN)).given([]).when({ kind: "create", config: defaultConfig("service") }).then([created])
    .thenState((s) => s?.affiliations.get(ADMIN) === "owner");
  spec(nodeDecider, as(ADMIN)).given([created]).when({ kind: "create", config: defaultConfig("service") }).thenThrows(condition("conflict"));
  spec(nodeDecider, as(JULIET)).given([]).when({ kind: "create", config: defaultConfig("service") }).thenThrows(condition("forbidden"));
});

test("§8.2, §8.4: only the owner configures or deletes; a missing node is item-not-found", () => {
  const config = { ...defaultConfig("service"), title: "Princely musings" };
  spec(nodeDecider, as(ADMIN)).given([created]).when({ kind: "configure", config })
    .then([{ type: "PubsubNodeConfigured", payload: { ...base, config } }]).thenState((s) => s?.config.title === "Princely musings");
  spec(nodeDecider, as(JULIET)).given([created]).when({ kind: "configure", config }).thenThrows(condition("forbidden"));
  spec(nodeDecider, as(JULIET)).given([created]).when({ kind: "delete" }).thenThrows(condition("forbidden"));
  spec(nodeDecider, as(ADMIN)).given([created]).when({ kind: "delete" }).then([{ type: "PubsubNodeDeleted", payload: base }]).thenState((s) => s === undefined);
  spec(nodeDecider, as(ADMIN)).given([created, { type: "PubsubNodeDeleted", payload: base }]).when({ kind: "delete" }).thenThrows(condition("item-not-found"));
});

test("§6.1.3.1: a subscription is for the requester's own JID; an open node takes it, a repeat decides nothing", () => {
  spec(nodeDecider, as(JULIET)).given([created]).when({ kind: "subscribe", jid: "romeo@example.com/orchard" })
    .thenThrows(appCondition("bad-request", "invalid-jid"));
  const subscribed: NodeEvent = { type: "PubsubSubscriptionChanged", payload: { ...base, jid: `${JULIET}/balcony`, subscribed: true } };
  spec(nodeDecider, as(JULIET)).given([created]).when({ kind: "subscribe", jid: `${JULIET}/balcony` }).then([subscribed])
    .thenState((s) => s?.subscriptions.has(`${JULIET}/balcony`) === true);
  spec(nodeDecider, as(JULIET)).given([created, subscribed]).when({ kind: "subscribe", jid: `${JULIET}/balcony` }).then([]);
  spec(nodeDecider, as(JULIET)).given([created]).when({ kind: "unsubscribe", jid: `${JULIET}/balcony` })
    .thenThrows(appCondition("unexpected-request", "not-subscribed"));
});

test("§6.1.3.2-4: presence and whitelist access models; an affiliation opens a whitelist", () => {
  spec(nodeDecider, as(JULIET)).given([created, withAccess("presence")]).when({ kind: "subscribe", jid: JULIET })
    .thenThrows(appCondition("not-authorized", "presence-subscription-required"));
  spec(nodeDecider, as(JULIET, { actorSeesPresence: true })).given([created, withAccess("presence")]).when({ kind: "subscribe", jid: JULIET })
    .thenState((s) => s?.subscriptions.has(JULIET) === true);
  spec(nodeDecider, as(JULIET)).given([created, withAccess("whitelist")]).when({ kind: "subscribe", jid: JULIET })
    .thenThrows(appCondition("not-allowed", "closed-node"));
  const member: NodeEvent = { type: "PubsubAffiliationChanged", payload: { ...base, jid: JULIET, affiliation: "member" } };
  spec(nodeDecider, as(JULIET)).given([created, withAccess("whitelist"), member]).when({ kind: "subscribe", jid: JULIET })
    .thenState((s) => s?.subscriptions.has(JULIET) === true);
});

test("§6.1.3.3: the roster access model lets in the owner's contacts in an allowed group, and no one else", () => {
  const rosterNode: NodeEvent = { type: "PubsubNodeConfigured", payload: { ...base, config: { ...defaultConfig("pep"), accessModel: "roster", rosterGroupsAllowed: ["Family"] } } };
  spec(nodeDecider, as(JULIET, { actorSeesPresence: true, actorGroups: ["Friends"] })).given([created, rosterNode]).when({ kind: "subscribe", jid: JULIET })
    .thenThrows(appCondition("not-authorized", "not-in-roster-group"));
  spec(nodeDecider, as(JULIET, { actorGroups: ["Friends", "Family"] })).given([created, rosterNode]).when({ kind: "subscribe", jid: JULIET })
    .thenState((s) => s?.subscriptions.has(JULIET) === true);
});

test("§8.9: the owner sets affiliations (unchanged ones decide nothing) and cannot give up its own ownership", () => {
  spec(nodeDecider, as(ADMIN)).given([created])
    .when({ kind: "affiliations", changes: [{ jid: ADMIN, affiliation: "owner" }, { jid: "romeo@example.com", affiliation: "publisher" }] })
    .then([{ type: "PubsubAffiliationChanged", payload: { ...base, jid: "romeo@example.com", affiliation: "publisher" } }]);
  spec(nodeDecider, as(ADMIN)).given([created]).when({ kind: "affiliations", changes: [{ jid: ADMIN, affiliation: "none" }] })
    .thenThrows(condition("not-acceptable"));
  spec(nodeDecider, as(JULIET)).given([created]).when({ kind: "affiliations", changes: [{ jid: JULIET, affiliation: "owner" }] })
    .thenThrows(condition("forbidden"));
});

test("the configuration form: fields left out keep their values, bad values and unknown fields are not-acceptable", () => {
  const c = applyConfig(defaultConfig("pep"), new Map([["pubsub#max_items", ["max"]], ["pubsub#access_model", ["open"]], ["pubsub#persist_items", ["true"]]]), 256);
  assert.equal([c.maxItems, c.accessModel, c.persistItems, c.sendLastPublishedItem], ["max", "open", true, "on_sub_and_presence"]);
  assert.throws(() => applyConfig(c, new Map([["pubsub#max_items", ["257"]]]), 256), condition("not-acceptable"));
  assert.throws(() => applyConfig(c, new Map([["pubsub#access_model", ["everyone"]]]), 256), condition("not-acceptable"));
  assert.throws(() => applyConfig(c, new Map([["pubsub#colour", ["red"]]]), 256), condition("not-acceptable"));
});

test("§7.1.5: publish-options that match (as values, '1' for 'true') pass; a different one is conflict with precondition-not-met", () => {
  const c = defaultConfig("pep");
  checkPreconditions(c, new Map([["pubsub#persist_items", ["true"]], ["pubsub#access_model", ["presence"]]]), 256);
  // max_items: the node keeping at least as many as asked meets it ("max" here is 256).
  const bookmarks = { ...c, maxItems: "max" as const };
  checkPreconditions(bookmarks, new Map([["pubsub#max_items", ["255"]]]), 256);
  assert.throws(() => checkPreconditions(c, new Map([["pubsub#max_items", ["max"]]]), 256), appCondition("conflict", "precondition-not-met"));
  assert.throws(() => checkPreconditions(c, new Map([["pubsub#access_model", ["whitelist"]]]), 256),
    (err: unknown) => appCondition("conflict", "precondition-not-met")(err) && (err as StanzaError).spec.text === "Field does not match: access_model");
});

test.run();
