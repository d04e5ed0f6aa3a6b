// XEP-0215 time-limited credentials in the form coturn's REST API
// (`use-auth-secret`) accepts: username "<expiry unix seconds>:<user>",
// password base64(HMAC-SHA1(secret, username)). The expected value was
// computed with Python's hmac module, an independent implementation.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { turnCredentials } from "../../src/modules/external-services/index.js";

test("TURN credentials: the expiry leads the username, the password is coturn's HMAC-SHA1", () => {
  const { username, password } = turnCredentials("north-secret", "romeo", new Date(1796285227_000));
  assert.is(username, "1796285227:romeo");
  assert.is(password, "MMz0I4OVxCLA1W4OYQ3sWh1JzTI=");
});

test("a later expiry or another secret gives another password", () => {
  const a = turnCredentials("north-secret", "romeo", new Date(1796285227_000));
  assert.is.not(turnCredentials("north-secret", "romeo", new Date(1796285228_000)).password, a.password);
  assert.is.not(turnCredentials("south-secret", "romeo", new Date(1796285227_000)).password, a.password);
});

test.run();
