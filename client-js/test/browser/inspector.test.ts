// The inspector's page in a real Chromium, served by the real todo server
// while a Go client (examples/drive) drives it: the page shows the Todos
// store changing, the Go client's session, and its calls on the timeline,
// which filters by store, function and client. Screenshots land in
// test-artifacts/.
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import { artifacts, launch, watch, type Browser } from "../helpers/browser.js";
import { TodoServer } from "../helpers/server.js";

const token = "inspector-test-token";

let server: TodoServer;
let browser: Browser;
let driver: ChildProcess | undefined;
let driven = "";

beforeAll(async () => {
  server = await TodoServer.start({ args: ["-inspect-token", token] });
  browser = await launch();
});

afterAll(async () => {
  driver?.kill("SIGTERM");
  await browser?.close();
  await server?.stop("SIGTERM");
});

/** drive starts the Go client and resolves once it has added its first todo. */
async function drive(): Promise<ChildProcess> {
  const proc = spawn(inject("driveClient"), ["-url", server.url, "-every", "150ms", "-text", "inspected"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the Go client added nothing:\n" + driven)), 20_000);
    const take = (chunk: Buffer) => {
      driven += chunk.toString();
      if (driven.includes("added inspected 1")) {
        clearTimeout(timer);
        resolve();
      }
    };
    proc.stdout!.on("data", take);
    proc.stderr!.on("data", take);
    proc.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the Go client exited with ${code}:\n${driven}`));
    });
  });
  return proc;
}

const version = async (page: Page): Promise<number> =>
  Number(await page.locator('#stores tr[data-store="Todos"] .version').textContent());

it("is refused without the token", async () => {
  for (const path of ["inspect/", "inspect/ws", "inspect/?token=wrong"]) {
    const res = await fetch(server.httpUrl + path);
    expect(res.status, path).toBe(403);
  }
});

it("shows a store changing and the Go client's calls while it drives the server", async () => {
  const page = await browser.context.newPage();
  const problems = watch(page);
  await page.goto(`${server.httpUrl}inspect/?token=${token}`);
  await page.locator('#status[data-status="connected"]').waitFor();
  await page.locator("#engine b").waitFor();
  await page.locator("#nodes tr.here", { hasText: "this page's" }).waitFor();

  driver = await drive();

  // The store changes under the page's eyes.
  await page.locator('#stores tr[data-store="Todos"]').waitFor();
  const first = await version(page);
  await expect.poll(() => version(page), { timeout: 15_000 }).toBeGreaterThan(first);

  // The Go client's session, subscribed to Todos.
  const session = page.locator("#sessions tr", { hasText: "Todos" }).filter({ hasNotText: "inspector" });
  await session.first().waitFor();
  const clientId = (await session.first().locator("td").first().textContent())!.trim();
  expect(clientId).not.toBe("");

  // Its calls and the changes they made, on the timeline.
  const call = page.locator("#timeline tr.kind-call", { hasText: "todos.add" });
  await call.first().waitFor();
  await expect.poll(() => call.first().textContent()).toContain(clientId);
  expect(await call.first().textContent()).toContain("ok");
  await page.locator("#timeline tr.kind-change", { hasText: "Todos" }).first().waitFor();
  await page.screenshot({ path: join(artifacts, "inspector-1-live.png"), fullPage: true });

  // Filtering by function leaves only the calls.
  await page.fill("#f-function", "todos.add");
  await expect.poll(() => page.locator("#timeline tr.kind-change").count()).toBe(0);
  expect(await call.count()).toBeGreaterThan(0);
  // By client as well: another client's id hides everything.
  await page.fill("#f-client", "nobody");
  await page.locator("#timeline .empty").waitFor();
  await page.fill("#f-client", clientId);
  await call.first().waitFor();
  await page.fill("#f-function", "");
  await page.fill("#f-client", "");
  await page.fill("#f-store", "Todos");
  await expect.poll(() => page.locator("#timeline tr.kind-call").count()).toBe(0);
  expect(await page.locator("#timeline tr.kind-change").count()).toBeGreaterThan(0);
  await page.screenshot({ path: join(artifacts, "inspector-2-filtered.png"), fullPage: true });

  // Read-only by default: no action buttons.
  expect(await page.locator("button[data-action]").count()).toBe(0);
  expect(problems).toEqual([]);
  await page.close();
});
