// Verifies a Delta table written by kafka.delta_export() with readers that
// share no code with it: the log is replayed here (adds minus removes), the
// live Parquet files are read with DuckDB and with hyparquet, and both must
// return exactly the expected rows; every add action's size and stats must
// agree with what DuckDB finds in the file.
//
//   node delta_verify.mjs --table DIR [--expected FILE] [--key COLUMN[,COLUMN...]]
//
// --expected is a JSON file {"columns": [...], "rows": [[...], ...]} whose
// values are canonical text (see canonical forms below) or null, as the TAP
// tests produce them from PostgreSQL.  Prints a JSON summary on stdout; exits
// 1 with the differences on stderr when anything disagrees.
//
// Canonical forms: integers and decimals as exact decimal text, floats as
// text compared numerically, booleans "true"/"false", strings as is, binary
// as lower-case hex, dates as days since 1970, timestamps as microseconds
// since 1970 (UTC).

import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { parquetMetadataAsync, parquetReadObjects, asyncBufferFromFile } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';

const problems = [];
function problem(message) {
  problems.push(message);
}

function parseArgs(argv) {
  const args = {};
  for (let i = 2; i < argv.length; i += 2) {
    args[argv[i].replace(/^--/, '')] = argv[i + 1];
  }
  if (!args.table) {
    console.error('usage: delta_verify.mjs --table DIR [--expected FILE] [--key COLUMN]');
    process.exit(2);
  }
  return args;
}

// JSON.parse loses digits of large numbers; stats must be checked exactly, so
// this small parser keeps every number as its source text.
function parseJsonKeepNumbers(text) {
  let pos = 0;
  const ws = () => { while (/\s/.test(text[pos])) pos++; };
  function value() {
    ws();
    const c = text[pos];
    if (c === '{') {
      pos++;
      const obj = {};
      ws();
      if (text[pos] === '}') { pos++; return obj; }
      for (;;) {
        ws();
        const key = string();
        ws();
        if (text[pos++] !== ':') throw new Error(`expected : at ${pos}`);
        obj[key] = value();
        ws();
        const sep = text[pos++];
        if (sep === '}') return obj;
        if (sep !== ',') throw new Error(`expected , or } at ${pos}`);
      }
    }
    if (c === '[') {
      pos++;
      const arr = [];
      ws();
      if (text[pos] === ']') { pos++; return arr; }
      for (;;) {
        arr.push(value());
        ws();
        const sep = text[pos++];
        if (sep === ']') return arr;
        if (sep !== ',') throw new Error(`expected , or ] at ${pos}`);
      }
    }
    if (c === '"') return string();
    const m = /^(-?\d+(\.\d+)?([eE][+-]?\d+)?|true|false|null)/.exec(text.slice(pos));
    if (!m) throw new Error(`bad JSON at ${pos}`);
    pos += m[0].length;
    if (m[0] === 'true') return true;
    if (m[0] === 'false') return false;
    if (m[0] === 'null') return null;
    return { number: m[0] };
  }
  function string() {
    const start = pos;
    if (text[pos] !== '"') throw new Error(`expected string at ${pos}`);
    pos++;
    while (text[pos] !== '"') {
      if (text[pos] === '\\') pos++;
      pos++;
    }
    pos++;
    return JSON.parse(text.slice(start, pos));
  }
  const result = value();
  ws();
  if (pos !== text.length) throw new Error('trailing characters in JSON');
  return result;
}

// Replays _delta_log: the newest protocol and metaData, txn per appId, and the
// files added and not removed since.
function replayLog(table) {
  const logDir = path.join(table, '_delta_log');
  const names = fs.readdirSync(logDir);
  const versions = names.filter((n) => /^\d{20}\.json$/.test(n)).sort();
  const state = { version: -1, protocol: null, metaData: null, txns: {}, files: new Map(), commits: [] };
  versions.forEach((name, i) => {
    if (Number(name.slice(0, 20)) !== i) problem(`log version ${i} missing (found ${name})`);
    const lines = fs.readFileSync(path.join(logDir, name), 'utf8').split('\n').filter((l) => l.trim() !== '');
    const actions = lines.map((l) => JSON.parse(l));
    state.commits.push(actions);
    for (const action of actions) {
      if (action.protocol) state.protocol = action.protocol;
      if (action.metaData) state.metaData = action.metaData;
      if (action.txn) state.txns[action.txn.appId] = action.txn.version;
      if (action.add) {
        const raw = lines[actions.indexOf(action)];
        state.files.set(action.add.path, { ...action.add, rawLine: raw });
      }
      if (action.remove) {
        if (!state.files.has(action.remove.path)) problem(`remove of a file not in the snapshot: ${action.remove.path}`);
        state.files.delete(action.remove.path);
      }
    }
    state.version = i;
  });
  return state;
}

