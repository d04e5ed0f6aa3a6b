// XEP-0004 data forms of XEP-0060: the node configuration form (§8.2,
// pubsub#node_config, with the labels Prosody's clients know), a submitted
// configuration read onto the current one, and publish-options (§7.1.5):
// preconditions on an existing node, the configuration of a new one.
import { el, type XmlElement } from "../../xml/element.js";
import { StanzaError } from "../../xmpp/errors.js";
import { NS_PUBSUB_ERRORS, type NodeConfig } from "./node.js";

export const NS_DATA = "jabber:x:data";
export const NS_XDATA_VALIDATE = "http://jabber.org/protocol/xdata-validate";
export const NODE_CONFIG = "http://jabber.org/protocol/pubsub#node_config";
export const PUBLISH_OPTIONS = "http://jabber.org/protocol/pubsub#publish-options";

const value = (v: string) => el("value", NS_DATA, {}, v);
const bool = (b: boolean) => (b ? "1" : "0");

function field(v: string, type: string, label: string | undefined, ...children: (XmlElement | undefined)[]): XmlElement {
  return el("field", NS_DATA, { var: v, label, type }, ...children);
}

function list(v: string, label: string | undefined, options: readonly (readonly [string, string])[], current: string): XmlElement {
  return field(v, "list-single", label, ...options.map(([val, l]) => el("option", NS_DATA, { label: l }, value(val))), value(current));
}

const text = (v: string, label: string, current: string) => field(v, "text-single", label, current === "" ? undefined : value(current));

/** §8.2.1: the form an owner fills in. */
export function configForm(c: NodeConfig, maxItemsLimit: number): XmlElement {
  const simple = (xs: readonly string[]) => xs.map((x) => [x, x] as const);
  return el("x", NS_DATA, { type: "form" },
    field("FORM_TYPE", "hidden", undefined, value(NODE_CONFIG)),
    text("pubsub#title", "Title", c.title),
    text("pubsub#description", "Description", c.description),
    text("pubsub#type", "The type of node data, usually specified by the namespace of the payload (if any)", c.type),
    field("pubsub#max_items", "text-single", "Max # of items to persist",
      el("validate", NS_XDATA_VALIDATE, { datatype: "pubsub:integer-or-max" }, el("range", NS_XDATA_VALIDATE, { min: "1", max: String(maxItemsLimit) })),
      value(String(c.maxItems))),
    field("pubsub#persist_items", "boolean", "Persist items to storage", value(bool(c.persistItems))),
    list("pubsub#access_model", "Specify the subscriber model", simple(["authorize", "open", "presence", "roster", "whitelist"]), c.accessModel),
    field("pubsub#roster_groups_allowed", "list-multi", "Roster groups allowed to subscribe", ...c.rosterGroupsAllowed.map(value)),
    list("pubsub#publish_model", "Specify the publisher model", simple(["publishers", "subscribers", "open"]), c.publishModel),
    list("pubsub#send_last_published_item", undefined, simple(["never", "on_sub", "on_sub_and_presence"]), c.sendLastPublishedItem),
    field("pubsub#deliver_notifications", "boolean", "Whether to deliver event notifications", value(bool(c.deliverNotifications))),
    field("pubsub#deliver_payloads", "boolean", "Whether to deliver payloads with event notifications", value(bool(c.deliverPayloads))),
    list("pubsub#notification_type", "Specify the delivery style for notifications",
      [["normal", "Messages of type normal"], ["headline", "Messages of type headline"]], c.notificationType),
    field("pubsub#notify_delete", "boolean", "Whether to notify subscribers when the node is deleted", value(bool(c.notifyDelete))),
    field("pubsub#notify_retract", "boolean", "Whether to notify subscribers when items are removed from the node", value(bool(c.notifyRetract))),
    list("pubsub#itemreply", "Specify whose JID to include as the publisher of items",
      [["owner", "Include the node owner's JID"], ["publisher", "Include the item publisher's JID"], ["none", "Don't include any JID with items"]], c.itemreply),
  );
}

/** The submitted fields of a form, var → values (FORM_TYPE left out). */
export function formValues(x: XmlElement): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const f of x.getChildren("field", NS_DATA)) {
    const name = f.attrs.var;
    if (name === undefined || name === "FORM_TYPE") continue;
    out.set(name, f.getChildren("value", NS_DATA).map((v) => v.text()));
  }
  return out;
}

export function formType(x: XmlElement): string | undefined {
  for (const f of x.getChildren("field", NS_DATA)) if (f.attrs.var === "FORM_TYPE") return f.getChildText("value", NS_DATA);
  return undefined;
}

const bad = (text: string) => new StanzaError({ condition: "not-acceptable", text });

