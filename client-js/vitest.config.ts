import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/*.test.ts"],
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/*.test.ts"],
          globalSetup: ["test/setup/server.ts"],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: "browser",
          include: ["test/browser/*.test.ts"],
          globalSetup: ["test/setup/server.ts"],
          testTimeout: 90_000,
          hookTimeout: 90_000,
        },
      },
    ],
  },
});
