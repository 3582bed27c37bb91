// Debian's Chromium driven by playwright-core, and the pages the browser
// tests build against this package's dist/, as an application would
// import the published package.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { chromium, type BrowserContext, type Page } from "playwright-core";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));

export const artifacts = here("../../test-artifacts/");

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** launch starts a headless Chromium with a throwaway profile. */
export async function launch(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/ensure-chromium.sh`);
  mkdirSync(artifacts, { recursive: true });
  const profile = mkdtempSync(join(tmpdir(), "hotstate-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: 1000, height: 640 },
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * watch collects what a page reports as going wrong: uncaught errors and
 * unhandled rejections, and console errors and warnings (React's and
 * Vue's development builds warn there about misused hooks).
 */
export function watch(page: Page): string[] {
  const problems: string[] = [];
  page.on("pageerror", (err) => problems.push(`pageerror: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error" || msg.type() === "warning") problems.push(`console.${msg.type()}: ${msg.text()}`);
  });
  return problems;
}

/** A test page: its source under test/browser/pages and the packages it renders with. */
export interface PageSpec {
  name: string;
  source: string;
  /** alias maps package names to others, e.g. react to react18. */
  alias?: Record<string, string>;
}

/**
 * buildPages bundles each page in development mode (so that React and Vue
 * check their use) into a fresh directory with an HTML file per page, for
 * the Go server's -web to serve. It returns the directory and a function
 * that removes it.
 */
export async function buildPages(pages: PageSpec[]): Promise<{ dir: string; remove(): void }> {
  const dir = mkdtempSync(join(tmpdir(), "hotstate-pages-"));
  const dist = here("../../dist/");
  for (const p of pages) {
    await build({
      entryPoints: [here(`../browser/pages/${p.source}`)],
      outfile: join(dir, `${p.name}.js`),
      bundle: true,
      format: "esm",
      target: "es2022",
      jsx: "automatic",
      define: {
        "process.env.NODE_ENV": '"development"',
        __VUE_OPTIONS_API__: "false",
        __VUE_PROD_DEVTOOLS__: "false",
        __VUE_PROD_HYDRATION_MISMATCH_DETAILS__: "false",
      },
      alias: {
        "hotstate/client": join(dist, "client.js"),
        "hotstate/react": join(dist, "react.js"),
        "hotstate/vue": join(dist, "vue.js"),
        ...p.alias,
      },
      nodePaths: [here("../../node_modules")],
      logLevel: "warning",
    });
    writeFileSync(
      join(dir, `${p.name}.html`),
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${p.name}</title><link rel="icon" href="data:,"></head>` +
        `<body><div id="root"></div><script type="module" src="${p.name}.js"></script></body></html>`,
    );
  }
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
