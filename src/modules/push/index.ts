// XEP-0357 Push Notifications: a client registers an app server's pubsub node
// (§5, <enable/>), and while that device has no live connection — its stream
// detached (XEP-0198 §5) or gone — each message for the user is announced to
// that node (§7) so the app server can wake the device. In the manner of
// Prosody's mod_cloud_notify: the notification is the summary form with no
// body and no sender unless the configuration allows them (§7, privacy), a
// registration the app server keeps refusing is dropped (§8), and a user has
// a bounded number of registrations.
//
// Registrations are account configuration, so they are events on the stream
// `push:<bare JID>` (PushEnabled, PushDisabled) with the push_registrations
// projection; a rebuild yields the same table. Which devices are detached is
// live session state, learnt from the `session/detached` and `session/resumed`
// hooks and not kept.
// https://xmpp.org/extensions/xep-0357.html
import { el, type XmlElement } from "../../xml/element.js";
import { NS } from "../../xmpp/namespaces.js";
import { StanzaError } from "../../xmpp/errors.js";
import { tryParseJid } from "../../jid/jid.js";
import { HANDLED } from "../../kernel/hooks.js";
import type { ModuleApi, ParleyModule } from "../../kernel/module-api.js";
import type { Account } from "../../kernel/account.js";
import type { Database as Db } from "better-sqlite3";
import type { Projection } from "../../events/store.js";
import type { StoredEvent } from "../../events/types.js";
import { statement } from "../../projections/statements.js";

export const NS_PUSH = "urn:xmpp:push:0";
const NS_DATA = "jabber:x:data";
const NS_PUBSUB = "http://jabber.org/protocol/pubsub";
const SUMMARY_FORM = "urn:xmpp:push:summary";
const PUBLISH_OPTIONS_FORM = "http://jabber.org/protocol/pubsub#publish-options";
const NS_CARBONS = "urn:xmpp:carbons:2";
const NS_MAM = "urn:xmpp:mam:2";
const NS_HINTS = "urn:xmpp:hints";
/** The id prefix of our publish IQs, so their results find their way back here. */
const IQ_PREFIX = "push-";

export const pushStreamId = (bareJid: string): string => `push:${bareJid}`;

interface PushEnabled {
  /** The app server's pubsub service (§5: the `jid` attribute) and node. */
  service: string;
  node: string;
  /** The publish-options fields the client gave (§5: e.g. its secret), without FORM_TYPE. */
  options: Record<string, string[]>;
  /** The resource that enabled it: the device, whose connection decides whether to push. */
  resource: string;
}

interface PushDisabled {
  service: string;
  /** Absent: every node of that service (§6). */
  node?: string;
}

export interface Registration extends PushEnabled {
  account: string;
}

function isPushStream(e: StoredEvent): boolean {
  return e.streamId.startsWith("push:");
}

/** The registrations of every account: the fold of the push streams (and account deletions). */
export const pushRegistrationsProjection: Projection = {
  name: "push_registrations",
  tables: ["push_registrations"],
  apply(db: Db, event: StoredEvent) {
    if (event.type === "AccountDeleted" && event.streamId.startsWith("account:")) {
      statement(db, "DELETE FROM push_registrations WHERE account = ?").run(event.streamId.slice("account:".length));
      return;
    }
    if (!isPushStream(event)) return;
    const account = event.streamId.slice("push:".length);
    if (event.type === "PushEnabled") {
      const p = event.payload as PushEnabled;
      statement(db, `INSERT INTO push_registrations (account, service, node, options, resource, enabled_at) VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (account, service, node) DO UPDATE SET options = excluded.options, resource = excluded.resource, enabled_at = excluded.enabled_at`)
        .run(account, p.service, p.node, JSON.stringify(p.options), p.resource, event.meta.at);
    } else if (event.type === "PushDisabled") {
      const p = event.payload as PushDisabled;
      if (p.node === undefined) statement(db, "DELETE FROM push_registrations WHERE account = ? AND service = ?").run(account, p.service);
      else statement(db, "DELETE FROM push_registrations WHERE account = ? AND service = ? AND node = ?").run(account, p.service, p.node);
    }
  },
  reset(db: Db) {
    db.prepare("DELETE FROM push_registrations").run();
  },
};

function registrationsOf(api: ModuleApi, account: string): Registration[] {
  const rows = statement(api.db, "SELECT service, node, options, resource FROM push_registrations WHERE account = ? ORDER BY enabled_at, service, node")
    .all(account) as { service: string; node: string; options: string; resource: string }[];
  return rows.map((r) => ({ account, service: r.service, node: r.node, resource: r.resource, options: JSON.parse(r.options) as Record<string, string[]> }));
}

/** §5: the publish-options form of an <enable/>, as field → values (FORM_TYPE left out). */
function publishOptions(enable: XmlElement): Record<string, string[]> {
  const form = enable.getChildren("x", NS_DATA)[0];
  const out: Record<string, string[]> = {};
  if (!form) return out;
  for (const field of form.getChildren("field", NS_DATA)) {
    const name = field.attrs.var;
    if (name === undefined || name === "FORM_TYPE") continue;
    out[name] = field.getChildren("value", NS_DATA).map((v) => v.text());
  }
  return out;
}

