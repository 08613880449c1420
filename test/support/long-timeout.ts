// `testTimeout` is a global Jest option, not a per-project one: real-server suites set theirs here.
jest.setTimeout(Number(process.env.TEST_TIMEOUT_MS ?? 180_000));
