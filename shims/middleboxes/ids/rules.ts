/**
 * The ids signature language: one rule per line, `#` starts a comment (outside quotes).
 *
 *   alert id=web-passwd msg="request for /etc/passwd" method=GET uri~"/etc/passwd"
 *
 * A rule is `alert` followed by options `NAME OP VALUE`, separated by blanks:
 *   - `id` (required, `=`): letters, digits, `_`, `-`, `.`; unique in the file. The names of the
 *     scan alerts (PortScan, DistributedScan) are reserved.
 *   - `msg` (required, `=`): what the alert means.
 *   - `method`, `uri`, `host`, `ua` (User-Agent): fields of an HTTP request, compared without
 *     regard to ASCII case. `=` equals, `~` contains, `!=` and `!~` negate.
 *   - `payload` (`~` or `!~`): contains these bytes, exactly. Inside the quotes, `|..|` holds hex
 *     bytes (`|0d 0a|`), as in Snort's content; write `|7c|` for a literal `|`.
 * VALUE is a double-quoted string (`\"` and `\\` escape) or a bare word (no blanks, quotes or `#`).
 * Options may repeat; all of a rule's conditions must hold (`method!=GET method!=POST`).
 *
 * A rule with any HTTP field is a request rule: it is checked once per parsed HTTP request, and its
 * `payload` conditions look at that request's header block. A rule with only `payload` conditions
 * is a packet rule: it is checked against each packet's new payload bytes (TCP data not seen
 * before, or a UDP datagram), so a pattern split across two segments is not seen. Either kind
 * fires at most once per connection, as Zeek's signatures do.
 */

export const HTTP_FIELDS = ['method', 'uri', 'host', 'ua'] as const;
export type HttpField = (typeof HTTP_FIELDS)[number];
const OPTIONS = ['id', 'msg', ...HTTP_FIELDS, 'payload'] as const;
type OptionName = (typeof OPTIONS)[number];
export const SCAN_RULES = ['PortScan', 'DistributedScan'] as const;
/** Bounds a connection's alerts (one per rule at most). */
export const MAX_RULES = 4096;

export interface FieldCondition {
  field: HttpField;
  /** True for `=` / `!=`, false for `~` / `!~`. */
  exact: boolean;
  negate: boolean;
  /** Lower-cased, as fields are compared lower-cased. */
  value: string;
}

export interface PayloadCondition {
  bytes: Buffer;
  negate: boolean;
}

export interface Rule {
  id: string;
  msg: string;
  kind: 'request' | 'packet';
  fields: FieldCondition[];
  payload: PayloadCondition[];
  line: number;
}

/** A request's fields as rules see them: lower-cased text, and the raw header block. */
export interface RequestView {
  method: string;
  uri: string;
  host: string;
  ua: string;
  header: Buffer;
}

export class RuleSyntaxError extends Error {
  constructor(readonly file: string, readonly line: number, readonly column: number, readonly problem: string) {
    super(`${file}:${line}:${column}: ${problem}`);
    this.name = 'RuleSyntaxError';
  }
}

const ID_RE = /^[A-Za-z0-9_.-]+$/;

function isBlank(c: string): boolean {
  return c === ' ' || c === '\t' || c === '\r';
}

/** Parses a rules file's text; `file` names it in errors. */
export function parseRules(text: string, file: string): Rule[] {
  const rules: Rule[] = [];
  const seen = new Map<string, number>();
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const parsed = parseLine(lines[n], file, n + 1);
    if (!parsed) continue;
    const { rule, idColumn } = parsed;
    const before = seen.get(rule.id);
    if (before !== undefined) throw new RuleSyntaxError(file, n + 1, idColumn, `rule id "${rule.id}" is already used on line ${before}`);
    seen.set(rule.id, n + 1);
    if (rules.length === MAX_RULES) throw new RuleSyntaxError(file, n + 1, 1, `more than ${MAX_RULES} rules`);
    rules.push(rule);
  }
  return rules;
}