function field(name: string, values: readonly string[]): XmlElement {
  return el("field", NS_DATA, { var: name }, ...values.map((v) => el("value", NS_DATA, {}, v)));
}

/**
 * Whether a message should wake a device: one a person would want to see
 * (a body, or an encrypted payload with none), not a carbon copy, an archive
 * result, a receipt or chat state alone, or one marked no-store/no-permanent-store.
 */
export function isImportant(m: XmlElement): boolean {
  const type = m.attrs.type ?? "normal";
  if (type === "error" || type === "headline" || type === "groupchat") return false;
  if (m.getChild("received", NS_CARBONS) || m.getChild("sent", NS_CARBONS) || m.getChild("result", NS_MAM)) return false;
  if (m.getChild("no-store", NS_HINTS) || m.getChild("no-permanent-store", NS_HINTS)) return false;
  if (m.getChild("body", NS.client)) return true;
  // OMEMO and OpenPGP messages carry their text elsewhere, with no body.
  return m.getChild("encrypted", "eu.siacs.conversations.axolotl") !== undefined || m.getChild("openpgp", "urn:xmpp:openpgp:0") !== undefined;
}

interface Pending {
  registration: Registration;
  /** When the request leaves; a reply after `timeoutMs` counts as an error (§8). */
  timer: NodeJS.Timeout;
}

