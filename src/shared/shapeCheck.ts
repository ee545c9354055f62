/**
 * Runtime shape checks for data that crosses a trust boundary (postMessage). A check returns
 * null when the value fits, else a short problem naming the path ("run.images[2].seed: not an
 * integer"). Composable and dependency-free, so both the host and the webview use it.
 */
export type Check = (value: unknown, path: string) => string | null;

export const str: Check = (v, p) => (typeof v === 'string' ? null : `${p}: not a string`);
export const bool: Check = (v, p) => (typeof v === 'boolean' ? null : `${p}: not a boolean`);
export const num: Check = (v, p) => (typeof v === 'number' && Number.isFinite(v) ? null : `${p}: not a finite number`);
export const int: Check = (v, p) => (Number.isInteger(v) ? null : `${p}: not an integer`);
/** Any value (for fields whose content is not interpreted, e.g. error details). */
export const anything: Check = () => null;

export function intIn(min: number, max: number): Check {
  return (v, p) => int(v, p) ?? ((v as number) < min || (v as number) > max ? `${p}: ${String(v)} is outside ${min}–${max}` : null);
}

export function numIn(min: number, max: number): Check {
  return (v, p) => num(v, p) ?? ((v as number) < min || (v as number) > max ? `${p}: ${String(v)} is outside ${min}–${max}` : null);
}

export function literal<T extends string>(...values: readonly T[]): Check {
  return (v, p) => ((values as readonly unknown[]).includes(v) ? null : `${p}: not one of ${values.join(', ')}`);
}

export function nullable(check: Check): Check {
  return (v, p) => (v === null ? null : check(v, p));
}

export function optional(check: Check): Check {
  return (v, p) => (v === undefined ? null : check(v, p));
}

export function arrayOf(check: Check, maxLength = 10_000): Check {
  return (v, p) => {
    if (!Array.isArray(v)) return `${p}: not an array`;
    if (v.length > maxLength) return `${p}: more than ${maxLength} items`;
    for (let i = 0; i < v.length; i++) {
      const problem = check(v[i], `${p}[${i}]`);
      if (problem) return problem;
    }
    return null;
  };
}

/** A plain object whose listed fields pass their checks (other fields are ignored). */
export function object(fields: Record<string, Check>): Check {
  return (v, p) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return `${p}: not an object`;
    const record = v as Record<string, unknown>;
    for (const [name, check] of Object.entries(fields)) {
      const problem = check(record[name], `${p}.${name}`);
      if (problem) return problem;
    }
    return null;
  };
}

/** Passes when any of the checks passes; reports the first one's problem otherwise. */
export function either(...checks: Check[]): Check {
  return (v, p) => {
    let first: string | null = null;
    for (const check of checks) {
      const problem = check(v, p);
      if (!problem) return null;
      first ??= problem;
    }
    return first;
  };
}

/** A record with arbitrary string keys whose values pass `check`. */
export function recordOf(check: Check): Check {
  return (v, p) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return `${p}: not an object`;
    for (const [key, value] of Object.entries(v)) {
      const problem = check(value, `${p}.${key}`);
      if (problem) return problem;
    }
    return null;
  };
}
