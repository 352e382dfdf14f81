// The measuring half of run.sh (which starts the server and sets PGHOST,
// PGPORT, PGUSER, PGDATABASE): see run.sh for what is measured.

import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';

const options = { rows: 1000000, runs: 5, 'rss-rows': 10000000, dir: null };
for (let i = 2; i < process.argv.length; i += 2) {
  const key = process.argv[i].replace(/^--/, '');
  if (!(key in options)) throw new Error(`unknown option --${key}`);
  options[key] = key === 'dir' ? process.argv[i + 1] : Number(process.argv[i + 1]);
}
fs.mkdirSync(options.dir, { recursive: true });

// progress NOTICEs would only clutter the report
const quiet = { ...process.env, PGOPTIONS: `${process.env.PGOPTIONS || ''} -c client_min_messages=warning` };

function psql(sql) {
  return execFileSync('psql', ['-XAtq', '-v', 'ON_ERROR_STOP=1', '-c', sql], { encoding: 'utf8', env: quiet }).trim();
}

// The same 8 columns for both writers.
function fillTable(name, rows) {
  psql(`DROP TABLE IF EXISTS ${name}`);
  psql(`CREATE TABLE ${name} AS
        SELECT g::int AS id,
               (g % 1000)::int AS customer_id,
               (g::bigint * 7919) % 1000003 AS order_no,
               round((g % 100000) / 100.0 + 0.01, 2)::numeric(12,2) AS amount,
               'status_' || (g % 5) AS status,
               'customer ' || (g % 1000) AS customer,
               timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second' AS created_at,
               md5(g::text) AS token
        FROM generate_series(1, ${rows}) g`);
  psql(`VACUUM (FREEZE, ANALYZE) ${name}`);
  // warm the cache the way DuckDB's table is in memory
  psql(`SELECT count(*) FROM ${name}`);
}

function liveFiles(table) {
  const log = path.join(table, '_delta_log');
  const files = new Map();
  for (const name of fs.readdirSync(log).filter((n) => /^\d{20}\.json$/.test(n)).sort()) {
    for (const line of fs.readFileSync(path.join(log, name), 'utf8').split('\n')) {
      if (!line.trim()) continue;
      const action = JSON.parse(line);
      if (action.add) files.set(action.add.path, action.add.size);
      if (action.remove) files.delete(action.remove.path);
    }
  }
  return [...files.entries()].map(([p, size]) => ({ path: path.join(table, p), size }));
}

function exportOnce(table, target) {
  const out = psql(`SELECT extract(epoch FROM clock_timestamp() - statement_timestamp()), rows, bytes
                    FROM kafka.delta_export('${table}', '${target}', mode => 'overwrite')`);
  const [seconds, rows, bytes] = out.split('|');
  return { seconds: Number(seconds), rows: Number(rows), bytes: Number(bytes) };
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

function rssAnonKiB(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/RssAnon:\s+(\d+)/.exec(status)[1]);
}

// One export in its own session, its backend's RssAnon sampled meanwhile.
async function measureRss(table, target) {
  const app = `delta_bench_${process.pid}`;
  const child = spawn('psql', ['-XAtq', '-v', 'ON_ERROR_STOP=1',
    '-c', 'SELECT pg_sleep(1)',
    '-c', `SELECT rows FROM kafka.delta_export('${table}', '${target}', mode => 'overwrite')`],
  { env: { ...quiet, PGAPPNAME: app }, stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  const done = new Promise((resolve, reject) => child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`psql exited ${code}`)))));
  let pid = null;
  while (!pid) {
    pid = Number(psql(`SELECT pid FROM pg_stat_activity WHERE application_name = '${app}'`)) || null;
    if (!pid) await new Promise((r) => setTimeout(r, 20));
  }
  const before = rssAnonKiB(pid);
  let peak = before;
  let finished = false;
  done.then(() => { finished = true; }, () => { finished = true; });
  while (!finished) {
    try { peak = Math.max(peak, rssAnonKiB(pid)); } catch { break; }
    await new Promise((r) => setTimeout(r, 10));
  }
  await done;
  return { before, peak, rows: Number(output.trim().split('\n').pop()) };
}

async function main() {
  const duck = await DuckDBInstance.create(':memory:');
  const con = await duck.connect();
  await con.run('SET threads = 1');

  console.log(`delta_export benchmark: ${options.rows} rows x 8 columns (int, bigint, numeric, text, timestamptz), ${options.runs} runs each, medians`);
  fillTable('bench_rows', options.rows);

  // DuckDB's own table holds the very rows of the first export
  const first = exportOnce('bench_rows', path.join(options.dir, 'warmup'));
  const files = liveFiles(path.join(options.dir, 'warmup')).map((f) => `'${f.path}'`).join(',');
  await con.run(`CREATE TABLE bench_rows AS SELECT * FROM read_parquet([${files}])`);
  const duckCount = (await con.runAndReadAll('SELECT count(*) FROM bench_rows')).getRows()[0][0];
  if (Number(duckCount) !== first.rows) throw new Error(`DuckDB table has ${duckCount} rows`);

  const ours = [];
  const theirs = [];
  const duckFile = path.join(os.tmpdir(), `delta_bench_${process.pid}.parquet`);
  for (let run = 0; run < options.runs; run++) {
    ours.push(exportOnce('bench_rows', path.join(options.dir, `run${run}`)));
    const t0 = process.hrtime.bigint();
    await con.run(`COPY bench_rows TO '${duckFile}' (FORMAT parquet, COMPRESSION zstd)`);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    theirs.push({ seconds, bytes: fs.statSync(duckFile).size });
    fs.rmSync(path.join(options.dir, `run${run}`), { recursive: true, force: true });
  }
  fs.rmSync(duckFile, { force: true });

  const ourTime = median(ours.map((r) => r.seconds));
  const duckTime = median(theirs.map((r) => r.seconds));
  const ourBytes = median(ours.map((r) => r.bytes));
  const duckBytes = median(theirs.map((r) => r.bytes));
  const mb = (b) => (b / 1e6).toFixed(1);
  console.log(`  kafka.delta_export        ${ourTime.toFixed(3)} s  ${mb(ourBytes)} MB   runs: ${ours.map((r) => r.seconds.toFixed(3)).join(' ')}`);
  console.log(`  DuckDB COPY (threads=1)   ${duckTime.toFixed(3)} s  ${mb(duckBytes)} MB   runs: ${theirs.map((r) => r.seconds.toFixed(3)).join(' ')}`);
  const timeRatio = ourTime / duckTime;
  const sizeRatio = ourBytes / duckBytes;
  console.log(`  time ratio  ${timeRatio.toFixed(2)}  (target <= 2.00: ${timeRatio <= 2 ? 'met' : 'MISSED'})`);
  console.log(`  size ratio  ${sizeRatio.toFixed(2)}  (target <= 1.25: ${sizeRatio <= 1.25 ? 'met' : 'MISSED'})`);

  if (options['rss-rows'] > 0) {
    fillTable('bench_rss', options['rss-rows']);
    const rss = await measureRss('bench_rss', path.join(options.dir, 'rss'));
    const growth = (rss.peak - rss.before) / 1024;
    console.log(`  RssAnon growth of the backend during a ${rss.rows}-row export: ${growth.toFixed(1)} MiB (from ${(rss.before / 1024).toFixed(1)} MiB; target < 256 MiB: ${growth < 256 ? 'met' : 'MISSED'})`);
    psql('DROP TABLE bench_rss');
  }
}

main().catch((error) => {
  console.error(error.stack || String(error));
  process.exit(1);
});
