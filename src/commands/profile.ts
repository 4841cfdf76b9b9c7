// `sla-planner profile`: the rapid profiler. From a model shape and a GPU spec, predict prefill and
// decode performance, choose the tensor-parallel sizes, and write the profile data (npz and
// ConfigMap JSON), the planner-config and planner-profile-data ConfigMaps, a DGD and a plot page.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Command } from './types.js';
import { numberFlag, parseCommandArgs, requireFlag } from '../util/args.js';
import { InputError } from '../util/errors.js';
import { DEFAULT_SLA, rapidProfile, resolveGpu, resolveModel } from '../profiler/index.js';
import { DEFAULT_RUNTIME_IMAGE, PLANNER_IMAGE } from '../profiler/assemble.js';
import { GPU_FILE_FIELDS, SUPPORTED_ARCHITECTURES } from '../profiler/inputs.js';
import { SHIPPED_GPUS } from '../profiler/specs/gpus.js';
import { SHIPPED_MODELS } from '../profiler/specs/models.js';
import { CALIBRATION_MODEL } from '../profiler/defaults.js';
import { dgdrFailedStatus, dgdrStatus, readDgdr, type DgdrRequest } from '../profiler/dgdr.js';
import { stringify as toYaml } from 'yaml';

const usage = `Usage: sla-planner profile --model <name | config.json> --gpu <name | spec file> --output-dir <dir>
       [--tp N] [--isl N] [--osl N] [--ttft MS] [--itl MS]
   or: sla-planner profile --dgdr <DynamoGraphDeploymentRequest.yaml> --output-dir <dir> [--model config.json]
       [--prefill-interpolation-granularity 16] [--decode-interpolation-granularity 6]
       [--max-context-length N] [--model-id ID] [--name DGD] [--image IMAGE]
       [--no-prometheus-ssl-verify] [--dry-run]

Rapid profiling without a GPU: a first-principles performance model of a dense transformer on a
tensor-parallel engine (FLOPs and bytes per prefill and decode step, all-reduce, GPU peaks scaled
by efficiencies calibrated on H100 measurements of ${CALIBRATION_MODEL}) stands in for the engine.

Options:
  --model <m>        Shipped shape (${Object.keys(SHIPPED_MODELS).join(', ')})
                     or a Hugging Face config.json of a dense model (${SUPPORTED_ARCHITECTURES.join(', ')}).
                     Mixture-of-experts, multimodal, sliding-window and pre-quantised models are refused.
  --gpu <g>          Shipped GPU (${Object.keys(SHIPPED_GPUS).join(', ')}) or a JSON/YAML spec file with
                     ${GPU_FILE_FIELDS}.
  --tp N             Use this tensor-parallel size for both engines (default: choose among 1, 2, 4, 8).
  --isl, --osl N     Workload the choice is made for (default ${DEFAULT_SLA.isl} / ${DEFAULT_SLA.osl} tokens).
  --ttft, --itl MS   SLA targets (default ${DEFAULT_SLA.ttftMs} / ${DEFAULT_SLA.itlMs} ms); also written into the planner config.
  --prefill-interpolation-granularity N   Prefill ISL points (default 16, at least 4).
  --decode-interpolation-granularity N    Decode ISL steps and concurrencies per step (default 6).
  --max-context-length N  Longest context swept (default: the model's, capped by the KV cache).
  --model-id ID      Hugging Face id the workers load (default: the shipped id, or _name_or_path).
  --name DGD         DynamoGraphDeployment name (default <model>-disagg-planner).
  --image IMAGE      Worker/frontend image (default ${DEFAULT_RUNTIME_IMAGE}, a placeholder tag).
                     The planner runs ${PLANNER_IMAGE} (placeholder until an image is published).
  --dgdr <file>      Take model, backend, hardware (gpuSku, numGpusPerNode, totalGpus = GPU budget), workload,
                     SLA and features.planner from a DynamoGraphDeploymentRequest (nvidia.com/v1beta1, or its
                     spec alone) and also write dgdr_status.yaml: the status the DGDR would carry (phase,
                     conditions, profilingResults.selectedConfig). features.mocker.enabled writes a mocker
                     DGD instead: a Frontend running 'sla-planner mocker' on the profile data (the whole mock
                     pool, no GPUs) and the planner in the virtual environment scaling it through etcd.
                     Refused with the reason: searchStrategy thorough (needs a live endpoint: apply the DGDR
                     to a cluster with the Dynamo operator), backends other than vllm (or mocker with
                     features.mocker), overrides.dgd, modelCache, sla.e2eLatency.
                     --model may give a config.json for a model without a shipped shape.
  --no-prometheus-ssl-verify  Write metric_pulling_prometheus_ssl_verify: false into the planner config
                     (default true: the planner verifies an https Prometheus's certificate).
  --output-dir <dir> Where to write (created if missing).
  --dry-run          Print the choice and the files that would be written; write nothing.

Output (same layout as the Dynamo profiler, plus extras):
  selected_prefill_interpolation/raw_data.npz, selected_decode_interpolation/raw_data.npz,
  prefill_raw_data.json, decode_raw_data.json, planner-profile-data.configmap.json,
  planner_config.json, final_config.yaml ([planner-config, planner-profile-data, DGD, and the planner's
  ServiceAccount, Role and RoleBinding limited to this DGD and its scaling adapters]: kubectl apply -f),
  profiler_status.yaml, selection.txt, plots.html (TTFT vs ISL, ITL vs KV usage per context).

Exit codes: 0 ok, 2 bad input (unknown model/GPU, unsupported architecture, model does not fit), 1 other failure.`;

