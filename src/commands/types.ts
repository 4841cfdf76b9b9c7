// A CLI sub-command. Each lives in src/commands/<name>.ts and exports `command`; its one-line
// summary lives in src/main.ts's table, so `sla-planner --help` loads no command module.
export interface Command {
  name: string;
  /** Full text for `sla-planner <name> --help`. */
  usage: string;
  /** Returns the exit code: 0 ok, 2 bad input/usage, 1 other failure. Throw InputError for 2. */
  run(argv: string[]): Promise<number>;
}
