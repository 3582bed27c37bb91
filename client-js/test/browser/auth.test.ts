// getToken in Chromium against the real todo server started with -tokens:
// a browser learns of a refused upgrade (401) only as a failed connection,
// and the client must ask for a token again on every attempt.
import type { Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { buildPages, launch, watch, type Browser } from "../helpers/browser.js";
import { TodoServer } from "../helpers/server.js";

let server: TodoServer;
let browser: Browser;
let pages: { dir: string; remove(): void };

beforeAll(async () => {
  pages = await buildPages([{ name: "auth", source: "auth.ts" }]);
  server = await TodoServer.start({ web: pages.dir, args: ["-tokens", "alice=tok-a,bob=tok-b"] });
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
  await server?.stop("SIGTERM");
  pages?.remove();
});

const user = (page: Page, name: string) => page.locator(`#root[data-user="${name}"]`).waitFor({ timeout: 20_000 });

it("retries a refused token with a new one and asks again on every reconnection", async () => {
  const page = await browser.context.newPage();
  const problems = watch(page);
  await page.goto(`${server.httpUrl}auth.html`);
  await user(page, "alice");
  expect(await page.evaluate(() => (window as any).asked)).toBe(2);

  await page.evaluate(() => ((window as any).token = "tok-b"));
  await server.restart();
  await user(page, "bob");
  // Chromium logs each refused or failed handshake itself.
  expect(problems.filter((p) => !/WebSocket connection to .* failed/.test(p))).toEqual([]);
  await page.close();
});
