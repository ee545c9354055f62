/**
 * Builds a model's prediction input from its own OpenAPI input schema, so any owner/name[:version]
 * works: the requested aspect ratio (an exact enum value, "custom" + width/height, the closest
 * offered ratio, or width/height for ~1 MP rounded to the multiple the model needs), the seed
 * where the model takes one, one output, PNG where offered, the negative prompt where offered —
 * and nothing the schema lacks.
 */
import { ContactSheetError } from '../../shared/errors';
import type { JsonSchema, ModelVersion, OpenApiSchema } from './apiTypes';
import type { AspectRatio } from './types';

/** SDXL-class target: 1024 × 1024 pixels. */
export const TARGET_PIXELS = 1024 * 1024;
const DEFAULT_SIZE_MULTIPLE = 64;

export interface AdaptParams {
  prompt: string;
  negativePrompt?: string;
  aspectRatio: AspectRatio;
  seed: number;
}

export interface AspectRatioChoice {
  requested: AspectRatio;
  /** The aspect_ratio value sent, or null when width/height (or nothing) carried the size. */
  sent: string | null;
  /** True when the image will have the requested ratio (up to rounding of width/height). */
  exact: boolean;
  width?: number;
  height?: number;
}

export interface AdaptedInput {
  input: Record<string, unknown>;
  seedSupported: boolean;
  negativePromptSupported: boolean;
  aspectRatio: AspectRatioChoice;
  /** One line each, for the user and the trace (e.g. "seed not supported: not reproducible"). */
  notes: string[];
}

export interface InputSchema {
  properties: Record<string, JsonSchema>;
  required: string[];
}

/** The Input schema of a model version (components.schemas.Input), $refs resolved per property. */
export function inputSchemaOf(version: ModelVersion | null, modelLabel: string): InputSchema {
  const openapi = version?.openapi_schema;
  const input = openapi?.components?.schemas?.Input;
  if (!openapi || !input?.properties) {
    throw new ContactSheetError('invalid-input', `${modelLabel} publishes no input schema, so its inputs cannot be mapped.`, {
      action: 'Pin a version that has an OpenAPI schema (owner/name:version) or choose another model.',
      details: { model: modelLabel },
    });
  }
  const properties: Record<string, JsonSchema> = {};
  for (const [key, prop] of Object.entries(input.properties)) properties[key] = resolveProperty(prop, openapi);
  return { properties, required: input.required ?? [] };
}

/** Cog puts enums in components and points to them with allOf/$ref; fold them into the property. */
function resolveProperty(prop: JsonSchema, openapi: OpenApiSchema, depth = 0): JsonSchema {
  if (depth > 5) return prop;
  let merged: JsonSchema = { ...prop };
  const refs = [...(prop.$ref ? [{ $ref: prop.$ref }] : []), ...(prop.allOf ?? []), ...(prop.anyOf ?? []).filter((s) => s.type !== 'null')];
  for (const part of refs) {
    const target = part.$ref ? lookupRef(part.$ref, openapi) : part;
    if (target) merged = { ...resolveProperty(target, openapi, depth + 1), ...merged };
  }
  delete merged.$ref;
  delete merged.allOf;
  delete merged.anyOf;
  return merged;
}

function lookupRef(ref: string, openapi: OpenApiSchema): JsonSchema | undefined {
  const m = /^#\/components\/schemas\/(.+)$/.exec(ref);
  return m ? openapi.components?.schemas?.[m[1]] : undefined;
}