function bytesToHex(bytes) {
  return Buffer.from(bytes).toString('hex');
}

function decimalToUnscaled(text, scale) {
  const m = /^(-?)(\d*)(?:\.(\d*))?$/.exec(String(text).trim());
  if (!m) throw new Error(`not a decimal: ${text}`);
  const frac = (m[3] || '');
  if (frac.length > scale && /[1-9]/.test(frac.slice(scale))) {
    throw new Error(`decimal ${text} has more than ${scale} fractional digits`);
  }
  const digits = (m[2] || '0') + frac.slice(0, scale).padEnd(scale, '0');
  const value = BigInt(digits);
  return m[1] === '-' ? -value : value;
}

function twosComplement(bytes) {
  let value = 0n;
  for (const b of bytes) value = value * 256n + BigInt(b);
  const bits = BigInt(bytes.length * 8);
  if (bytes.length > 0 && bytes[0] & 0x80) value -= 1n << bits;
  return value;
}

function deltaType(field) {
  const t = typeof field.type === 'string' ? field.type : 'nested';
  const m = /^decimal\((\d+),\s*(\d+)\)$/.exec(t);
  if (m) return { kind: 'decimal', precision: Number(m[1]), scale: Number(m[2]) };
  return { kind: t };
}

// A reader's value to canonical form (or a number for floats).
function canonical(type, value) {
  if (value === null || value === undefined) return null;
  switch (type.kind) {
    case 'boolean':
      return String(value);
    case 'short':
    case 'integer':
    case 'long':
      return String(value);
    case 'float':
    case 'double':
      return Number(value);
    case 'decimal':
      return value.toString();
    case 'string':
      return String(value);
    case 'binary':
      return bytesToHex(value);
    case 'date':
    case 'timestamp':
    case 'timestamp_ntz':
      return String(value);
    default:
      return String(value);
  }
}

function sameValue(type, expected, actual) {
  if (expected === null || actual === null) return expected === actual;
  if (type.kind === 'float' || type.kind === 'double') {
    let e = parseFloat(expected);
    if (expected === 'NaN') e = NaN;
    if (type.kind === 'float') e = Math.fround(e);
    return Object.is(e, actual);
  }
  if (type.kind === 'decimal') {
    return decimalToUnscaled(expected, type.scale) === BigInt(actual);
  }
  if (type.kind === 'binary') {
    return String(expected).replace(/^\\x/, '').toLowerCase() === actual;
  }
  return String(expected) === actual;
}

// DuckDB values to canonical form.
function fromDuck(type, value) {
  if (value === null || value === undefined) return null;
  switch (type.kind) {
    case 'decimal':
      return canonical(type, value.value);
    case 'binary':
      return bytesToHex(value.bytes);
    case 'date':
      return String(value.days);
    case 'timestamp':
    case 'timestamp_ntz':
      return String(value.micros);
    default:
      return canonical(type, value);
  }
}

async function readWithDuckDB(con, files, fields, types) {
  const list = files.map((f) => `'${f.replace(/'/g, "''")}'`).join(',');
  const reader = await con.runAndReadAll(`SELECT * FROM read_parquet([${list}])`);
  const names = reader.columnNames();
  fields.forEach((f, i) => {
    if (names[i] !== f.name) problem(`DuckDB column ${i} is ${names[i]}, schema says ${f.name}`);
  });
  return reader.getRows().map((row) => row.map((v, i) => fromDuck(types[i], v)));
}

