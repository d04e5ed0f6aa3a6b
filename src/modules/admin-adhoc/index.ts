// XEP-0133 Service Administration over XEP-0050 ad-hoc commands (the adhoc
// module runs them): add a user (§4.1), delete users (§4.2), change a
// user's password (§4.7), list the online users (§4.21), end user sessions
// (§4.4), send an announcement to the online users (§4.23). Only the
// administrators of the configuration (`admins`, `--admin`) see and run them;
// anyone else is forbidden. Accounts change through their event streams,
// as the CLI changes them; the online users are the bound sessions this
// module hears of (`resource-bind`, `resource-unbind`).
import { el } from "../../xml/element.js";
import { NS } from "../../xmpp/namespaces.js";
import { StanzaError } from "../../xmpp/errors.js";
import { tryParseJid, type Jid } from "../../jid/jid.js";
import { passwordTooShort } from "../../config.js";
import type { ModuleApi, ParleyModule } from "../../kernel/module-api.js";
import type { ResourceSession } from "../../kernel/account.js";
import type { AdhocCommand, AdhocSubmission } from "../../kernel/events.js";
import { HANDLED } from "../../kernel/hooks.js";
import type { EventStore } from "../../events/store.js";
import { credentialsForAsync, deleteAccount, AccountError } from "../../accounts/account-service.js";
import { storeCommandHandler } from "../../accounts/command-handler.js";
import { dataForm, type FormField } from "../adhoc/data-forms.js";

export const NS_ADMIN = "http://jabber.org/protocol/admin";
const node = (name: string) => `${NS_ADMIN}#${name}`;
/** XEP-0133 §3: the FORM_TYPE of every form. */
const FORM_TYPE: FormField = { var: "FORM_TYPE", type: "hidden", values: [NS_ADMIN] };
/** Online users one report lists at most (§4.21 max_items; larger servers page by asking fewer). */
const MAX_REPORTED_USERS = 10_000;

const bad = (text: string) => new StanzaError({ condition: "bad-request", text });

function single(values: AdhocSubmission["values"], name: string, required = true): string | undefined {
  const v = values.get(name)?.[0]?.trim();
  if ((v === undefined || v === "") && required) throw bad(`The field '${name}' is required`);
  return v === "" ? undefined : v;
}

/** A user of the domain the command was sent to: an administrator administers that host. */
function accountOf(raw: string, domain: string, allowFull = false): Jid {
  const jid = tryParseJid(raw);
  if (!jid || jid.local === "" || (!allowFull && jid.resource !== "")) throw bad(`'${raw}' is not a user's JID`);
  if (jid.domain !== domain) throw new StanzaError({ condition: "not-allowed", text: `${raw} is not an account of ${domain}` });
  return jid;
}

function newPassword(api: ModuleApi, values: AdhocSubmission["values"]): string {
  const password = values.get("password")?.[0] ?? "";
  if (password === "") throw bad("The field 'password' is required");
  const verify = values.get("password-verify")?.[0];
  if (verify !== undefined && verify !== password) throw new StanzaError({ condition: "not-acceptable", text: "The passwords differ" });
  const short = passwordTooShort(api.config, password);
  if (short !== undefined) throw new StanzaError({ condition: "not-acceptable", text: `Choose a longer password: ${short}` });
  return password;
}

function refuseAccountError(err: unknown): never {
  if (err instanceof AccountError) {
    throw new StanzaError({ condition: err.code === "exists" ? "conflict" : "item-not-found", text: err.message });
  }
  throw err;
}

