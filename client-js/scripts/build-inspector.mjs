// Builds the inspector's page script (inspector/web/main.ts) into
// inspector/page/app.js, which the Go module embeds: go:embed cannot reach
// outside its module, so the bundle is committed there. It imports hotstate
// from this package's dist/, as an application would import the published
// package. With --check it builds into memory and fails when the committed
// file differs. The bundle's first line holds the SHA-256 of main.ts, which
// the Go module's tests compare with the source they see.
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const out = here("../../inspector/page/app.js");
const source = here("../../inspector/web/main.ts");
const sum = createHash("sha256").update(readFileSync(source)).digest("hex");

const result = await build({
  entryPoints: [source],
  banner: { js: `// Built by client-js/scripts/build-inspector.mjs from web/main.ts (sha256 ${sum}); do not edit.` },
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2022",
  alias: { "hotstate/client": here("../dist/client.js") },
  nodePaths: [here("../node_modules")],
  legalComments: "none",
  write: false,
  logLevel: "warning",
});
const js = result.outputFiles[0].text;

if (process.argv.includes("--check")) {
  if (readFileSync(out, "utf8") !== js) {
    console.error("inspector/page/app.js is stale: run node scripts/build-inspector.mjs in client-js");
    process.exit(1);
  }
  console.log("inspector/page/app.js is up to date");
} else {
  writeFileSync(out, js);
  console.log(`built inspector/page/app.js (${js.length} bytes)`);
}
