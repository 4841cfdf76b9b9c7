// What each PlannerConfig field accepts, read off the zod schema (via its JSON Schema form) so
// error messages, lax-type coercion and the README reference all describe the same rules.
import { z } from 'zod';
import { CONFIG_KEYS, plannerConfigSchema, type PlannerConfig } from './schema.js';

export type FieldKind = 'integer' | 'number' | 'boolean' | 'string' | 'url' | 'enum';

export interface FieldSpec {
  key: keyof PlannerConfig;
  kind: FieldKind;
  nullable: boolean;
  /** Strings only: the empty string is rejected. */
  nonEmpty?: boolean;
  enumValues?: string[];
  /** Bounds; `exclusive*` means the bound itself is not allowed. */
  min?: number;
  minExclusive?: boolean;
  max?: number;
  maxExclusive?: boolean;
  /** undefined when the default comes from the environment (namespace, Prometheus settings). */
  default?: unknown;
  hasDefault: boolean;
  description: string;
}

interface JsonSchemaProperty {
  type?: string | string[];
  enum?: unknown[];
  format?: string;
  minLength?: number;
  minimum?: number;
  exclusiveMinimum?: number;
  maximum?: number;
  exclusiveMaximum?: number;
  default?: unknown;
  description?: string;
  anyOf?: JsonSchemaProperty[];
}

function buildSpecs(): Record<keyof PlannerConfig, FieldSpec> {
  const json = z.toJSONSchema(plannerConfigSchema, { io: 'input' }) as { properties: Record<string, JsonSchemaProperty> };
  const specs = {} as Record<keyof PlannerConfig, FieldSpec>;
  for (const key of CONFIG_KEYS) {
    const prop = json.properties[key];
    if (!prop) throw new Error(`config schema: no JSON Schema property for '${key}'`);
    // Nullable fields come out either as anyOf [T, null] or as type: [T, "null"].
    const variants = (prop.anyOf ?? [prop]).flatMap((v) =>
      Array.isArray(v.type) ? v.type.map((type) => ({ ...v, type })) : [v],
    );
    const nullable = variants.some((v) => v.type === 'null');
    const main = variants.find((v) => v.type !== 'null') ?? prop;
    let kind: FieldKind;
    if (main.enum) kind = 'enum';
    else if (main.type === 'integer') kind = 'integer';
    else if (main.type === 'number') kind = 'number';
    else if (main.type === 'boolean') kind = 'boolean';
    else if (main.type === 'string') kind = main.format === 'uri' ? 'url' : 'string';
    else throw new Error(`config schema: field '${key}' has an unsupported type`);
    const spec: FieldSpec = {
      key,
      kind,
      nullable,
      hasDefault: 'default' in prop,
      description: prop.description ?? main.description ?? '',
    };
    if (kind === 'string' && (main.minLength ?? 0) > 0) spec.nonEmpty = true;
    if (main.enum) spec.enumValues = main.enum.map(String);
    if (main.exclusiveMinimum !== undefined) { spec.min = main.exclusiveMinimum; spec.minExclusive = true; }
    else if (main.minimum !== undefined && main.minimum > Number.MIN_SAFE_INTEGER) spec.min = main.minimum;
    if (main.exclusiveMaximum !== undefined) { spec.max = main.exclusiveMaximum; spec.maxExclusive = true; }
    else if (main.maximum !== undefined && main.maximum < Number.MAX_SAFE_INTEGER) spec.max = main.maximum;
    if ('default' in prop) spec.default = prop.default;
    specs[key] = spec;
  }
  return specs;
}

export const FIELD_SPECS: Readonly<Record<keyof PlannerConfig, FieldSpec>> = buildSpecs();

/** "an integer > 0", "one of 'disagg', 'prefill', ... or null", "true or false". */
export function describeAllowed(spec: FieldSpec): string {
  let text: string;
  switch (spec.kind) {
    case 'enum':
      text = `one of ${spec.enumValues!.map((v) => `'${v}'`).join(', ')}`;
      break;
    case 'boolean':
      text = 'true or false';
      break;
    case 'string':
      text = spec.nonEmpty ? 'a non-empty string' : 'a string';
      break;
    case 'url':
      text = 'an http(s) URL';
      break;
    case 'integer':
    case 'number': {
      text = spec.kind === 'integer' ? 'an integer' : 'a number';
      const bounds: string[] = [];
      if (spec.min !== undefined) bounds.push(`${spec.minExclusive ? '>' : '>='} ${spec.min}`);
      if (spec.max !== undefined) bounds.push(`${spec.maxExclusive ? '<' : '<='} ${spec.max}`);
      if (bounds.length === 2 && !spec.minExclusive && !spec.maxExclusive) text += ` from ${spec.min} to ${spec.max}`;
      else if (bounds.length > 0) text += ` ${bounds.join(' and ')}`;
      break;
    }
  }
  return spec.nullable ? `${text} or null` : text;
}
