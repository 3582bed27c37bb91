import { defineConfig } from "tsdown";

export default defineConfig({
  entry: { client: "src/client.ts", react: "src/react.ts", vue: "src/vue.ts" },
  format: "esm",
  platform: "neutral",
  target: "es2022",
  dts: true,
  // The tarball ships dist/ only: maps would point at sources it lacks,
  // and the unminified output reads well enough in a debugger.
  sourcemap: false,
  clean: true,
  fixedExtension: false,
  hash: false,
  // Keep shared chunks (the declarations react.d.ts shares with client.d.ts)
  // from taking an entry's file name.
  outputOptions: { chunkFileNames: "shared/[name].js" },
});
