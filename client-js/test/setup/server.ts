// Builds the Go todo example, examples/jstest (a server for the tests
// that need a rate limit or many stores) and examples/drive (a Go client
// that keeps the todo server busy), once per test run; the tests
// start them as often as they need from the binaries. The server may be mid-change in the
// repository, so a failing build is retried for a while before giving up.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    todoServer: string;
    jstestServer: string;
    driveClient: string;
    repoRoot: string;
  }
}

const run = promisify(execFile);

export default async function setup(project: TestProject): Promise<() => void> {
  const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), "hotstate-todo-"));

  const deadline = Date.now() + Number(process.env.HOTSTATE_BUILD_WAIT_MS ?? 0);
  for (;;) {
    try {
      await run("go", ["build", "-o", dir, "./examples/todo", "./examples/jstest", "./examples/drive"], { cwd: repoRoot });
      break;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 5000));
    }
  }
  project.provide("todoServer", join(dir, "todo"));
  project.provide("jstestServer", join(dir, "jstest"));
  project.provide("driveClient", join(dir, "drive"));
  project.provide("repoRoot", repoRoot);
  return () => rmSync(dir, { recursive: true, force: true });
}
