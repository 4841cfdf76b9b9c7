import { loadMeasurements, calibrate, errorReport } from '../src/profiler/calibration.js';
import { SHIPPED_GPUS } from '../src/profiler/specs/gpus.js';
const gpu = SHIPPED_GPUS['h100-sxm'];
const ms = ['llama-3.1-8b', 'qwen3-0.6b'].map((n) => loadMeasurements(`/work/shared/fixtures/h100/${n}.json`));
for (const cal of ms) {
  const fit = calibrate(cal, gpu);
  console.log('calibrated on', cal.model.name, JSON.stringify(fit.eff), fit.rmsLogError, fit.iterations);
  for (const m of ms) {
    const r = errorReport(m, gpu, fit.eff);
    console.log(' ', m.model.name, 'ttft med', r.ttft.median.toFixed(3), 'worst', r.ttft.worst.toFixed(3), r.ttft.worstAt, '| itl med', r.itl.median.toFixed(3), 'worst', r.itl.worst.toFixed(3), r.itl.worstAt, 'kv', r.maxKvTokens.relError.toFixed(3));
    if (m !== cal) for (const p of r.points) console.log('    ', p.phase, p.at, p.measuredMs.toFixed(2), p.predictedMs.toFixed(2), (p.relError*100).toFixed(1));
  }
}
