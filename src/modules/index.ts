// The catalog of feature modules by the names `modules_enabled` uses. The
// kernel knows none of them; the server looks the configured names up here.
import type { ParleyModule } from "../kernel/module-api.js";
import type { EventStore } from "../events/store.js";
import { UnknownModuleError } from "../kernel/kernel.js";
import { blocking } from "./blocking/index.js";
import { roster } from "./roster/index.js";
import { presence } from "./presence/index.js";
import { offline } from "./offline/index.js";
import { carbons } from "./carbons/index.js";
import { disco } from "./disco/index.js";
import { ping } from "./ping/index.js";
import { version } from "./version/index.js";
import { entityTime } from "./entity-time/index.js";
import { lastActivity } from "./last-activity/index.js";
import { contactAddresses } from "./contact-addresses/index.js";
import { registration } from "./registration/index.js";
import { tombstones } from "./tombstones/index.js";
import { mam } from "./mam/index.js";
import { externalServices } from "./external-services/index.js";
import { streamManagement } from "./stream-management/index.js";
import { csi } from "./csi/index.js";
import { muc } from "./muc/index.js";
import { pubsub } from "./pubsub/index.js";
import { vcard } from "./vcard/index.js";
import { privateStorage } from "./private/index.js";
import { adhoc } from "./adhoc/index.js";
import { adminAdhoc } from "./admin-adhoc/index.js";
import { httpUpload } from "./http-upload/index.js";

export interface ModuleDeps {
  /** For registration before login, when no account actor exists yet. */
  readonly store: EventStore;
}

export function moduleCatalog(deps: ModuleDeps): ReadonlyMap<string, ParleyModule> {
  // One module per line, so features added side by side merge cleanly.
  const all = [
    blocking, roster, presence, offline, mam, carbons, disco, ping, version, entityTime, lastActivity, contactAddresses,
    registration(deps.store), tombstones, externalServices,
    streamManagement,
    csi,
    muc,
    pubsub,
    vcard,
    privateStorage,
    adhoc,
    adminAdhoc(deps.store),
    httpUpload,
  ];
  return new Map(all.map((m) => [m.name, m]));
}

/** The configured modules, in order; an unknown name is an error naming it. */
export function enabledModules(names: readonly string[], deps: ModuleDeps): ParleyModule[] {
  const catalog = moduleCatalog(deps);
  return names.map((name) => {
    const m = catalog.get(name);
    if (!m) throw new UnknownModuleError(name, [...catalog.keys()]);
    return m;
  });
}
