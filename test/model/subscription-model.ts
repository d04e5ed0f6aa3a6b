// The model lives beside the roster code (src/roster/subscription-model.ts) so
// `parley inspect` draws the same machine the model-based tests walk.
export * from "../../src/roster/subscription-model.js";