function parseLine(line: string, file: string, lineNo: number): { rule: Rule; idColumn: number } | null {
  let i = 0;
  const fail = (col: number, problem: string): never => {
    throw new RuleSyntaxError(file, lineNo, col + 1, problem);
  };
  const skipBlanks = () => {
    while (i < line.length && isBlank(line[i])) i++;
  };
  skipBlanks();
  if (i === line.length || line[i] === '#') return null;
  const start = i;
  while (i < line.length && !isBlank(line[i]) && line[i] !== '#') i++;
  const action = line.slice(start, i);
  if (action !== 'alert') fail(start, `a rule starts with "alert", got "${action}"`);

  let id: string | null = null;
  let idColumn = 0;
  let msg: string | null = null;
  const fields: FieldCondition[] = [];
  const payload: PayloadCondition[] = [];
  for (;;) {
    skipBlanks();
    if (i === line.length || line[i] === '#') break;
    const nameAt = i;
    while (i < line.length && /[a-z]/.test(line[i])) i++;
    const name = line.slice(nameAt, i);
    if (!(OPTIONS as readonly string[]).includes(name)) {
      const word = line.slice(nameAt).split(/[\s=~!"#]/)[0] || line[nameAt];
      fail(nameAt, `unknown option "${word}" (known: ${OPTIONS.join(', ')})`);
    }
    const opAt = i;
    let op = '';
    if (line[i] === '!') op += line[i++];
    if (line[i] === '=' || line[i] === '~') op += line[i++];
    if (op !== '=' && op !== '~' && op !== '!=' && op !== '!~') fail(opAt, `option "${name}" needs an operator (=, ~, != or !~) and a value`);
    const valueAt = i;
    let value: string;
    if (line[i] === '"') {
      i++;
      value = '';
      for (;;) {
        if (i >= line.length) fail(valueAt, 'string is not closed with "');
        const c = line[i++];
        if (c === '"') break;
        if (c === '\\') {
          const e = line[i++];
          if (e !== '"' && e !== '\\') fail(i - 2, `unknown escape "\\${e ?? ''}" (only \\" and \\\\)`);
          value += e;
        } else {
          value += c;
        }
      }
      if (i < line.length && !isBlank(line[i]) && line[i] !== '#') fail(i, 'expected a blank after the closing quote');
    } else {
      while (i < line.length && !isBlank(line[i]) && line[i] !== '#' && line[i] !== '"') i++;
      value = line.slice(valueAt, i);
      if (line[i] === '"') fail(i, 'a bare value cannot contain a quote');
    }
    if (value === '' && name !== 'uri') fail(valueAt, `option "${name}" has an empty value`);
    const opName = name as OptionName;
    if (opName === 'id' || opName === 'msg') {
      if (op !== '=') fail(opAt, `option "${name}" takes "=", got "${op}"`);
      if ((opName === 'id' ? id : msg) !== null) fail(nameAt, `option "${name}" is given twice`);
      if (opName === 'id') {
        if (!ID_RE.test(value)) fail(valueAt, `rule id "${value}" may hold only letters, digits, "_", "-" and "."`);
        if ((SCAN_RULES as readonly string[]).includes(value)) fail(valueAt, `rule id "${value}" is reserved for the scan detector`);
        id = value;
        idColumn = valueAt + 1;
      } else {
        msg = value;
      }
    } else if (opName === 'payload') {
      if (op !== '~' && op !== '!~') fail(opAt, `option "payload" takes "~" or "!~" (contains), got "${op}"`);
      payload.push({ bytes: payloadBytes(value, (col, problem) => fail(valueAt + 1 + col, problem)), negate: op === '!~' });
    } else {
      fields.push({ field: opName, exact: op.endsWith('='), negate: op.startsWith('!'), value: value.toLowerCase() });
    }
  }
  if (id === null) fail(start, 'rule has no id=');
  if (msg === null) fail(start, 'rule has no msg=');
  if (fields.length === 0 && !payload.some((p) => !p.negate)) fail(start, 'rule needs an HTTP field (method, uri, host, ua) or a payload~ condition');
  return { rule: { id: id!, msg: msg!, kind: fields.length > 0 ? 'request' : 'packet', fields, payload, line: lineNo }, idColumn };
}

/** Text with `|hex|` runs, to bytes; `fail(col, ...)` gets the column within the text. */
function payloadBytes(text: string, fail: (col: number, problem: string) => never): Buffer {
  const out: number[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c !== '|') {
      const code = text.charCodeAt(i);
      if (code > 0xff) fail(i, `character "${c}" is not a single byte: write it as |hex|`);
      out.push(code);
      i++;
      continue;
    }
    const close = text.indexOf('|', i + 1);
    if (close < 0) fail(i, 'hex bytes opened with | are not closed');
    let digits = '';
    for (let j = i + 1; j < close; j++) {
      const h = text[j];
      if (h === ' ') {
        if (digits.length % 2 !== 0) fail(j, 'hex bytes need two digits each');
        continue;
      }
      if (!/[0-9a-fA-F]/.test(h)) fail(j, `"${h}" is not a hex digit`);
      digits += h;
    }
    if (digits.length === 0 || digits.length % 2 !== 0) fail(i, 'hex bytes need two digits each');
    for (let k = 0; k < digits.length; k += 2) out.push(parseInt(digits.slice(k, k + 2), 16));
    i = close + 1;
  }
  return Buffer.from(out);
}

/** True when `bytes` occur within data[start, end). */
export function containsBytes(data: Buffer, start: number, end: number, bytes: Buffer): boolean {
  if (end - start < bytes.length) return false;
  const at = data.indexOf(bytes, start);
  // indexOf finds the first occurrence from `start`: if that one runs past `end`, none fits inside.
  return at >= 0 && at + bytes.length <= end;
}

function fieldHolds(c: FieldCondition, r: RequestView): boolean {
  const v = r[c.field];
  const hit = c.exact ? v === c.value : v.includes(c.value);
  return hit !== c.negate;
}

function payloadHolds(p: PayloadCondition, data: Buffer, start: number, end: number): boolean {
  return containsBytes(data, start, end, p.bytes) !== p.negate;
}

export function matchRequest(rule: Rule, r: RequestView): boolean {
  for (const c of rule.fields) if (!fieldHolds(c, r)) return false;
  for (const p of rule.payload) if (!payloadHolds(p, r.header, 0, r.header.length)) return false;
  return true;
}

export function matchPacket(rule: Rule, data: Buffer, start: number, end: number): boolean {
  for (const p of rule.payload) if (!payloadHolds(p, data, start, end)) return false;
  return true;
}
