// Data forms (XEP-0004) of XEP-0045: the room configuration (§10.2, FORM_TYPE
// muc#roomconfig, §15.5.3), the room information in disco#info (§15.5.4,
// muc#roominfo) and the registration form (§7.10, muc#register).
import { el, type XmlElement } from "../../xml/element.js";
import { isRole, type RoomConfig, type Role } from "./room-state.js";

export const NS_DATA = "jabber:x:data";
const ROOMCONFIG = "http://jabber.org/protocol/muc#roomconfig";

function field(type: string, v: string, label: string, values: readonly string[], options?: readonly [string, string][]): XmlElement {
  return el("field", NS_DATA, { type, var: v, label },
    ...(options ?? []).map(([value, l]) => el("option", NS_DATA, { label: l }, el("value", NS_DATA, {}, value))),
    ...values.map((x) => el("value", NS_DATA, {}, x)));
}
const bool = (b: boolean): string => (b ? "1" : "0");

/** The owner's form, filled with the current values (§10.2). */
export function configForm(config: RoomConfig, maxHistory: number): XmlElement {
  return el("x", NS_DATA, { type: "form" },
    el("title", NS_DATA, {}, "Room configuration"),
    el("field", NS_DATA, { type: "hidden", var: "FORM_TYPE" }, el("value", NS_DATA, {}, ROOMCONFIG)),
    field("text-single", "muc#roomconfig_roomname", "Title", [config.name]),
    field("text-single", "muc#roomconfig_roomdesc", "Description", [config.description]),
    field("boolean", "muc#roomconfig_persistentroom", "Persistent (kept when empty)", [bool(config.persistent)]),
    field("boolean", "muc#roomconfig_publicroom", "Listed in the directory", [bool(config.public)]),
    field("boolean", "muc#roomconfig_membersonly", "Only members may join", [bool(config.membersOnly)]),
    field("boolean", "muc#roomconfig_moderatedroom", "Moderated (only those with voice may speak)", [bool(config.moderated)]),
    field("boolean", "muc#roomconfig_passwordprotectedroom", "Password protected", [bool(config.password !== "")]),
    field("text-private", "muc#roomconfig_roomsecret", "Password", [config.password]),
    field("list-single", "muc#roomconfig_whois", "Who may see real JIDs", [config.whois],
      [["moderators", "Moderators only"], ["anyone", "Anyone"]]),
    field("list-multi", "muc#roomconfig_presencebroadcast", "Roles whose presence is broadcast", config.presenceBroadcast,
      [["moderator", "Moderator"], ["participant", "Participant"], ["visitor", "Visitor"], ["none", "Members not present"]]),
    field("boolean", "muc#roomconfig_changesubject", "Participants may change the subject", [bool(config.changeSubject)]),
    field("boolean", "muc#roomconfig_allowinvites", "Participants may invite", [bool(config.allowInvites)]),
    field("text-single", "muc#maxhistoryfetch", `Messages of history kept (at most ${maxHistory})`, [String(config.historyLength)]),
    field("text-single", "muc#roomconfig_maxusers", "Maximum occupants (0: the service's limit)", [String(config.maxUsers)]),
  );
}

export class FormError extends Error {}

function values(form: XmlElement): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const f of form.getChildren("field", NS_DATA)) {
    const v = f.attrs.var;
    if (v === undefined) continue;
    out.set(v, f.getChildren("value", NS_DATA).map((x) => x.text()));
  }
  return out;
}

function parseBool(v: string, name: string): boolean {
  if (v === "1" || v === "true") return true;
  if (v === "0" || v === "false") return false;
  throw new FormError(`${name} must be a boolean`);
}

