// The kernel's own collaborators, as the account actor and the kernel's
// dispatch functions see them.
import type { ServerConfig } from "../config.js";
import type { Logger } from "../util/logger.js";
import type { HookBus } from "./hooks.js";
import type { Router } from "./router.js";
import type { OutputCauses } from "../events/commit-gate.js";

export interface KernelServices {
  readonly config: ServerConfig;
  readonly log: Logger;
  readonly hooks: HookBus;
  readonly router: Router;
  /** What the output of the handling in progress depends on (src/events/commit-gate.ts). */
  readonly causes: OutputCauses;
  now(): Date;
}
