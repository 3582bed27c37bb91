// Builds the todo example's web page (examples/todo/web/main.tsx) into
// app.js beside it, importing hotstate from this package's dist/ as an
// application would import the published package.
import { build } from "esbuild";
import { fileURLToPath } from "node:url";

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const web = here("../../examples/todo/web/");

await build({
  entryPoints: [web + "main.tsx"],
  outfile: web + "app.js",
  bundle: true,
  minify: true,
  sourcemap: true,
  format: "esm",
  target: "es2022",
  jsx: "automatic",
  define: { "process.env.NODE_ENV": '"production"' },
  alias: {
    "hotstate/client": here("../dist/client.js"),
    "hotstate/react": here("../dist/react.js"),
  },
  nodePaths: [here("../node_modules")],
  logLevel: "warning",
});
console.log("built examples/todo/web/app.js");
