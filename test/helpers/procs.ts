// The integration tests start the real Prometheus and etcd with the launchers the benchmarks use:
// one copy of the process handling (free localhost ports, stop by PID).
export * from '../../bench/procs.js';