export const push: ParleyModule = {
  name: "push",
  projections: [pushRegistrationsProjection],
  load(api) {
    const c = api.config.push;
    /** bare JID → resources whose stream is detached now (XEP-0198 §5). */
    const detached = new Map<string, Set<string>>();
    /** registration key → consecutive errors from its app server. */
    const errors = new Map<string, number>();
    /** registration key → times of the notifications of the last minute (the rate bound). */
    const sent = new Map<string, number[]>();
    const pending = new Map<string, Pending>();
    /** Messages announced per registration since its device was last live: §7's message-count. */
    const counts = new Map<string, number>();
    let nextId = 0;
    /**
     * The accounts with a registration, so that a message for anyone else (nearly
     * every message) costs a set lookup, not a query: read once at load, kept by
     * this module's own appends and account deletions.
     */
    const withRegistrations = new Set((statement(api.db, "SELECT DISTINCT account FROM push_registrations").all() as { account: string }[]).map((r) => r.account));
    const registrations = (account: string): Registration[] => (withRegistrations.has(account) ? registrationsOf(api, account) : []);

    const keyOf = (r: { account: string; service: string; node: string }) => `${r.account} ${r.service} ${r.node}`;

    const append = (account: string, type: "PushEnabled" | "PushDisabled", payload: PushEnabled | PushDisabled, resource: string) => {
      const streamId = pushStreamId(account);
      api.events.append(streamId, api.events.streamVersion(streamId), [{
        type, payload, meta: { by: resource === "" ? { kind: "server", reason: "push notifications" } : { kind: "user", resource }, at: api.now().toISOString() },
      }]);
      if (registrationsOf(api, account).length > 0) withRegistrations.add(account);
      else withRegistrations.delete(account);
    };
    api.hook("account-deleted", ({ jid }) => { withRegistrations.delete(jid.bareString()); });

    const disable = (r: Registration, why: string) => {
      api.log.info("push registration dropped", { account: r.account, service: r.service, node: r.node, why });
      append(r.account, "PushDisabled", { service: r.service, node: r.node }, "");
      errors.delete(keyOf(r));
      counts.delete(keyOf(r));
    };

    // §5: <enable jid='…' node='…'> with an optional publish-options form.
    api.iq("set", "self", NS_PUSH, "enable", (req) => {
      const service = tryParseJid(req.payload.attrs.jid ?? "");
      const node = req.payload.attrs.node;
      if (!service) throw new StanzaError({ condition: "bad-request", text: "<enable/> needs the app server's JID in 'jid' (XEP-0357 §5)" });
      if (node === undefined || node === "") throw new StanzaError({ condition: "bad-request", text: "<enable/> needs the node in 'node' (XEP-0357 §5)" });
      const account = req.account.bareJid;
      const existing = registrationsOf(api, account);
      const same = existing.find((r) => r.service === service.toString() && r.node === node);
      if (!same && existing.length >= c.maxRegistrations) {
        throw new StanzaError({ condition: "resource-constraint", text: `At most ${c.maxRegistrations} push registrations per account` });
      }
      append(account, "PushEnabled", { service: service.toString(), node, options: publishOptions(req.payload), resource: req.from.resource }, req.from.resource);
      return null;
    });

    // §6: <disable jid='…' [node='…']/>.
    api.iq("set", "self", NS_PUSH, "disable", (req) => {
      const service = tryParseJid(req.payload.attrs.jid ?? "");
      if (!service) throw new StanzaError({ condition: "bad-request", text: "<disable/> needs the app server's JID in 'jid' (XEP-0357 §6)" });
      const node = req.payload.attrs.node;
      append(req.account.bareJid, "PushDisabled", node === undefined || node === "" ? { service: service.toString() } : { service: service.toString(), node }, req.from.resource);
      return null;
    });

    api.addFeature("account", NS_PUSH);

    api.hook("session/detached", ({ bareJid, resource }) => {
      let set = detached.get(bareJid);
      if (!set) detached.set(bareJid, (set = new Set()));
      set.add(resource);
    });
    const live = (bareJid: string, resource: string) => {
      const set = detached.get(bareJid);
      set?.delete(resource);
      if (set?.size === 0) detached.delete(bareJid);
      for (const r of registrations(bareJid)) if (r.resource === resource) counts.delete(keyOf(r));
    };
    api.hook("session/resumed", ({ bareJid, resource }) => live(bareJid, resource));
    api.hook("resource-bind", ({ account, session }) => live(account.bareJid, session.resource));
    api.hook("resource-unbind", ({ account, session }) => {
      const set = detached.get(account.bareJid);
      set?.delete(session.resource);
      if (set?.size === 0) detached.delete(account.bareJid);
    });

    /** The device of a registration can be reached without a push: it has a connected session. */
    const reachable = (account: Account, r: Registration) =>
      account.sessions.has(r.resource) && !(detached.get(account.bareJid)?.has(r.resource) ?? false);

    const notify = (account: Account, r: Registration, message: XmlElement) => {
      const key = keyOf(r);
      const now = Date.now();
      const recent = (sent.get(key) ?? []).filter((t) => now - t < 60_000);
      if (recent.length >= c.notificationsPerMinute) return; // the device was woken lately; it will fetch the rest
      recent.push(now);
      sent.set(key, recent);
      const count = (counts.get(key) ?? 0) + 1;
      counts.set(key, count);
      const fields = [field("FORM_TYPE", [SUMMARY_FORM]), field("message-count", [String(count)])];
      const from = tryParseJid(message.attrs.from ?? "");
      if (c.includeSender && from) fields.push(field("last-message-sender", [from.toString()]));
      const body = message.getChildText("body");
      if (c.includeBody && body !== undefined) fields.push(field("last-message-body", [body.slice(0, 256)]));
      const options = Object.entries(r.options);
      const id = `${IQ_PREFIX}${++nextId}`;
      const iq = el("iq", NS.client, { type: "set", id, from: account.bareJid, to: r.service },
        el("pubsub", NS_PUBSUB, {},
          el("publish", NS_PUBSUB, { node: r.node },
            el("item", NS_PUBSUB, {}, el("notification", NS_PUSH, {}, el("x", NS_DATA, { type: "form" }, ...fields)))),
          ...(options.length > 0
            ? [el("publish-options", NS_PUBSUB, {}, el("x", NS_DATA, { type: "submit" },
              field("FORM_TYPE", [PUBLISH_OPTIONS_FORM]), ...options.map(([k, v]) => field(k, v))))]
            : [])));
      const timer = setTimeout(() => { pending.delete(id); failed(r, "no answer"); }, c.timeoutSeconds * 1000);
      timer.unref();
      pending.set(id, { registration: r, timer });
      api.route(iq);
    };

    const failed = (r: Registration, why: string) => {
      const key = keyOf(r);
      const n = (errors.get(key) ?? 0) + 1;
      errors.set(key, n);
      api.log.info("push notification failed", { account: r.account, service: r.service, node: r.node, why, errors: n });
      // §8: an app server that keeps refusing has forgotten the device: stop pushing to it.
      if (n >= c.maxErrors && registrations(r.account).some((x) => keyOf(x) === key)) disable(r, `${n} errors in a row (${why})`);
    };

    // The app server's answers come to the user's bare JID.
    api.hook("iq/bare", ({ stanza }) => {
      const id = stanza.attrs.id ?? "";
      const type = stanza.attrs.type;
      if (!id.startsWith(IQ_PREFIX) || (type !== "result" && type !== "error")) return undefined;
      const p = pending.get(id);
      if (!p) return HANDLED;
      pending.delete(id);
      clearTimeout(p.timer);
      if (type === "result") { errors.delete(keyOf(p.registration)); return HANDLED; }
      const error = stanza.getChild("error", NS.client);
      const condition = error?.getChildren()[0]?.name ?? "undefined-condition";
      // A wait-type error is the app server's own trouble, not the device's (§8).
      if (error?.attrs.type !== "wait") failed(p.registration, condition);
      return HANDLED;
    }, 100);

    // Every message that reached the user: its resources, or offline storage.
    api.hook("message/delivered", ({ event }) => {
      const { account, stanza } = event;
      if (!isImportant(stanza)) return;
      for (const r of registrations(account.bareJid)) {
        if (!reachable(account, r)) notify(account, r, stanza);
      }
    });

    api.hook("server-stopping", () => {
      for (const p of pending.values()) clearTimeout(p.timer);
      pending.clear();
    });
  },
};