export function adminAdhoc(store: EventStore): ParleyModule {
  return {
    name: "admin_adhoc",
    load(api) {
      const by = (requester: Jid) => ({ kind: "admin" as const, tool: `XEP-0133 by ${requester.bareString()}` });
      const handler = storeCommandHandler(store);
      /** The bound sessions of this server, by full JID. */
      const online = new Map<string, ResourceSession>();
      api.hook("resource-bind", ({ session }) => { online.set(session.fullJid, session); });
      api.hook("resource-unbind", ({ session }) => {
        if (online.get(session.fullJid) === session) online.delete(session.fullJid);
      });
      const onlineOf = (domain: string) => [...online.values()].filter((s) => s.jid.domain === domain);

      const commands: AdhocCommand[] = [
        {
          node: node("add-user"),
          name: "Add a user",
          form: () => dataForm("form", "Adding a user", "Fill out this form to add a user.", [FORM_TYPE,
            { var: "accountjid", type: "jid-single", label: "The Jabber ID for the account to be added", required: true },
            { var: "password", type: "text-private", label: "The password for this account", required: true },
            { var: "password-verify", type: "text-private", label: "Retype password", required: true }]),
          async submit({ requester, domain, values }) {
            const jid = accountOf(single(values, "accountjid") ?? "", domain);
            const password = newPassword(api, values);
            let refusal: string | undefined;
            api.fire("user-registering", { jid, refuse: (reason) => { refusal ??= reason; } });
            if (refusal !== undefined) throw new StanzaError({ condition: "conflict", text: refusal });
            const credentials = await credentialsForAsync(password, api.config.scramIterations);
            try {
              handler.execute(jid.bareString(), undefined, { kind: "register", credentials }, by(requester));
            } catch (err) {
              refuseAccountError(err);
            }
            return { note: `${jid.bareString()} was added` };
          },
        },
        {
          node: node("delete-user"),
          name: "Delete users",
          form: () => dataForm("form", "Deleting users", "Fill out this form to delete users.", [FORM_TYPE,
            { var: "accountjids", type: "jid-multi", label: "The Jabber IDs of the accounts to be deleted", required: true }]),
          submit({ requester, domain, values }) {
            const jids = (values.get("accountjids") ?? []).filter((v) => v.trim() !== "").map((v) => accountOf(v.trim(), domain));
            if (jids.length === 0) throw bad("The field 'accountjids' is required");
            const missing = jids.filter((j) => !api.accountExists(j.bareString()));
            if (missing.length > 0) throw new StanzaError({ condition: "item-not-found", text: `No such account: ${missing.join(", ")}` });
            // The account's deletion reaches its actor through the directory, which closes its sessions.
            for (const j of jids) deleteAccount(store, j.bareString(), by(requester), `deleted by the administrator ${requester.bareString()} (XEP-0133)`);
            return { note: `Deleted: ${jids.map((j) => j.bareString()).join(", ")}` };
          },
        },
        {
          node: node("change-user-password"),
          name: "Change a user's password",
          form: () => dataForm("form", "Changing a user's password", "Fill out this form to change a user's password.", [FORM_TYPE,
            { var: "accountjid", type: "jid-single", label: "The Jabber ID for this account", required: true },
            { var: "password", type: "text-private", label: "The password for this account", required: true }]),
          async submit({ requester, domain, values }) {
            const jid = accountOf(single(values, "accountjid") ?? "", domain);
            const password = newPassword(api, values);
            const credentials = await credentialsForAsync(password, api.config.scramIterations);
            try {
              handler.execute(jid.bareString(), undefined, { kind: "password.change", credentials }, by(requester));
            } catch (err) {
              refuseAccountError(err);
            }
            return { note: `The password of ${jid.bareString()} was changed` };
          },
        },
        {
          node: node("get-online-users-list"),
          name: "Get list of online users",
          form: () => dataForm("form", "Requesting list of online users", undefined, [FORM_TYPE,
            { var: "max_items", type: "list-single", label: "Maximum number of items to report", values: ["100"] }]),
          submit({ domain, values }) {
            const asked = Number(single(values, "max_items", false) ?? MAX_REPORTED_USERS);
            const max = Number.isInteger(asked) && asked > 0 ? Math.min(asked, MAX_REPORTED_USERS) : MAX_REPORTED_USERS;
            const users = [...new Set(onlineOf(domain).map((s) => s.jid.bareString()))].sort().slice(0, max);
            return {
              result: dataForm("result", undefined, undefined, [FORM_TYPE,
                { var: "onlineuserjids", type: "jid-multi", label: "The list of all online users", values: users }]),
            };
          },
        },
        {
          node: node("end-user-session"),
          name: "End a user session",
          form: () => dataForm("form", "Ending a user session", "A bare JID ends every session of the user; a full JID ends one.", [FORM_TYPE,
            { var: "accountjids", type: "jid-multi", label: "The Jabber IDs whose sessions end", required: true }]),
          submit({ requester, domain, values }) {
            const jids = (values.get("accountjids") ?? []).filter((v) => v.trim() !== "").map((v) => accountOf(v.trim(), domain, true));
            if (jids.length === 0) throw bad("The field 'accountjids' is required");
            let ended = 0;
            for (const s of onlineOf(domain)) {
              if (!jids.some((j) => (j.resource === "" ? j.equalsBare(s.jid) : j.toString() === s.fullJid))) continue;
              // RFC 6120 §4.9.3.14: policy-violation, with the reason in the text.
              s.session.send({ type: "session.kick", condition: "policy-violation", text: `Session ended by the administrator ${requester.bareString()}` });
              ended++;
            }
            return { note: `${ended} session${ended === 1 ? "" : "s"} ended` };
          },
        },
        {
          node: node("announce"),
          name: "Send announcement to online users",
          form: () => dataForm("form", "Making an announcement", "Fill out this form to make an announcement to all active users of this service.", [FORM_TYPE,
            { var: "subject", type: "text-single", label: "Subject" },
            { var: "announcement", type: "text-multi", label: "Announcement", required: true }]),
          submit({ domain, values }) {
            const body = (values.get("announcement") ?? []).join("\n");
            if (body.trim() === "") throw bad("The field 'announcement' is required");
            const subject = single(values, "subject", false);
            const targets = onlineOf(domain);
            // §4.23: to every online user's session, from the server, a headline that is not stored offline.
            for (const s of targets) {
              api.route(el("message", NS.client, { from: domain, to: s.fullJid, type: "headline" },
                subject !== undefined && el("subject", NS.client, {}, subject), el("body", NS.client, {}, body)));
            }
            return { note: `Sent to ${targets.length} session${targets.length === 1 ? "" : "s"}` };
          },
        },
      ];
      const nodes = new Set(commands.map((c) => c.node));
      const isAdmin = (jid: Jid) => api.config.admins.includes(jid.bareString());

      api.hook("adhoc/commands", ({ requester, commands: list }) => {
        if (isAdmin(requester)) list.push(...commands);
      });
      api.hook("adhoc/exists", ({ node: n }) => (nodes.has(n) ? HANDLED : undefined));
    },
  };
}
