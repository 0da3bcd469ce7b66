// Throwaway Redis and PostgreSQL servers for the e2e tests, on ephemeral ports: Debian's
// redis-server and a PostgreSQL cluster (initdb + pg_ctl, as the `postgres` user when run as
// root, since initdb refuses root).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { spawnUntil, freePort, tempDir } from './helpers.mjs';

export const pgBin = (() => {
  try {
    const dirs = fs.readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a));
    return dirs.length ? `/usr/lib/postgresql/${dirs[0]}/bin` : null;
  } catch {
    return null;
  }
})();

export function runs(cmd, args) {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Why the stack cannot start here, or false. */
export function missingServices() {
  if (!runs('redis-server', ['--version'])) return 'Debian redis-server is not installed (.ci/run installs it)';
  if (!pgBin) return 'Debian postgresql is not installed (.ci/run installs it)';
  return false;
}

export async function startRedis() {
  const port = await freePort();
  const [child] = await spawnUntil('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'], /Ready to accept connections/);
  return { child, port, url: `redis://127.0.0.1:${port}/0`, stop: () => child.kill('SIGKILL') };
}

/** Runs a PostgreSQL binary as the `postgres` user when we are root (initdb refuses root). */
export function pgRun(bin, args) {
  const cmd = path.join(pgBin, bin);
  return process.getuid?.() === 0
    ? execFileSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { stdio: 'pipe' }).toString()
    : execFileSync(cmd, args, { stdio: 'pipe' }).toString();
}

/** A cluster with user postgres / password `password`, SCRAM over TCP. */
export async function startPostgres(password = 's3cret') {
  const dir = tempDir('crewai-pg-');
  fs.chmodSync(dir, 0o777);
  const pwFile = path.join(dir, 'pw');
  fs.writeFileSync(pwFile, `${password}\n`, { mode: 0o644 });
  const port = await freePort();
  const data = path.join(dir, 'data');
  pgRun('initdb', ['-D', data, '-U', 'postgres', '--auth-local=trust', '--auth-host=scram-sha-256', `--pwfile=${pwFile}`]);
  pgRun('pg_ctl', ['-D', data, '-w', '-l', path.join(dir, 'log'), '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`, 'start']);
  return {
    port,
    pwFile,
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres?sslmode=disable`,
    stop: () => {
      try {
        pgRun('pg_ctl', ['-D', data, '-m', 'immediate', 'stop']);
      } catch {
        // already gone
      }
    },
  };
}