/** A submitted form applied to the current configuration: fields left out keep their values (§10.2). */
export function applyConfigForm(form: XmlElement, current: RoomConfig, maxHistory: number): RoomConfig {
  const fields = values(form);
  const type = fields.get("FORM_TYPE")?.[0];
  if (type !== undefined && type !== ROOMCONFIG) throw new FormError(`FORM_TYPE must be ${ROOMCONFIG}`);
  const next: RoomConfig = { ...current, presenceBroadcast: [...current.presenceBroadcast] };
  const one = (name: string): string | undefined => {
    const v = fields.get(name);
    return v === undefined ? undefined : (v[0] ?? "");
  };
  const b = (name: string): boolean | undefined => {
    const v = one(name);
    return v === undefined ? undefined : parseBool(v, name);
  };
  next.name = one("muc#roomconfig_roomname") ?? next.name;
  next.description = one("muc#roomconfig_roomdesc") ?? next.description;
  next.persistent = b("muc#roomconfig_persistentroom") ?? next.persistent;
  next.public = b("muc#roomconfig_publicroom") ?? next.public;
  next.membersOnly = b("muc#roomconfig_membersonly") ?? next.membersOnly;
  next.moderated = b("muc#roomconfig_moderatedroom") ?? next.moderated;
  next.changeSubject = b("muc#roomconfig_changesubject") ?? next.changeSubject;
  next.allowInvites = b("muc#roomconfig_allowinvites") ?? next.allowInvites;
  const secret = one("muc#roomconfig_roomsecret");
  if (secret !== undefined) next.password = secret;
  if (b("muc#roomconfig_passwordprotectedroom") === false) next.password = "";
  const whois = one("muc#roomconfig_whois");
  if (whois !== undefined) {
    if (whois !== "moderators" && whois !== "anyone") throw new FormError("muc#roomconfig_whois must be moderators or anyone");
    next.whois = whois;
  }
  const broadcast = fields.get("muc#roomconfig_presencebroadcast");
  if (broadcast !== undefined) {
    const roles: Role[] = [];
    for (const r of broadcast) {
      if (!isRole(r)) throw new FormError(`unknown role ${r} in muc#roomconfig_presencebroadcast`);
      if (!roles.includes(r)) roles.push(r);
    }
    next.presenceBroadcast = roles;
  }
  const history = one("muc#maxhistoryfetch") ?? one("muc#roomconfig_historylength");
  if (history !== undefined && history !== "") {
    const n = Number(history);
    if (!Number.isInteger(n) || n < 0) throw new FormError("the history length must be a whole number");
    next.historyLength = Math.min(n, maxHistory);
  }
  const maxUsers = one("muc#roomconfig_maxusers");
  if (maxUsers !== undefined && maxUsers !== "") {
    const n = Number(maxUsers);
    if (!Number.isInteger(n) || n < 0) throw new FormError("muc#roomconfig_maxusers must be a whole number");
    next.maxUsers = n;
  }
  return next;
}

/** §15.5.4: muc#roominfo in the room's disco#info. */
export function roomInfoForm(config: RoomConfig, occupants: number, subject: string): XmlElement {
  const f = (v: string, value: string, label?: string) => el("field", NS_DATA, { var: v, label }, el("value", NS_DATA, {}, value));
  return el("x", NS_DATA, { type: "result" },
    el("field", NS_DATA, { type: "hidden", var: "FORM_TYPE" }, el("value", NS_DATA, {}, "http://jabber.org/protocol/muc#roominfo")),
    f("muc#roominfo_description", config.description, "Description"),
    f("muc#roominfo_occupants", String(occupants), "Number of occupants"),
    f("muc#roominfo_subject", subject, "Subject"),
    f("muc#roomconfig_roomname", config.name, "Title"),
    f("muc#roomconfig_changesubject", bool(config.changeSubject)),
    f("muc#roomconfig_allowinvites", bool(config.allowInvites)),
  );
}

export const REGISTER_FORM_TYPE = "http://jabber.org/protocol/muc#register";

/** §7.10.2: the nickname registration form. */
export function registerForm(): XmlElement {
  return el("x", NS_DATA, { type: "form" },
    el("field", NS_DATA, { type: "hidden", var: "FORM_TYPE" }, el("value", NS_DATA, {}, REGISTER_FORM_TYPE)),
    el("field", NS_DATA, { type: "text-single", label: "Nickname", var: "muc#register_roomnick" }, el("required", NS_DATA)),
  );
}

/** The submitted nickname, or undefined when the form has none. */
export function registeredNick(form: XmlElement): string | undefined {
  const fields = values(form);
  const type = fields.get("FORM_TYPE")?.[0];
  if (type !== undefined && type !== REGISTER_FORM_TYPE) throw new FormError(`FORM_TYPE must be ${REGISTER_FORM_TYPE}`);
  const nick = fields.get("muc#register_roomnick")?.[0];
  return nick === undefined || nick === "" ? undefined : nick;
}

/** The values of one field of a submitted form (the ad-hoc commands' `rooms`). */
export function fieldValues(form: XmlElement, name: string): string[] {
  return values(form).get(name) ?? [];
}
