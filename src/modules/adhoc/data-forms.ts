// XEP-0004 Data Forms, as much as ad-hoc commands need: a form to fill in
// (type form), a submitted one read back (type submit), a result (type result).
import { el, type XmlElement } from "../../xml/element.js";

export const NS_DATA = "jabber:x:data";

export type FieldType = "hidden" | "fixed" | "text-single" | "text-private" | "text-multi" | "jid-single" | "jid-multi" | "boolean" | "list-single";

export interface FormField {
  readonly var?: string;
  readonly type: FieldType;
  readonly label?: string;
  readonly required?: boolean;
  readonly values?: readonly string[];
}

/** XEP-0004 §3.1, §3.4: a form (or result) with its fields. */
export function dataForm(type: "form" | "result", title: string | undefined, instructions: string | undefined, fields: readonly FormField[]): XmlElement {
  return el("x", NS_DATA, { type },
    title !== undefined && el("title", NS_DATA, {}, title),
    instructions !== undefined && el("instructions", NS_DATA, {}, instructions),
    ...fields.map((f) => el("field", NS_DATA, { var: f.var, type: f.type, label: f.label },
      f.required === true && el("required", NS_DATA),
      ...(f.values ?? []).map((v) => el("value", NS_DATA, {}, v)))));
}

/** The values of a submitted form (XEP-0004 §3.3), by field var; undefined when the element is no submitted form. */
export function submittedValues(x: XmlElement | undefined): Map<string, string[]> | undefined {
  if (!x || x.attrs.type !== "submit") return undefined;
  const out = new Map<string, string[]>();
  for (const f of x.getChildren("field", NS_DATA)) {
    const name = f.attrs.var;
    if (name === undefined) continue;
    out.set(name, f.getChildren("value", NS_DATA).map((v) => v.text()));
  }
  return out;
}