async function readWithHyparquet(files, fields, types) {
  const rows = [];
  const parsers = {
    timestampFromMicroseconds: (v) => v,
    timestampFromMilliseconds: (v) => v,
    dateFromDays: (v) => v,
  };
  for (const file of files) {
    const buffer = await asyncBufferFromFile(file);
    const metadata = await parquetMetadataAsync(buffer);
    // hyparquet turns decimals into doubles; read their raw integers instead
    for (const element of metadata.schema) {
      if (element.converted_type === 'DECIMAL' || element.logical_type?.type === 'DECIMAL') {
        delete element.converted_type;
        delete element.logical_type;
      }
    }
    const objects = await parquetReadObjects({ file: buffer, metadata, compressors, parsers, utf8: false });
    for (const object of objects) {
      rows.push(fields.map((f, i) => {
        const v = object[f.name];
        if (v === null || v === undefined) return null;
        if (types[i].kind === 'decimal') {
          return (v instanceof Uint8Array ? twosComplement(v) : BigInt(v)).toString();
        }
        return canonical(types[i], v);
      }));
    }
  }
  return rows;
}

function compareRows(reader, expected, actual, types, keyIndexes, same = sameValue) {
  if (expected.length !== actual.length) {
    problem(`${reader}: ${actual.length} rows, expected ${expected.length}`);
  }
  // rows are matched by key (or, without one, by their whole text)
  const keyOf = (row) => JSON.stringify((keyIndexes.length > 0 ? keyIndexes.map((i) => row[i]) : row)
    .map((v) => (v === null ? null : String(v))));
  const byKey = new Map();
  for (const row of actual) {
    const k = keyOf(row);
    byKey.set(k, (byKey.get(k) || []).concat([row]));
  }
  let shown = 0;
  for (const exp of expected) {
    const candidates = byKey.get(keyOf(exp)) || [];
    const match = candidates.findIndex((row) => row.every((v, i) => same(types[i], exp[i], v)));
    if (match < 0) {
      if (shown++ < 5) {
        const near = JSON.stringify(candidates.slice(0, 3)).slice(0, 600);
        problem(`${reader}: no row matches expected ${JSON.stringify(exp)}; rows with the same key: ${near}`);
      }
    } else {
      candidates.splice(match, 1);
    }
  }
}

function prefixCharacters(s, n) {
  return Array.from(s).slice(0, n).join('');
}

function msFromIso(text) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{3})(Z?)$/.exec(text);
  if (!m) return null;
  // Date.UTC maps years 0..99 to 1900..1999: set the year separately
  const d = new Date(Date.UTC(2000, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), Number(m[7])));
  d.setUTCFullYear(Number(m[1]));
  return BigInt(d.getTime());
}

function isoDateFromDays(days) {
  const d = new Date(Number(days) * 86400000);
  return d.toISOString().slice(0, 10);
}

// The stats of an add action against DuckDB's view of the file.
async function checkStats(con, file, add, fields, types) {
  const statsText = JSON.parse(add.rawLine).add.stats;
  const stats = parseJsonKeepNumbers(statsText);
  for (const key of ['numRecords', 'minValues', 'maxValues', 'nullCount']) {
    if (!(key in stats)) problem(`${add.path}: stats lack ${key}`);
  }
  const q = `'${file.replace(/'/g, "''")}'`;
  const parts = ['count(*)'];
  fields.forEach((f) => {
    const c = `"${f.name.replace(/"/g, '""')}"`;
    parts.push(`count(*) - count(${c})`, `min(${c})`, `max(${c})`);
  });
  const reader = await con.runAndReadAll(`SELECT ${parts.join(', ')} FROM read_parquet(${q})`);
  const row = reader.getRows()[0];
  const count = BigInt(row[0]);
  if (BigInt(stats.numRecords.number) !== count) problem(`${add.path}: numRecords ${stats.numRecords.number}, file has ${count}`);
  fields.forEach((f, i) => {
    const nulls = BigInt(row[1 + 3 * i]);
    const min = row[2 + 3 * i];
    const max = row[3 + 3 * i];
    const nc = stats.nullCount?.[f.name];
    if (!nc || BigInt(nc.number) !== nulls) problem(`${add.path}: nullCount of ${f.name} is ${nc?.number}, file has ${nulls}`);
    for (const [bound, actual] of [['minValues', min], ['maxValues', max]]) {
      const stat = stats[bound]?.[f.name];
      const isMax = bound === 'maxValues';
      if (stat === undefined) continue;
      if (actual === null) {
        problem(`${add.path}: ${bound}.${f.name} given for an all-null column`);
        continue;
      }
      const t = types[i];
      let ok;
      switch (t.kind) {
        case 'short': case 'integer': case 'long':
          ok = BigInt(stat.number) === BigInt(actual);
          break;
        case 'float': case 'double':
          ok = Number(stat.number) === Number(actual) || (t.kind === 'float' && Math.fround(Number(stat.number)) === Number(actual));
          break;
        case 'decimal':
          ok = decimalToUnscaled(stat.number, t.scale) === actual.value;
          break;
        case 'date':
          ok = stat === isoDateFromDays(actual.days);
          break;
        case 'timestamp': case 'timestamp_ntz': {
          const micros = BigInt(actual.micros);
          const floorMs = micros >= 0n ? micros / 1000n : -((-micros + 999n) / 1000n);
          const ceilMs = micros >= 0n ? (micros + 999n) / 1000n : -((-micros) / 1000n);
          ok = msFromIso(stat) === (isMax ? ceilMs : floorMs) && stat.endsWith('Z') === (t.kind === 'timestamp');
          break;
        }
        case 'string': {
          const s = String(actual);
          const chars = Array.from(s);
          if (chars.length <= 32) ok = stat === s;
          else ok = stat === prefixCharacters(s, 32) + (isMax ? '\u{10FFFF}' : '');
          break;
        }
        default:
          ok = false;
          problem(`${add.path}: unexpected ${bound} for ${t.kind} column ${f.name}`);
      }
      if (!ok) problem(`${add.path}: ${bound}.${f.name} is ${JSON.stringify(stat)}, file has ${actual}`);
    }
  });
  return count;
}

