// `parley check features`, in the manner of `prosodyctl check features`: which
// XEP-0479 categories the configuration meets per served domain, and which
// specifications are missing, read from what the configured modules would
// advertise and from the listeners (src/compliance). `--format markdown` is
// docs/compliance.md, `--format doap` is parley.doap (`npm run compliance`).
import { validateConfig, type ServerConfig } from "../config.js";
import { capabilitiesOf } from "../compliance/capabilities.js";
import { complianceReport, formatDoap, formatMarkdown, formatText } from "../compliance/report.js";

export type FeaturesFormat = "text" | "markdown" | "doap";
export const FEATURES_FORMATS: readonly FeaturesFormat[] = ["text", "markdown", "doap"];

/** The report; `source` says which configuration, in words ("parley.toml", "the default configuration"). */
export function checkFeatures(config: ServerConfig, source: string, format: FeaturesFormat = "text"): string {
  if (format === "doap") return formatDoap();
  validateConfig(config);
  const caps = capabilitiesOf(config);
  const reports = complianceReport(caps);
  return format === "markdown" ? formatMarkdown(reports, caps) : formatText(reports, caps, source);
}
