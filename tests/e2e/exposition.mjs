// Text-exposition parsing for the side-by-side tests against real exporters.

/** Parses text exposition: name -> { type, help, samples: [{labels, value}] }. */
export function parseExposition(text) {
  const fams = new Map();
  const fam = (n) => {
    if (!fams.has(n)) fams.set(n, { type: 'untyped', help: '', samples: [] });
    return fams.get(n);
  };
  for (const line of text.split('\n')) {
    let m;
    if ((m = line.match(/^# TYPE (\S+) (\S+)/))) fam(m[1]).type = m[2];
    else if ((m = line.match(/^# HELP (\S+) (.*)$/))) fam(m[1]).help = m[2];
    else if (line && !line.startsWith('#')) {
      m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/);
      if (!m) continue;
      const labels = {};
      for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
      fam(m[1]).samples.push({ labels, value: Number(m[3]) });
    }
  }
  return fams;
}

/** The label-name sets of a family's samples ("a,b" strings). */
export const labelNames = (f) => new Set(f.samples.map((s) => Object.keys(s.labels).sort().join(',')));

/** The first sample of `f` whose labels include `want`. */
export const findSample = (f, want) => f?.samples.find((s) => Object.entries(want).every(([k, v]) => s.labels[k] === v));

/**
 * Compares an exporter's families with pharos': returns { missing, mismatched, skipped, extra }.
 * `skippedReason(name)` gives why a family is left out on purpose (or null).
 */
export function compareFamilies(theirs, ours, skippedReason) {
  const missing = [];
  const skipped = [];
  const mismatched = [];
  for (const [name, f] of theirs) {
    if (f.samples.length === 0) continue;
    const why = skippedReason(name);
    if (why) {
      if (!ours.has(name)) skipped.push(`${name} (${why})`);
      continue;
    }
    const o = ours.get(name);
    if (!o || o.samples.length === 0) {
      missing.push(name);
      continue;
    }
    if (o.type !== f.type) mismatched.push(`${name}: TYPE ${o.type}, exporter ${f.type}`);
    const have = labelNames(o);
    for (const ls of labelNames(f)) {
      if (!have.has(ls)) mismatched.push(`${name}: labels {${ls}} missing (pharos has ${[...have].map((x) => `{${x}}`).join(' ')})`);
    }
  }
  const extra = [...ours.keys()].filter((n) => !theirs.has(n) && ours.get(n).samples.length > 0);
  return { missing, mismatched, skipped, extra };
}

/** `(name) => reason | null` for a table of skipped names; a key ending in '_' is a prefix. */
export function skippedBy(table) {
  // A summary's or histogram's _sum/_count/_bucket series go with the family.
  return (name) => {
    const base = name.replace(/_(sum|count|bucket)$/, '');
    for (const [k, why] of Object.entries(table)) {
      if (k.endsWith('_') ? name.startsWith(k) : name === k || base === k) return why;
    }
    return null;
  };
}