async function main() {
  const args = parseArgs(process.argv);
  const table = args.table;
  const state = replayLog(table);
  if (state.version < 0) {
    console.log(JSON.stringify({ version: -1 }));
    process.exit(problems.length ? 1 : 0);
  }
  const schema = JSON.parse(state.metaData.schemaString);
  const fields = schema.fields;
  const types = fields.map(deltaType);
  const live = [...state.files.values()];
  const files = live.map((add) => path.join(table, decodeURIComponent(add.path)));

  for (const [i, add] of live.entries()) {
    const size = fs.statSync(files[i]).size;
    if (size !== add.size) problem(`${add.path}: size ${add.size} in the log, ${size} on disk`);
  }

  const instance = await DuckDBInstance.create(':memory:');
  const con = await instance.connect();
  await con.run("SET TimeZone = 'UTC'");

  let statsRows = 0n;
  for (const [i, add] of live.entries()) {
    statsRows += await checkStats(con, files[i], add, fields, types);
  }

  let duckRows = [];
  let hyRows = [];
  if (files.length > 0) {
    duckRows = await readWithDuckDB(con, files, fields, types);
    hyRows = await readWithHyparquet(files, fields, types);
  }

  if (args.expected) {
    const expected = JSON.parse(fs.readFileSync(args.expected, 'utf8'));
    const expectedColumns = expected.columns;
    if (expectedColumns && JSON.stringify(expectedColumns) !== JSON.stringify(fields.map((f) => f.name))) {
      problem(`columns ${JSON.stringify(fields.map((f) => f.name))}, expected ${JSON.stringify(expectedColumns)}`);
    }
    // --key a or --key a,b (a composite key)
    const keyIndexes = args.key ? args.key.split(',').map((k) => fields.findIndex((f) => f.name === k)) : [];
    if (keyIndexes.includes(-1)) problem(`key ${args.key} is not among the columns`);
    compareRows('duckdb', expected.rows, duckRows, types, keyIndexes);
    compareRows('hyparquet', expected.rows, hyRows, types, keyIndexes);
  } else {
    // no expectation given: the two readers must agree with each other
    compareRows('hyparquet vs duckdb', duckRows, hyRows, types, [],
      (type, a, b) => Object.is(a, b));
  }

  const summary = {
    version: state.version,
    files: live.length,
    rows: duckRows.length,
    stats_rows: Number(statsRows),
    txns: state.txns,
    protocol: state.protocol,
    schema: fields.map((f) => `${f.name}:${typeof f.type === 'string' ? f.type : 'nested'}`),
  };
  console.log(JSON.stringify(summary));
  if (problems.length) {
    for (const p of problems) console.error(p);
    process.exit(1);
  }
}

main().catch((error) => {
  console.error(error.stack || String(error));
  process.exit(1);
});
