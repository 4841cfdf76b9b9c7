// The release version, reported by --version, /status and sla_planner_build_info (a test keeps it
// equal to package.json's).
export const VERSION = '0.1.0';
