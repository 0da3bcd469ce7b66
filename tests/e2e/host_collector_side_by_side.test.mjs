// pharos' built-in host collector side by side with Debian's prometheus-node-exporter on the
// same machine: every family the exporter emits is produced by pharos (or listed below with the
// reason it is skipped) with the same TYPE and label names; values that are stable agree
// (memory total, CPU count, filesystem sizes, MTUs, boot time, file-descriptor limit, uname,
// os-release). The host series also land in pharos' TSDB as job="node" with no config.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { startPharos, spawnUntil, freePort, query, waitFor } from './helpers.mjs';
import { parseExposition as parse, compareFamilies, findSample as find, skippedBy } from './exposition.mjs';

const EXPORTER = '/usr/bin/prometheus-node-exporter';

function hasExporter() {
  try {
    execFileSync(EXPORTER, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const skip = hasExporter() ? false : 'Debian prometheus-node-exporter is not installed (.ci/run installs it)';

// Families node_exporter emits that pharos deliberately does not, with the reason. A prefix
// ends with '_'.
const SKIPPED = {
  'go_': 'Go runtime of the exporter process itself',
  'promhttp_': "the exporter's HTTP handler",
  'node_bcache_': 'bcache collector: hardware-specific',
  'node_bonding_': 'bonding collector: hardware-specific',
  'node_btrfs_': 'btrfs collector: filesystem-specific',
  'node_cooling_device_': 'thermal_zone collector: hardware-specific',
  'node_cpu_frequency_': 'cpufreq collector: hardware-specific',
  'node_cpu_scaling_': 'cpufreq collector: hardware-specific',
  'node_cpu_core_throttles_total': 'cpu thermal throttles: hardware-specific',
  'node_cpu_package_throttles_total': 'cpu thermal throttles: hardware-specific',
  'node_dmi_': 'dmi collector: hardware inventory',
  'node_edac_': 'edac collector: ECC memory hardware',
  'node_fibrechannel_': 'fibrechannel collector: hardware-specific',
  'node_hwmon_': 'hwmon collector: hardware sensors',
  'node_infiniband_': 'infiniband collector: hardware-specific',
  'node_ipvs_': 'ipvs collector: load-balancer-specific',
  'node_md_': 'mdadm collector: software RAID',
  'node_nf_conntrack_stat_': 'per-CPU conntrack statistics (/proc/net/stat): the entries/limit gauges are kept',
  'node_nfs_': 'nfs client collector: NFS-specific',
  'node_nfsd_': 'nfsd collector: NFS-server-specific',
  'node_nvme_': 'nvme collector: hardware-specific',
  'node_power_supply_': 'powersupplyclass collector: hardware-specific',
  'node_rapl_': 'rapl collector: hardware-specific',
  'node_selinux_': 'selinux collector: distribution-specific',
  'node_systemd_': 'systemd collector: talks to systemd over D-Bus',
  'node_tape_': 'tapestats collector: hardware-specific',
  'node_textfile_': 'textfile collector: pharos ingests files through its own scrape/remote-write paths',
  'node_thermal_zone_': 'thermal_zone collector: hardware-specific',
  'node_xfs_': 'xfs collector: filesystem-specific',
  'node_zfs_': 'zfs collector: filesystem-specific',
  'node_zoneinfo_': 'zoneinfo collector: disabled by default in node_exporter',
};

const skippedReason = skippedBy(SKIPPED);

let exporter;
let exporterUrl;
let pharos;

before(async () => {
  if (skip) return;
  const port = await freePort();
  exporterUrl = `http://127.0.0.1:${port}`;
  [exporter] = await spawnUntil(EXPORTER, [`--web.listen-address=127.0.0.1:${port}`], /Listening on/);
  pharos = await startPharos(null);
});

after(() => {
  exporter?.kill('SIGKILL');
  pharos?.child.kill('SIGKILL');
});

async function scrapeBoth() {
  const [a, b] = await Promise.all([
    fetch(`${exporterUrl}/metrics`).then((r) => r.text()),
    fetch(`${pharos.url}/metrics/node`).then((r) => r.text()),
  ]);
  return [parse(a), parse(b)];
}

test('families, types and label names cover node_exporter', { skip }, async () => {
  const [ne, ours] = await scrapeBoth();
  const { missing, mismatched, skipped, extra } = compareFamilies(ne, ours, skippedReason);
  console.log(`node_exporter families: ${ne.size}; pharos: ${ours.size}`);
  console.log(`skipped on purpose (${skipped.length}):\n  ${skipped.join('\n  ')}`);
  console.log(`pharos only (${extra.length}): ${extra.join(', ')}`);
  if (missing.length) console.log(`MISSING (${missing.length}):\n  ${missing.join('\n  ')}`);
  if (mismatched.length) console.log(`MISMATCHED (${mismatched.length}):\n  ${mismatched.join('\n  ')}`);
  assert.deepEqual(missing, [], 'families node_exporter emits that pharos does not');
  assert.deepEqual(mismatched, [], 'type or label differences');
  // The families of the host collector's brief are all there.
  for (const n of ['node_cpu_seconds_total', 'node_memory_MemTotal_bytes', 'node_load1', 'node_filesystem_avail_bytes',
    'node_network_receive_bytes_total', 'node_network_up', 'node_context_switches_total', 'node_boot_time_seconds',
    'node_uname_info', 'node_time_seconds', 'node_filefd_maximum', 'node_os_info', 'node_exporter_build_info',
    // The collecting process, as node_exporter reports itself (here: pharos).
    'process_cpu_seconds_total', 'process_open_fds', 'process_max_fds', 'process_resident_memory_bytes']) {
    assert.ok(ours.get(n)?.samples.length > 0, n);
  }
});

test('stable values agree', { skip }, async () => {
  const [ne, ours] = await scrapeBoth();
  const one = (fams, n, want = {}) => find(fams.get(n), want)?.value;
  const eq = (n, want = {}, tol = 0) => {
    const a = one(ne, n, want);
    const b = one(ours, n, want);
    assert.ok(a !== undefined, `node_exporter has ${n} ${JSON.stringify(want)}`);
    assert.ok(b !== undefined, `pharos has ${n} ${JSON.stringify(want)}`);
    const ok = tol === 0 ? a === b : Math.abs(a - b) <= tol * Math.max(Math.abs(a), 1);
    assert.ok(ok, `${n} ${JSON.stringify(want)}: pharos ${b}, node_exporter ${a}`);
  };
  eq('node_memory_MemTotal_bytes');
  eq('node_memory_SwapTotal_bytes');
  eq('node_boot_time_seconds', {}, 0.0001);
  eq('node_filefd_maximum');
  eq('node_entropy_pool_size_bits');
  const cpus = (fams) => new Set(fams.get('node_cpu_seconds_total').samples.map((s) => s.labels.cpu)).size;
  assert.equal(cpus(ours), cpus(ne), 'CPU count');
  let fsCompared = 0;
  for (const s of ne.get('node_filesystem_size_bytes')?.samples ?? []) {
    const { device, mountpoint, fstype } = s.labels;
    eq('node_filesystem_size_bytes', { device, mountpoint, fstype }, 0.01);
    eq('node_filesystem_files', { device, mountpoint, fstype }, 0.01);
    eq('node_filesystem_readonly', { device, mountpoint, fstype });
    fsCompared++;
  }
  assert.ok(fsCompared > 0, 'node_exporter reports at least one filesystem');
  for (const s of ne.get('node_network_mtu_bytes')?.samples ?? []) eq('node_network_mtu_bytes', { device: s.labels.device });
  for (const s of ne.get('node_disk_info')?.samples ?? []) assert.ok(find(ours.get('node_disk_info'), { device: s.labels.device }), `disk ${s.labels.device}`);
  assert.deepEqual(find(ours.get('node_uname_info'), {}).labels, find(ne.get('node_uname_info'), {}).labels);
  assert.deepEqual(find(ours.get('node_os_info'), {}).labels, find(ne.get('node_os_info'), {}).labels);
  console.log(`compared ${fsCompared} filesystems, ${cpus(ours)} CPUs`);
});

test('with no config the host series are stored as job="node"', { skip }, async () => {
  const body = await waitFor(async () => {
    const b = await query(pharos.url, 'node_memory_MemTotal_bytes{job="node"}');
    return b.data?.result?.length ? b : null;
  }, 30000, 'node_memory_MemTotal_bytes in the TSDB');
  const [ne] = await scrapeBoth();
  assert.equal(Number(body.data.result[0].value[1]), find(ne.get('node_memory_MemTotal_bytes'), {}).value);
  const up = await query(pharos.url, 'up{job="node"}');
  assert.equal(up.data.result[0].value[1], '1');
});
