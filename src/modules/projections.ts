// The projections of feature modules' own streams (ParleyModule.projections),
// registered beside the standard ones by src/projections/index.ts. A module
// with event-sourced state adds its projections here.
import type { Projection } from "../events/store.js";
import { mucRoomsProjection } from "./muc/index.js";
import { pubsubProjection } from "./pubsub/projection.js";

export const MODULE_PROJECTIONS: readonly Projection[] = [mucRoomsProjection, pubsubProjection];
