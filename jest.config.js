/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "node",
  transform: {
    "^.+\\.ts$": [
      "@swc/jest",
      {
        jsc: { parser: { syntax: "typescript" }, target: "es2022" },
        module: { type: "commonjs", ignoreDynamic: true },
      },
    ],
  },
  testMatch: ["<rootDir>/test/**/*.test.ts"],
  globalSetup: "<rootDir>/test/helpers/global-setup.ts",
  testTimeout: 60_000,
  // Integration suites start processes and databases: two at a time on two cores.
  maxWorkers: 2,
  reporters: ["default", "<rootDir>/test/helpers/summary-reporter.js"],
};
