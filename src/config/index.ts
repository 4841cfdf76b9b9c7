// PlannerConfig: schema, loading (file or inline JSON, env defaults, derived rules), reference.
export {
  plannerConfigSchema,
  CONFIG_KEYS,
  UPSTREAM_CONFIG_KEYS,
  EXTENSION_CONFIG_KEYS,
  KEY_ALIASES,
  DEFAULT_PROMETHEUS_ENDPOINT,
  MODES,
  BACKENDS,
  ENVIRONMENTS,
  PREDICTORS,
  SWEEPING_MODES,
  METRICS_SOURCES,
  type PlannerConfig,
  type PlannerConfigInput,
  type Mode,
  type Backend,
  type Environment,
  type PredictorKind,
} from './schema.js';
export {
  loadConfig,
  resolveConfig,
  readConfigSource,
  applyDerivedRules,
  managedPools,
  INLINE_ORIGIN,
  type ConfigOptions,
  type ResolvedConfig,
  type DerivedResult,
} from './load.js';
export { FIELD_SPECS, describeAllowed, type FieldSpec } from './fields.js';
