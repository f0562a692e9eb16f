/**
 * Set-up for every workers test file: after its last test, a short pause before
 * vitest tears the file's environment down. The objects a file used may still be
 * finishing work its last test started (a socket's close handler, a coalesced
 * inbox write), and each logs a line; a line still on its way to vitest when the
 * environment closes fails the whole run with an unhandled
 * "EnvironmentTeardownError: Closing rpc while onUserConsoleLog was pending"
 * (CI, test/workers/live-state.test.ts), though every test passed.
 */
import { afterAll } from "vitest";

afterAll(async () => {
  await new Promise((resolve) => setTimeout(resolve, 300));
});
