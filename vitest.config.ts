import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start real servers (Prometheus, etcd) on free ports; keep files parallel
    // but bounded for the 2-core CI machine.
    maxWorkers: 2,
  },
});
