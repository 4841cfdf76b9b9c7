#!/usr/bin/env node
import { main } from './main.js';
import { errorMessage } from './util/errors.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`sla-planner: ${errorMessage(err)}\n`);
    process.exitCode = 1;
  },
);