export function adaptInput(schema: InputSchema, params: AdaptParams, modelLabel: string): AdaptedInput {
  const props = schema.properties;
  const notes: string[] = [];
  if (!props.prompt) {
    throw new ContactSheetError('invalid-input', `${modelLabel} has no "prompt" input; it is not a text-to-image model this tool can drive.`, {
      action: 'Choose a text-to-image model, e.g. black-forest-labs/flux-schnell.',
      details: { model: modelLabel, inputs: Object.keys(props) },
    });
  }
  const input: Record<string, unknown> = { prompt: params.prompt };

  const aspectRatio = chooseSize(props, params.aspectRatio, input);
  if (!aspectRatio.exact) {
    notes.push(
      aspectRatio.sent
        ? `${modelLabel} does not offer ${params.aspectRatio}; used the closest offered ratio ${aspectRatio.sent}.`
        : `${modelLabel} takes no size input; it uses its own default size.`,
    );
  }

  const seedSupported = 'seed' in props;
  if (seedSupported) {
    const max = props.seed.maximum;
    input.seed = max !== undefined && params.seed > max ? params.seed % (max + 1) : params.seed;
    if (input.seed !== params.seed) notes.push(`${modelLabel} accepts seeds up to ${max}; seed ${params.seed} was sent as ${input.seed}.`);
  } else {
    notes.push(`${modelLabel} takes no seed: its images are not reproducible.`);
  }

  if ('num_outputs' in props) input.num_outputs = Math.max(1, props.num_outputs.minimum ?? 1);
  if (Array.isArray(props.output_format?.enum) && props.output_format.enum.includes('png')) input.output_format = 'png';

  const negativePromptSupported = 'negative_prompt' in props;
  if (params.negativePrompt && params.negativePrompt.trim()) {
    if (negativePromptSupported) input.negative_prompt = params.negativePrompt;
    else notes.push(`${modelLabel} takes no negative prompt; it was not sent.`);
  }

  const missing = schema.required.filter((k) => !(k in input) && props[k]?.default === undefined);
  if (missing.length) {
    throw new ContactSheetError('invalid-input', `${modelLabel} requires inputs this tool does not provide: ${missing.join(', ')}.`, {
      action: 'Choose a text-to-image model that needs only a prompt, e.g. black-forest-labs/flux-schnell.',
      details: { model: modelLabel, invalid_fields: missing },
    });
  }
  return { input, seedSupported, negativePromptSupported, aspectRatio, notes };
}

function chooseSize(props: Record<string, JsonSchema>, requested: AspectRatio, input: Record<string, unknown>): AspectRatioChoice {
  const offered = Array.isArray(props.aspect_ratio?.enum) ? props.aspect_ratio.enum.filter((v): v is string => typeof v === 'string') : undefined;
  const hasSize = 'width' in props && 'height' in props;
  if (offered?.includes(requested)) {
    input.aspect_ratio = requested;
    return { requested, sent: requested, exact: true };
  }
  if (hasSize && (offered === undefined || offered.includes('custom'))) {
    const { width, height } = sizeFor(requested, props.width, props.height);
    if (offered) input.aspect_ratio = 'custom';
    input.width = width;
    input.height = height;
    return { requested, sent: offered ? 'custom' : null, exact: true, width, height };
  }
  if (offered && offered.length) {
    const closest = closestRatio(requested, offered);
    if (closest) {
      input.aspect_ratio = closest;
      return { requested, sent: closest, exact: false };
    }
  }
  return { requested, sent: null, exact: false };
}

export function ratioValue(r: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?):(\d+(?:\.\d+)?)$/.exec(r.trim());
  if (!m) return undefined;
  const v = Number(m[1]) / Number(m[2]);
  return Number.isFinite(v) && v > 0 ? v : undefined;
}

/** The offered "w:h" value nearest to the requested one on a log scale (2:1 and 1:2 equally far from 1:1). */
export function closestRatio(requested: string, offered: string[]): string | undefined {
  const want = ratioValue(requested)!;
  let best: { value: string; distance: number } | undefined;
  for (const value of offered) {
    const r = ratioValue(value);
    if (r === undefined) continue;
    const distance = Math.abs(Math.log(r / want));
    if (!best || distance < best.distance) best = { value, distance };
  }
  return best?.value;
}

/** Width and height for ~TARGET_PIXELS at the ratio, rounded to the schema's multiple within its bounds. */
export function sizeFor(ratio: AspectRatio, widthProp: JsonSchema, heightProp: JsonSchema): { width: number; height: number } {
  const r = ratioValue(ratio)!;
  let w = Math.sqrt(TARGET_PIXELS * r);
  let h = w / r;
  const shrink = Math.min(1, (widthProp.maximum ?? Infinity) / w, (heightProp.maximum ?? Infinity) / h);
  w *= shrink;
  h *= shrink;
  const grow = Math.max(1, (widthProp.minimum ?? 0) / w, (heightProp.minimum ?? 0) / h);
  w *= grow;
  h *= grow;
  return { width: roundToMultiple(w, widthProp), height: roundToMultiple(h, heightProp) };
}

function sizeMultiple(prop: JsonSchema): number {
  if (typeof prop.multipleOf === 'number' && prop.multipleOf > 0) return prop.multipleOf;
  const m = /multiple of (\d+)/i.exec(prop.description ?? '');
  return m ? Number(m[1]) : DEFAULT_SIZE_MULTIPLE;
}

function roundToMultiple(v: number, prop: JsonSchema): number {
  const k = sizeMultiple(prop);
  let out = Math.max(k, Math.round(v / k) * k);
  if (prop.maximum !== undefined && out > prop.maximum) out = Math.floor(prop.maximum / k) * k;
  if (prop.minimum !== undefined && out < prop.minimum) out = Math.ceil(prop.minimum / k) * k;
  return out;
}
