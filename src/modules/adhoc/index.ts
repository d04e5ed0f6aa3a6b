// XEP-0050 Ad-Hoc Commands at the server's domain: the commands other
// modules offer (the `adhoc/commands` hook: XEP-0133's administration comes
// from admin_adhoc) are listed in disco#items of the node
// http://jabber.org/protocol/commands (§2.2), each only to those allowed to
// run it, and run with <command action='execute'/> (§3): the first stage
// answers with the command's form and a session id, the submitted form
// completes it (§3.4), <command action='cancel'/> ends it (§3.5).
// Sessions are bounded: per requester and in all, and they expire.
import { randomBytes } from "node:crypto";
import { el } from "../../xml/element.js";
import { StanzaError } from "../../xmpp/errors.js";
import type { Jid } from "../../jid/jid.js";
import type { ParleyModule } from "../../kernel/module-api.js";
import type { AdhocCommand } from "../../kernel/events.js";
import { submittedValues, NS_DATA } from "./data-forms.js";

export const NS_COMMANDS = "http://jabber.org/protocol/commands";


interface OpenSession {
  readonly node: string;
  readonly requester: string;
  readonly started: number;
}

/** §4.6: the application-specific conditions, beside the RFC 6120 one. */
function commandError(condition: "bad-request" | "not-allowed", specific: string, text: string): StanzaError {
  return new StanzaError({ condition, text, extra: el(specific, NS_COMMANDS) });
}

export const adhoc: ParleyModule = {
  name: "adhoc",
  load(api) {
    const sessions = new Map<string, OpenSession>();
    // Open sessions (a form sent, not yet submitted): per requester and in all, the oldest
    // dropped beyond; a form not submitted in time is session-expired (§4.6). [adhoc] sets them.
    const { sessionsPerRequester, sessionsTotal, sessionSeconds } = api.config.adhoc;

    const commandsFor = (requester: Jid, domain: string): AdhocCommand[] => {
      const commands: AdhocCommand[] = [];
      api.fire("adhoc/commands", { requester, domain, commands });
      return commands;
    };

    const openSession = (node: string, requester: string, now: number): string => {
      for (const [id, s] of sessions) if (now - s.started > sessionSeconds * 1000) sessions.delete(id);
      const mine = [...sessions].filter(([, s]) => s.requester === requester);
      for (const [id] of mine.slice(0, Math.max(0, mine.length - sessionsPerRequester + 1))) sessions.delete(id);
      if (sessions.size >= sessionsTotal) {
        const oldest = sessions.keys().next();
        if (!oldest.done) sessions.delete(oldest.value);
      }
      const id = randomBytes(8).toString("hex");
      sessions.set(id, { node, requester, started: now });
      return id;
    };

    api.addFeature("host", NS_COMMANDS);

    // §2.2: the command list, as items of the commands node.
    api.hook("disco-items/host", (b) => {
      if (b.node !== NS_COMMANDS) return;
      b.nodeFound = true;
      for (const c of commandsFor(b.requester, b.domain)) b.items.push({ jid: b.domain, node: c.node, name: c.name });
    });
    // §2.3: each command is a node with the command-node identity.
    api.hook("disco-info/host", (b) => {
      if (b.node === NS_COMMANDS) {
        b.nodeFound = true;
        b.identities.push({ category: "automation", type: "command-list" });
        return;
      }
      const command = b.node === undefined ? undefined : commandsFor(b.requester, b.domain).find((c) => c.node === b.node);
      if (!command) return;
      b.nodeFound = true;
      b.identities.push({ category: "automation", type: "command-node", name: command.name });
      b.features.add(NS_COMMANDS);
      b.features.add(NS_DATA);
    });

    api.iq("set", "host", NS_COMMANDS, "command", async (req) => {
      const { payload, from, domain } = req;
      const node = payload.attrs.node;
      if (!node) throw commandError("bad-request", "malformed-action", "A command needs a node");
      const action = payload.attrs.action ?? "execute";
      const requester = from.toString();
      const now = api.now().getTime();
      const command = commandsFor(from, domain).find((c) => c.node === node);
      if (!command) {
        // Listed only to those allowed: a command someone may not run is forbidden, an unknown one not found.
        if (api.fire("adhoc/exists", { node })) throw new StanzaError({ condition: "forbidden", text: "This command is for the server's administrators" });
        throw new StanzaError({ condition: "item-not-found", text: `No command ${node}` });
      }
      const sessionId = payload.attrs.sessionid;
      if (sessionId === undefined) {
        if (action !== "execute") throw commandError("bad-request", "bad-action", `'${action}' before the command started`);
        // §3.2: the first stage, the form to fill in; <complete/> submits it.
        const id = openSession(node, requester, now);
        return el("command", NS_COMMANDS, { node, sessionid: id, status: "executing" },
          el("actions", NS_COMMANDS, { execute: "complete" }, el("complete", NS_COMMANDS)),
          command.form());
      }
      const open = sessions.get(sessionId);
      if (!open || open.requester !== requester || open.node !== node) throw commandError("bad-request", "bad-sessionid", "No such command session");
      sessions.delete(sessionId);
      if (now - open.started > sessionSeconds * 1000) throw commandError("not-allowed", "session-expired", "The command session expired");
      if (action === "cancel") return el("command", NS_COMMANDS, { node, sessionid: sessionId, status: "canceled" });
      if (action !== "complete" && action !== "execute" && action !== "next") throw commandError("bad-request", "bad-action", `Unknown action '${action}'`);
      const values = submittedValues(payload.getChild("x", NS_DATA));
      if (!values) throw commandError("bad-request", "bad-payload", "Submit the command's form (XEP-0004 type='submit')");
      const outcome = await command.submit({ requester: from, domain, values });
      // §3.4: completed, with a note and, for a command that reports, a result form.
      return el("command", NS_COMMANDS, { node, sessionid: sessionId, status: "completed" },
        outcome.note !== undefined && el("note", NS_COMMANDS, { type: "info" }, outcome.note),
        outcome.result);
    });
  },
};