export const command: Command = {
  name: 'profile',
  usage,
  async run(argv) {
    const { values } = parseCommandArgs('profile', argv, {
      model: { type: 'string' },
      gpu: { type: 'string' },
      tp: { type: 'string' },
      isl: { type: 'string' },
      osl: { type: 'string' },
      ttft: { type: 'string' },
      itl: { type: 'string' },
      'prefill-interpolation-granularity': { type: 'string' },
      'decode-interpolation-granularity': { type: 'string' },
      'max-context-length': { type: 'string' },
      'model-id': { type: 'string' },
      name: { type: 'string' },
      image: { type: 'string' },
      'output-dir': { type: 'string' },
      'dry-run': { type: 'boolean' },
      dgdr: { type: 'string' },
      'no-prometheus-ssl-verify': { type: 'boolean' },
    });
    const int = (flag: string, min: number) => numberFlag('profile', flag, (values as Record<string, string | undefined>)[flag], { integer: true, min });
    const num = (flag: string) => numberFlag('profile', flag, (values as Record<string, string | undefined>)[flag], { min: Number.MIN_VALUE });
    const dryRun = values['dry-run'] === true;
    const outputDir = dryRun ? values['output-dir'] : requireFlag('profile', 'output-dir', values['output-dir']);
    const tp = int('tp', 1);
    const request = values.dgdr ? readRequest(values.dgdr, values, dryRun ? undefined : outputDir) : undefined;
    const model = request?.model ?? resolveModel(requireFlag('profile', 'model', values.model), values['model-id']);
    const gpu = request?.gpu ?? resolveGpu(requireFlag('profile', 'gpu', values.gpu));
    const result = rapidProfile({
      model,
      gpu,
      workload: request?.workload ?? {
        isl: int('isl', 1) ?? DEFAULT_SLA.isl,
        osl: int('osl', 1) ?? DEFAULT_SLA.osl,
        ttftMs: num('ttft') ?? DEFAULT_SLA.ttftMs,
        itlMs: num('itl') ?? DEFAULT_SLA.itlMs,
      },
      plannerOverrides: request && { ...(request.totalGpus !== null && { max_gpu_budget: request.totalGpus }), ...request.plannerOverrides },
      tp,
      prefillGranularity: int('prefill-interpolation-granularity', 1) ?? 16,
      decodeGranularity: int('decode-interpolation-granularity', 1) ?? 6,
      maxContextLength: int('max-context-length', 1),
      deploymentName: values.name ?? request?.name ?? undefined,
      runtimeImage: values.image ?? DEFAULT_RUNTIME_IMAGE,
      prometheusSslVerify: values['no-prometheus-ssl-verify'] !== true,
      mocker: request?.mocker,
    });
    process.stdout.write(`${model.name} (${model.hfId}) on ${gpu.description}\n\n${result.table}\n`);
    for (const w of result.selection.warnings) process.stderr.write(`warning: ${w}\n`);
    process.stdout.write(
      `\nprofile data: ${result.prefill.prefill_isl.length} prefill points (ISL ${result.prefill.prefill_isl[0]}-${result.prefill.prefill_isl.at(-1)}), ` +
        `${result.decode.z_itl.length} decode points, max_kv_tokens ${result.decode.max_kv_tokens}, context up to ${result.maxContextLength}\n`,
    );
    if (request) {
      const dgd = result.assembly.dgd as { metadata: { name: string } };
      result.files['dgdr_status.yaml'] = toYaml(dgdrStatus({
        dgdName: dgd.metadata.name, selected: dgd, autoApply: request.autoApply, notes: request.notes, now: new Date(),
        message: `rapid profile of ${model.hfId} on ${gpu.name}: prefill TP${result.prefillEngine.tp}, decode TP${result.decodeEngine.tp}`,
      }), { lineWidth: 0 });
      for (const n of request.notes) process.stderr.write(`note: ${n}\n`);
    }
    const paths = Object.keys(result.files);
    if (dryRun) {
      process.stdout.write(`dry run: would write ${paths.length} files${outputDir ? ` under ${outputDir}` : ''}: ${paths.join(', ')}\n`);
      return 0;
    }
    try {
      for (const [rel, content] of Object.entries(result.files)) {
        const path = join(outputDir!, rel);
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, content);
      }
    } catch (err) {
      throw new InputError(`cannot write to --output-dir ${outputDir} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); pass a writable directory.`);
    }
    process.stdout.write(`wrote ${paths.length} files to ${outputDir}; deploy with: kubectl apply -f ${join(outputDir!, 'final_config.yaml')}\n`);
    return 0;
  },
};

/** The DGDR's request; a refusal also leaves the Failed status the DGDR would carry in --output-dir. */
function readRequest(file: string, values: Record<string, unknown>, outputDir: string | undefined): DgdrRequest {
  const clash = ['gpu', 'isl', 'osl', 'ttft', 'itl'].filter((f) => values[f] !== undefined);
  if (clash.length) throw new InputError(`--dgdr takes ${clash.map((f) => `--${f}`).join(', ')} from the request (hardware, workload, sla); remove ${clash.length > 1 ? 'them' : 'it'}.`);
  try {
    return readDgdr(file, { modelOverride: values.model ? resolveModel(values.model as string, values['model-id'] as string | undefined) : undefined });
  } catch (err) {
    if (err instanceof InputError && outputDir) {
      try {
        mkdirSync(outputDir, { recursive: true });
        writeFileSync(join(outputDir, 'dgdr_status.yaml'), toYaml(dgdrFailedStatus(err.message, new Date()), { lineWidth: 0 }));
      } catch { /* the refusal itself is what the user must see */ }
    }
    throw err;
  }
}
