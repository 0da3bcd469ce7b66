/**
 * Grafana's unit ids with their display names, grouped as Grafana's unit picker groups them —
 * the catalogue the panel editor's searchable unit field offers. Formatting values is the
 * panels' job; this file only names the units.
 */

export interface UnitGroup {
  group: string;
  units: [id: string, name: string][];
}

export const UNIT_GROUPS: UnitGroup[] = [
  {
    group: 'Misc',
    units: [
      ['none', 'None'],
      ['short', 'Short'],
      ['percent', 'Percent (0-100)'],
      ['percentunit', 'Percent (0.0-1.0)'],
      ['humidity', 'Humidity (%H)'],
      ['dB', 'Decibel'],
      ['hex0x', 'Hexadecimal (0x)'],
      ['hex', 'Hexadecimal'],
      ['sci', 'Scientific notation'],
      ['locale', 'Locale format'],
      ['pixel', 'Pixels'],
    ],
  },
  {
    group: 'Time',
    units: [
      ['hertz', 'Hertz (1/s)'],
      ['ns', 'nanoseconds (ns)'],
      ['µs', 'microseconds (µs)'],
      ['ms', 'milliseconds (ms)'],
      ['s', 'seconds (s)'],
      ['m', 'minutes (m)'],
      ['h', 'hours (h)'],
      ['d', 'days (d)'],
      ['dtdurationms', 'duration (ms)'],
      ['dtdurations', 'duration (s)'],
      ['dthms', 'duration (hh:mm:ss)'],
      ['dtdhms', 'duration (d hh:mm:ss)'],
      ['timeticks', 'Timeticks (s/100)'],
      ['clockms', 'clock (ms)'],
      ['clocks', 'clock (s)'],
    ],
  },
  {
    group: 'Data',
    units: [
      ['bytes', 'bytes (IEC)'],
      ['decbytes', 'bytes (SI)'],
      ['bits', 'bits (IEC)'],
      ['decbits', 'bits (SI)'],
      ['kbytes', 'kibibytes'],
      ['deckbytes', 'kilobytes'],
      ['mbytes', 'mebibytes'],
      ['decmbytes', 'megabytes'],
      ['gbytes', 'gibibytes'],
      ['decgbytes', 'gigabytes'],
      ['tbytes', 'tebibytes'],
      ['dectbytes', 'terabytes'],
      ['pbytes', 'pebibytes'],
      ['decpbytes', 'petabytes'],
    ],
  },
  {
    group: 'Data rate',
    units: [
      ['pps', 'packets/sec'],
      ['binBps', 'bytes/sec (IEC)'],
      ['Bps', 'bytes/sec (SI)'],
      ['binbps', 'bits/sec (IEC)'],
      ['bps', 'bits/sec (SI)'],
      ['KiBs', 'kibibytes/sec'],
      ['Kibits', 'kibibits/sec'],
      ['KBs', 'kilobytes/sec'],
      ['Kbits', 'kilobits/sec'],
      ['MiBs', 'mebibytes/sec'],
      ['Mibits', 'mebibits/sec'],
      ['MBs', 'megabytes/sec'],
      ['Mbits', 'megabits/sec'],
      ['GiBs', 'gibibytes/sec'],
      ['Gibits', 'gibibits/sec'],
      ['GBs', 'gigabytes/sec'],
      ['Gbits', 'gigabits/sec'],
    ],
  },
  {
    group: 'Throughput',
    units: [
      ['ops', 'ops/sec (ops)'],
      ['reqps', 'requests/sec (rps)'],
      ['rps', 'reads/sec (rps)'],
      ['wps', 'writes/sec (wps)'],
      ['iops', 'I/O ops/sec (iops)'],
      ['eps', 'events/sec (eps)'],
      ['mps', 'messages/sec (mps)'],
      ['recps', 'records/sec (rps)'],
      ['rowsps', 'rows/sec (rps)'],
      ['cps', 'counts/sec (cps)'],
      ['opm', 'ops/min (opm)'],
      ['reqpm', 'requests/min (rpm)'],
      ['rpm', 'reads/min (rpm)'],
      ['wpm', 'writes/min (wpm)'],
      ['epm', 'events/min (epm)'],
      ['mpm', 'messages/min (mpm)'],
      ['cpm', 'counts/min (cpm)'],
    ],
  },
  {
    group: 'Date & time',
    units: [
      ['dateTimeAsIso', 'Datetime ISO'],
      ['dateTimeAsIsoNoDateIfToday', 'Datetime ISO (No date if today)'],
      ['dateTimeAsUS', 'Datetime US'],
      ['dateTimeAsSystem', 'Datetime default'],
      ['dateTimeFromNow', 'From Now'],
    ],
  },
  {
    group: 'Energy & temperature',
    units: [
      ['watt', 'Watt (W)'],
      ['kwatt', 'Kilowatt (kW)'],
      ['mwatt', 'Milliwatt (mW)'],
      ['watth', 'Watt-hour (Wh)'],
      ['kwatth', 'Kilowatt-hour (kWh)'],
      ['joule', 'Joule (J)'],
      ['volt', 'Volt (V)'],
      ['amp', 'Ampere (A)'],
      ['celsius', 'Celsius (°C)'],
      ['fahrenheit', 'Fahrenheit (°F)'],
      ['kelvin', 'Kelvin (K)'],
    ],
  },
  {
    group: 'Currency',
    units: [
      ['currencyUSD', 'Dollars ($)'],
      ['currencyEUR', 'Euro (€)'],
      ['currencyGBP', 'Pounds (£)'],
      ['currencyJPY', 'Yen (¥)'],
    ],
  },
  {
    group: 'Length, mass, velocity',
    units: [
      ['lengthmm', 'millimeter (mm)'],
      ['lengthm', 'meter (m)'],
      ['lengthkm', 'kilometer (km)'],
      ['lengthft', 'feet (ft)'],
      ['lengthmi', 'mile (mi)'],
      ['massmg', 'milligram (mg)'],
      ['massg', 'gram (g)'],
      ['masskg', 'kilogram (kg)'],
      ['masst', 'metric ton (t)'],
      ['velocityms', 'meters/second (m/s)'],
      ['velocitykmh', 'kilometers/hour (km/h)'],
    ],
  },
  {
    group: 'Boolean',
    units: [
      ['bool', 'True / False'],
      ['bool_yes_no', 'Yes / No'],
      ['bool_on_off', 'On / Off'],
    ],
  },
];

/** The display name of a unit id (`reqps` → `requests/sec (rps)`); custom units name themselves. */
export function unitName(id: string): string {
  for (const g of UNIT_GROUPS) for (const [u, n] of g.units) if (u === id) return n;
  if (id.startsWith('suffix:')) return `Custom suffix "${id.slice(7)}"`;
  if (id.startsWith('prefix:')) return `Custom prefix "${id.slice(7)}"`;
  return id;
}

/** Units matching `text` by id, name or group (case-insensitive). */
export function searchUnits(text: string): { group: string; id: string; name: string }[] {
  const t = text.trim().toLowerCase();
  const out: { group: string; id: string; name: string }[] = [];
  for (const g of UNIT_GROUPS)
    for (const [id, name] of g.units)
      if (!t || id.toLowerCase().includes(t) || name.toLowerCase().includes(t) || g.group.toLowerCase().includes(t))
        out.push({ group: g.group, id, name });
  return out;
}
