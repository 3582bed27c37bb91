// The inspector's page script is committed as a bundle inside the Go
// module (go:embed reaches nothing outside it): rebuilding it from
// inspector/web/main.ts and this client's dist/ must give the same bytes.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { expect, it } from "vitest";

const run = promisify(execFile);
const script = fileURLToPath(new URL("../scripts/build-inspector.mjs", import.meta.url));

it("inspector/page/app.js is built from the current sources", async () => {
  const { stdout } = await run(process.execPath, [script, "--check"]);
  expect(stdout).toContain("up to date");
}, 60_000);