function parseBool(v: string, name: string): boolean {
  // XEP-0004 §3.3 boolean: 0, 1, false, true.
  if (v === "1" || v === "true") return true;
  if (v === "0" || v === "false") return false;
  throw bad(`${name} is a boolean`);
}

function oneOf<T extends string>(v: string, allowed: readonly T[], name: string): T {
  if ((allowed as readonly string[]).includes(v)) return v as T;
  throw bad(`${name} must be one of ${allowed.join(", ")}`);
}

function parseMaxItems(v: string, limit: number): number | "max" {
  if (v === "max") return "max";
  if (!/^[0-9]+$/.test(v)) throw bad("max_items is a number or 'max'");
  const n = Number(v);
  if (n < 1 || n > limit) throw bad(`max_items must be between 1 and ${limit}`);
  return n;
}

/**
 * A submitted configuration (§8.2.4) onto the current one: fields left out
 * keep their values; an unknown field or a bad value is not-acceptable.
 */
export function applyConfig(base: NodeConfig, values: ReadonlyMap<string, string[]>, maxItemsLimit: number): NodeConfig {
  const c: NodeConfig = { ...base, rosterGroupsAllowed: [...base.rosterGroupsAllowed] };
  for (const [name, vs] of values) {
    const v = vs[0] ?? "";
    switch (name) {
      case "pubsub#title": c.title = v; break;
      case "pubsub#description": c.description = v; break;
      case "pubsub#type": c.type = v; break;
      case "pubsub#max_items": if (v !== "") c.maxItems = parseMaxItems(v, maxItemsLimit); break;
      case "pubsub#persist_items": c.persistItems = parseBool(v, name); break;
      case "pubsub#access_model": c.accessModel = oneOf(v, ["authorize", "open", "presence", "roster", "whitelist"], name); break;
      case "pubsub#roster_groups_allowed": c.rosterGroupsAllowed = vs; break;
      case "pubsub#publish_model": c.publishModel = oneOf(v, ["publishers", "subscribers", "open"], name); break;
      case "pubsub#send_last_published_item": c.sendLastPublishedItem = oneOf(v, ["never", "on_sub", "on_sub_and_presence"], name); break;
      case "pubsub#deliver_notifications": c.deliverNotifications = parseBool(v, name); break;
      case "pubsub#deliver_payloads": c.deliverPayloads = parseBool(v, name); break;
      case "pubsub#notification_type": c.notificationType = oneOf(v, ["normal", "headline"], name); break;
      case "pubsub#notify_delete": c.notifyDelete = parseBool(v, name); break;
      case "pubsub#notify_retract": c.notifyRetract = parseBool(v, name); break;
      case "pubsub#itemreply": c.itemreply = oneOf(v, ["owner", "publisher", "none"], name); break;
      default: throw bad(`Unknown configuration field ${name}`);
    }
  }
  return c;
}

/**
 * §7.1.5: publish-options are preconditions on an existing node: every
 * field must equal the node's configuration (values compared as the
 * configuration reads them), else conflict with <precondition-not-met/>.
 */
export function checkPreconditions(current: NodeConfig, values: ReadonlyMap<string, string[]>, maxItemsLimit: number): void {
  const wanted = applyConfig(current, values, maxItemsLimit);
  const effective = (m: number | "max") => (m === "max" ? maxItemsLimit : m);
  for (const name of values.keys()) {
    const key = configKey(name);
    // max_items asks that the node keep at least that many: XEP-0402 §3 says
    // "max", clients (Prosody's bookmarks2.scs) say 255; a node keeping more
    // meets either.
    if (key === "maxItems" && effective(current.maxItems) >= effective(wanted.maxItems)) continue;
    if (JSON.stringify(wanted[key]) !== JSON.stringify(current[key])) {
      throw new StanzaError({
        condition: "conflict", text: `Field does not match: ${name.slice("pubsub#".length)}`, extra: el("precondition-not-met", NS_PUBSUB_ERRORS),
      });
    }
  }
}

const KEYS: Record<string, keyof NodeConfig> = {
  "pubsub#title": "title", "pubsub#description": "description", "pubsub#type": "type", "pubsub#max_items": "maxItems",
  "pubsub#persist_items": "persistItems", "pubsub#access_model": "accessModel", "pubsub#roster_groups_allowed": "rosterGroupsAllowed",
  "pubsub#publish_model": "publishModel", "pubsub#send_last_published_item": "sendLastPublishedItem",
  "pubsub#deliver_notifications": "deliverNotifications", "pubsub#deliver_payloads": "deliverPayloads",
  "pubsub#notification_type": "notificationType", "pubsub#notify_delete": "notifyDelete", "pubsub#notify_retract": "notifyRetract",
  "pubsub#itemreply": "itemreply",
};

function configKey(name: string): keyof NodeConfig {
  const k = KEYS[name];
  if (k === undefined) throw bad(`Unknown configuration field ${name}`);
  return k;
}
