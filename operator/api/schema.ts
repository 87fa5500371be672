/**
 * A small checker for structural OpenAPI v3 schemas as CRDs use them (apiextensions.k8s.io/v1):
 * types (including x-kubernetes-int-or-string), enum, numeric and length bounds, pattern,
 * required, list types, date-time and int32/int64 formats, and unknown fields. It does not
 * evaluate x-kubernetes-validations (CEL) rules and does not apply defaults: the API server does
 * both, and e2e/crds/crds.test.sh checks them there.
 *
 * Also: the property paths a schema declares and the paths a value uses, in one notation
 * ("spec.partitioning.pins[].filter.nwSrc"), so the two can be compared.
 */

export interface JSONSchemaProps {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  format?: string;
  description?: string;
  properties?: Record<string, JSONSchemaProps>;
  additionalProperties?: JSONSchemaProps | boolean;
  items?: JSONSchemaProps;
  required?: string[];
  enum?: unknown[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
  pattern?: string;
  nullable?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-validations'?: { rule: string; message?: string; messageExpression?: string; fieldPath?: string }[];
}

export interface SchemaError {
  /** Field path as the API server prints it: spec.partitioning.pins[0].filter.tpDst */
  path: string;
  message: string;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown) => JSON.stringify(v);
const join = (path: string, key: string) => (path === '' ? key : `${path}.${key}`);
// RFC 3339 date-time, as Kubernetes' strfmt accepts it.
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

function typeError(value: unknown, s: JSONSchemaProps): string | null {
  if (s['x-kubernetes-int-or-string']) {
    return Number.isInteger(value) || typeof value === 'string' ? null : `must be an integer or a string, got ${show(value)}`;
  }
  switch (s.type) {
    case undefined:
      return null;
    case 'object':
      return isPlainObject(value) ? null : `must be an object, got ${show(value)}`;
    case 'array':
      return Array.isArray(value) ? null : `must be an array, got ${show(value)}`;
    case 'integer':
      return Number.isInteger(value) ? null : `must be an integer, got ${show(value)}`;
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) ? null : `must be a number, got ${show(value)}`;
    case 'string':
    case 'boolean':
      return typeof value === s.type ? null : `must be a ${s.type}, got ${show(value)}`;
  }
}

/** Every way `value` breaks `schema`; empty when it is valid. */
export function validate(value: unknown, schema: JSONSchemaProps, path = ''): SchemaError[] {
  const errors: SchemaError[] = [];
  const err = (message: string, at = path) => errors.push({ path: at, message });
  if (value === null) {
    if (!schema.nullable) err('must not be null');
    return errors;
  }
  const te = typeError(value, schema);
  if (te) {
    err(te);
    return errors;
  }
  if (schema.enum && !schema.enum.some((e) => e === value)) err(`unsupported value ${show(value)}: supported values: ${schema.enum.map(show).join(', ')}`);
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) err(`should be greater than or equal to ${schema.minimum}, got ${value}`);
    if (schema.maximum !== undefined && value > schema.maximum) err(`should be less than or equal to ${schema.maximum}, got ${value}`);
    if (schema.format === 'int32' && (value < -(2 ** 31) || value >= 2 ** 31)) err(`${value} does not fit in int32`);
    if (schema.format === 'int64' && !Number.isSafeInteger(value)) err(`${value} is not a safe integer`);
  }
  if (typeof value === 'string') {
    const length = [...value].length;
    if (schema.minLength !== undefined && length < schema.minLength) err(`should be at least ${schema.minLength} chars long`);
    if (schema.maxLength !== undefined && length > schema.maxLength) err(`may not be longer than ${schema.maxLength}`);
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(value)) err(`should match '${schema.pattern}'`);
    if (schema.format === 'date-time' && !DATE_TIME.test(value)) err(`must be an RFC 3339 date-time, got ${show(value)}`);
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) err(`should have at least ${schema.minItems} items`);
    if (schema.maxItems !== undefined && value.length > schema.maxItems) err(`must have at most ${schema.maxItems} items`);
    const listType = schema['x-kubernetes-list-type'];
    const seen = new Map<string, number>();
    value.forEach((item, i) => {
      if (schema.items) errors.push(...validate(item, schema.items, `${path}[${i}]`));
      let id: string | undefined;
      if (listType === 'set') id = show(item);
      if (listType === 'map' && isPlainObject(item)) id = show((schema['x-kubernetes-list-map-keys'] ?? []).map((k) => item[k]));
      if (id === undefined) return;
      if (seen.has(id)) err(`duplicate entry ${id} (also at [${seen.get(id)}])`, `${path}[${i}]`);
      else seen.set(id, i);
    });
  }
  if (isPlainObject(value)) {
    const keys = Object.keys(value);
    if (schema.minProperties !== undefined && keys.length < schema.minProperties) err(`should have at least ${schema.minProperties} properties`);
    if (schema.maxProperties !== undefined && keys.length > schema.maxProperties) err(`should have at most ${schema.maxProperties} properties`);
    for (const r of schema.required ?? []) if (value[r] === undefined) err('Required value', join(path, r));
    // A node without `properties` (metadata, or x-kubernetes-preserve-unknown-fields) takes any fields.
    const props = schema.properties;
    for (const k of keys) {
      const sub = props?.[k] ?? (isPlainObject(schema.additionalProperties) ? schema.additionalProperties : undefined);
      if (sub) errors.push(...validate(value[k], sub, join(path, k)));
      else if (props && !schema['x-kubernetes-preserve-unknown-fields']) err('field not declared in schema', join(path, k));
    }
  }
  return errors;
}

/**
 * The property paths a schema declares: "a", "a.b", "list", "list[]", "list[].c". Descends into
 * properties and items; a node with neither (a scalar, or an object of unknown fields) is a leaf.
 */
export function schemaPaths(schema: JSONSchemaProps, path = ''): Set<string> {
  const out = new Set<string>();
  const visit = (s: JSONSchemaProps, p: string) => {
    if (p !== '') out.add(p);
    for (const [k, sub] of Object.entries(s.properties ?? {})) visit(sub, join(p, k));
    if (s.items) visit(s.items, `${p}[]`);
  };
  visit(schema, path);
  return out;
}

/**
 * The property paths a value uses, in the notation of schemaPaths (the union over array
 * elements). Does not descend into objects whose paths are in `opaque`.
 */
export function valuePaths(value: unknown, path = '', opaque: ReadonlySet<string> = new Set()): Set<string> {
  const out = new Set<string>();
  const visit = (v: unknown, p: string) => {
    if (p !== '') out.add(p);
    if (Array.isArray(v)) v.forEach((item) => visit(item, `${p}[]`));
    else if (isPlainObject(v) && !opaque.has(p)) for (const [k, sub] of Object.entries(v)) visit(sub, join(p, k));
  };
  visit(value, path);
  return out;
}

/** Every node of a schema with its path, in the notation of schemaPaths. */
export function* schemaNodes(schema: JSONSchemaProps, path = ''): Generator<[string, JSONSchemaProps]> {
  yield [path, schema];
  for (const [k, sub] of Object.entries(schema.properties ?? {})) yield* schemaNodes(sub, join(path, k));
  if (schema.items) yield* schemaNodes(schema.items, `${path}[]`);
}
