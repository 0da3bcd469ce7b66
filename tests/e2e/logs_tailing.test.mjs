// File tailing (promtail role) through the real binary: a writer appends numbered lines to a
// file that is rotated by rename+create (once while pharos runs, once while it is down) and by
// copytruncate, while pharos is killed with SIGKILL and restarted on the same data directory.
// Every line must be stored exactly once (checked through the Loki query API).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { api, spawnUntil, PHAROS_BIN, tempDir, sleep, waitFor } from './helpers.mjs';

async function start(dir) {
  const [child, m] = await spawnUntil(
    PHAROS_BIN,
    ['serve', '--listen', '127.0.0.1:0', '--data', path.join(dir, 'data'), '--config', path.join(dir, 'pharos.yml')],
    /pharos: listening on (http:\/\/[0-9.:]+)\r?\n/,
  );
  return { child, url: m[1] };
}

async function storedLines(url, t0) {
  const params = new URLSearchParams({
    query: '{job="app"}',
    start: String((t0 - 60_000) * 1e6),
    end: String((Date.now() + 60_000) * 1e6),
    limit: '5000',
    direction: 'forward',
  });
  const r = await api(url, `/loki/api/v1/query_range?${params}`);
  if (r.status !== 200) throw new Error(JSON.stringify(r.body));
  return r.body.data.result.flatMap((s) => s.values.map((v) => v[1]));
}

test('tailing survives rename and copytruncate rotation and kill -9 with every line exactly once', async () => {
  const dir = tempDir('pharos-tail-');
  const logs = path.join(dir, 'logs');
  fs.mkdirSync(logs);
  const file = path.join(logs, 'app.log');
  fs.writeFileSync(
    path.join(dir, 'promtail.yml'),
    `server:\n  http_listen_port: 9080\nclients:\n  - url: http://loki:3100/loki/api/v1/push\npositions:\n  filename: ${dir}/positions.yaml\ntarget_config:\n  sync_period: 200ms\nscrape_configs:\n- job_name: app\n  static_configs:\n  - targets: [localhost]\n    labels:\n      job: app\n      __path__: ${logs}/*.log\n`,
  );
  fs.writeFileSync(path.join(dir, 'pharos.yml'), 'promtail_config: promtail.yml\n');
  const t0 = Date.now();
  let p = await start(dir);
  let fd = fs.openSync(file, 'a');
  const total = 1000;
  let written = 0;
  try {
    for (let i = 0; i < total; i++) {
      fs.writeSync(fd, `line-${String(i).padStart(5, '0')} `);
      fs.writeSync(fd, 'payload\n');
      written++;
      if (i % 25 === 0) await sleep(20);
      // A file created and rotated away before the first glob sees it cannot be tailed by
      // anyone: let pharos discover the file first.
      if (i === 0) await waitFor(async () => (await storedLines(p.url, t0)).length === 1, 10000, 'first line');
      if (i === 250) {
        fs.renameSync(file, `${file}.1`);
        fs.writeSync(fd, 'late line written to the renamed file\n');
        fs.closeSync(fd);
        fd = fs.openSync(file, 'a');
      }
      if (i === 400) {
        await sleep(300);
        p.child.kill('SIGKILL');
        await new Promise((r) => p.child.once('exit', r));
      }
      if (i === 450) {
        fs.renameSync(file, `${file}.2`);
        fs.closeSync(fd);
        fd = fs.openSync(file, 'a');
      }
      if (i === 550) p = await start(dir);
      if (i === 750) {
        // copytruncate once pharos has read everything so far (lines written between a copy and
        // the truncate are lost by any tailer).
        await waitFor(async () => { const n = (await storedLines(p.url, t0)).length; return n >= written + 1 || `${n} of ${written + 1}` === 'x'; }, 20000, 'catch up').catch(async (e) => { const l = await storedLines(p.url, t0); const missing = []; for (let k = 0; k < written; k++) if (!l.includes(`line-${String(k).padStart(5, '0')} payload`)) missing.push(k); throw new Error(`${e.message}: have ${l.length} of ${written + 1}; missing ${missing.slice(0, 20)} (${missing.length}); ${JSON.stringify(l.slice(0, 3))}`); });
        fs.copyFileSync(file, `${file}.3`);
        fs.ftruncateSync(fd, 0);
        await sleep(600);
      }
    }
    fs.closeSync(fd);
    const lines = await waitFor(async () => {
      const l = await storedLines(p.url, t0);
      return l.length >= total + 1 ? l : null;
    }, 30000, 'all lines');
    await sleep(1000);
    const final = await storedLines(p.url, t0);
    const counts = new Map();
    for (const l of final) counts.set(l, (counts.get(l) || 0) + 1);
    const dups = [...counts].filter(([, n]) => n > 1);
    assert.deepEqual(dups, [], 'no line stored twice');
    for (let i = 0; i < total; i++) {
      assert.equal(counts.get(`line-${String(i).padStart(5, '0')} payload`), 1, `line ${i}`);
    }
    assert.equal(counts.get('late line written to the renamed file'), 1);
    assert.equal(final.length, total + 1, `got ${lines.length} then ${final.length}`);
    // promtail's positions file format.
    const pos = fs.readFileSync(path.join(dir, 'positions.yaml'), 'utf8');
    assert.match(pos, /^positions:\n/);
    assert.ok(pos.includes(file), pos);
  } finally {
    p.child.kill('SIGKILL');
  }
});

test('an invalid promtail config stops pharos with a located error', async () => {
  const dir = tempDir('pharos-tail-bad-');
  fs.writeFileSync(path.join(dir, 'promtail.yml'), 'scrape_configs:\n- job_name: a\n  pipeline_stages:\n  - regex:\n      expression: "("\n');
  fs.writeFileSync(path.join(dir, 'pharos.yml'), 'promtail_config: promtail.yml\n');
  await assert.rejects(start(dir), /promtail_config .*promtail\.yml.*pipeline_stages\[0\].*regex/s);
});
