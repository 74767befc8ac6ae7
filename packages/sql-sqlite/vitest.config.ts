import { defineProject } from "vitest/config"
import { sourceAliases, testTimeout } from "../../vitest.shared.js"

export default defineProject({
  resolve: { alias: sourceAliases },
  test: {
    name: "sql-sqlite",
    include: ["test/**/*.test.ts"],
    testTimeout
  }
})
