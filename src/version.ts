// Kept in step with package.json by hand; a test checks they agree.
export const PARLEY_VERSION = "0.1.0";
