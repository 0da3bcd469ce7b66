//! Encoding of sealed (persisted) log chunks: a columnar layout for lines that are JSON objects
//! of a shared shape, the original single-zstd-frame layout for everything else, and the reader
//! of both (the first byte tells them apart, so chunks written before this module read as before).
//!
//! Columnar chunk (`COLUMNAR_V1`): each line that is one JSON object is split into its *literal
//! text* (everything outside the values: braces, keys with their quotes, `:`, `,`, spacing) and
//! its *values* (the bytes between a string's quotes, escapes as written; the exact text of a
//! number, `true`/`false`/`null` or a nested object/array). Lines whose literal text is equal share
//! a *shape*; the literals are stored once per chunk and each value position becomes a column,
//! encoded by what it holds: canonical integers as zigzag varints (raw or as deltas, whichever is
//! smaller), low-cardinality values as a dictionary plus indexes, digit strings of a fixed layout
//! (ISO timestamps, IPs, `user-1234`) as per-run integer columns, lowercase hex as bytes, the rest
//! as lengths plus bytes. Every column and the small per-entry sections (timestamps, shape ids,
//! raw lines, structured metadata) are zstd-compressed separately. Lines that are not JSON
//! objects, or whose shape is rare in the chunk, are stored as they are.
//!
//! Lines round-trip byte for byte: the literal and value spans of a line are contiguous slices
//! of it (the split never rewrites text), and a column is given a typed encoding only when every
//! value re-renders to exactly its original bytes (checked while encoding). Decoding rebuilds the
//! chunk's entries in the byte layout of [`codec::put_entries`] — one buffer the scan walks with
//! [`codec::RawEntries`] and its SIMD substring search, as it walks a decompressed legacy chunk.

use crate::codec::{self, put_str, put_uvarint, Reader};
use model::LogEntry;
use std::collections::HashMap;

/// First byte of a columnar chunk. Legacy chunks are one zstd frame and start with the zstd
/// magic number's first byte, [`ZSTD_MAGIC0`].
pub const COLUMNAR_V1: u8 = 0x02;
/// First byte of a zstd frame (magic number 0xFD2FB528, little endian).
const ZSTD_MAGIC0: u8 = 0x28;

/// Most shapes kept per chunk (lines of other shapes are stored raw).
const MAX_SHAPES: usize = 16;
/// Shapes tracked while collecting (bounds the memory of chunks with many shapes).
const MAX_CANDIDATE_SHAPES: usize = 64;
/// A shape with fewer lines than this is not worth its literals and columns: stored raw.
const MIN_SHAPE_LINES: usize = 8;
/// Values per line beyond which a line is stored raw.
const MAX_FIELDS: usize = 512;
/// Sections shorter than this are stored uncompressed.
const MIN_COMPRESS: usize = 48;
/// Digit runs per value a digit-layout column may have.
const MAX_RUNS: usize = 12;
/// Runs whose number varies that a digit-layout column may keep (after constant runs are
/// folded into its text); see `encode_digits`.
const MAX_VARYING_RUNS: usize = 2;

const SHAPE_RAW: u8 = u8::MAX;

const COL_RAW: u8 = 0;
const COL_DICT: u8 = 1;
const COL_INT: u8 = 2;
const COL_DIGITS: u8 = 3;
const COL_HEX: u8 = 4;

/// A corrupt chunk (truncated, bad zstd frame, out-of-range index) or an unknown format byte.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DecodeError(String);

impl From<codec::Corrupt> for DecodeError {
    fn from(e: codec::Corrupt) -> Self {
        DecodeError(e.to_string())
    }
}

fn bad(what: &str) -> DecodeError {
    DecodeError(format!("corrupt columnar chunk: {what}"))
}

// ---------------------------------------------------------------------------------------------
// Splitting a line into literals and values.

/// Index of the closing quote of a JSON string whose content starts at `i`.
fn string_end(b: &[u8], mut i: usize) -> Option<usize> {
    loop {
        i += memchr::memchr2(b'"', b'\\', b.get(i..)?)?;
        if b[i] == b'"' {
            return Some(i);
        }
        i += 2;
    }
}

/// End (exclusive) of the nested object or array starting at `i`.
fn nested_end(b: &[u8], mut i: usize) -> Option<usize> {
    let mut depth = 0usize;
    while i < b.len() {
        match b[i] {
            b'"' => i = string_end(b, i + 1)?,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// Value spans `(start, end)` of a line holding one JSON object with at least one member; the
/// literals are the gaps between them. `false` when the line is not such an object.
fn split(b: &[u8], vals: &mut Vec<(u32, u32)>) -> bool {
    vals.clear();
    if b.len() > u32::MAX as usize {
        return false;
    }
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return false;
    }
    i = skip_ws(b, i + 1);
    loop {
        if b.get(i) != Some(&b'"') {
            return false;
        }
        i = match string_end(b, i + 1) {
            Some(e) => skip_ws(b, e + 1),
            None => return false,
        };
        if b.get(i) != Some(&b':') {
            return false;
        }
        i = skip_ws(b, i + 1);
        let (s, e, next) = match b.get(i) {
            Some(b'"') => match string_end(b, i + 1) {
                Some(e) => (i + 1, e, e + 1),
                None => return false,
            },
            Some(b'{' | b'[') => match nested_end(b, i) {
                Some(e) => (i, e, e),
                None => return false,
            },
            Some(_) => {
                let mut e = i;
                while e < b.len() && !matches!(b[e], b',' | b'}' | b' ' | b'\t' | b'\n' | b'\r') {
                    e += 1;
                }
                if e == i {
                    return false;
                }
                (i, e, e)
            }
            None => return false,
        };
        vals.push((s as u32, e as u32));
        if vals.len() > MAX_FIELDS {
            return false;
        }
        i = skip_ws(b, next);
        match b.get(i) {
            Some(b',') => i = skip_ws(b, i + 1),
            Some(b'}') => {
                i += 1;
                break;
            }
            _ => return false,
        }
    }
    skip_ws(b, i) == b.len()
}

/// The literal gaps of a split line: `lits[0] vals[0] lits[1] … vals[n-1] lits[n]`.
fn for_each_gap<'a>(b: &'a [u8], vals: &[(u32, u32)], mut f: impl FnMut(&'a [u8]) -> bool) -> bool {
    let mut prev = 0usize;
    for &(s, e) in vals {
        if !f(&b[prev..s as usize]) {
            return false;
        }
        prev = e as usize;
    }
    f(&b[prev..])
}

/// Whether a split line has exactly the literals `lits`.
fn same_lits(lits: &[&[u8]], b: &[u8], vals: &[(u32, u32)]) -> bool {
    if lits.len() != vals.len() + 1 {
        return false;
    }
    let mut k = 0;
    for_each_gap(b, vals, |g| {
        k += 1;
        eq_short(lits[k - 1], g)
    })
}

/// Byte equality for the short slices of a line (literals, values), inline: a libc `memcmp`
/// call per literal cost more than the compare at ingest (~20 literals per line).
#[inline]
fn eq_short(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut ca = a.chunks_exact(8);
    let mut cb = b.chunks_exact(8);
    for (x, y) in (&mut ca).zip(&mut cb) {
        let x = u64::from_ne_bytes([x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]]);
        let y = u64::from_ne_bytes([y[0], y[1], y[2], y[3], y[4], y[5], y[6], y[7]]);
        if x != y {
            return false;
        }
    }
    let (ra, rb) = (ca.remainder(), cb.remainder());
    let mut diff = 0u8;
    for i in 0..ra.len() {
        diff |= ra[i] ^ rb[i];
    }
    diff == 0
}

/// A fast non-cryptographic hash of a line's literals (shape lookup; equality is checked after).
fn shape_hash(b: &[u8], vals: &[(u32, u32)]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut mix = |x: u64| h = (h.rotate_left(5) ^ x).wrapping_mul(0x517c_c1b7_2722_0a95);
    let mut prev = 0usize;
    let mut add = |s: usize, e: usize| {
        let g = &b[s..e];
        mix(g.len() as u64);
        let mut c = g.chunks_exact(8);
        for w in &mut c {
            mix(u64::from_le_bytes([
                w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7],
            ]));
        }
        let mut t = [0u8; 8];
        t[..c.remainder().len()].copy_from_slice(c.remainder());
        mix(u64::from_le_bytes(t));
    };
    for &(s, e) in vals {
        add(prev, s as usize);
        prev = e as usize;
    }
    add(prev, b.len());
    h
}

// ---------------------------------------------------------------------------------------------
// Encoding.

/// FxHash-style hasher for the dictionary of a column (values are short; SipHash would cost
/// more than the rest of the column's encoding).
#[derive(Default)]
struct Fx(u64);

impl std::hash::Hasher for Fx {
    fn write(&mut self, b: &[u8]) {
        let mut c = b.chunks_exact(8);
        for w in &mut c {
            let x = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
            self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
        for &x in c.remainder() {
            self.0 = (self.0.rotate_left(5) ^ x as u64).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
    }
    fn write_usize(&mut self, n: usize) {
        self.0 = (self.0.rotate_left(5) ^ n as u64).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type FxBuild = std::hash::BuildHasherDefault<Fx>;

struct Shape<'a> {
    lits: Vec<&'a [u8]>,
    /// `cols[j][row]`: value `j` of each line of this shape, in entry order.
    cols: Vec<Vec<&'a [u8]>>,
}

/// Encodes one sealed chunk: columnar when some lines are JSON objects of a shape shared by
/// enough lines, the legacy zstd frame of [`codec::put_entries`] otherwise.
pub fn encode(
    comp: &mut zstd::bulk::Compressor<'_>,
    entries: &[&LogEntry],
) -> std::io::Result<Vec<u8>> {
    if let Some(c) = encode_columnar(comp, entries)? {
        return Ok(c);
    }
    encode_legacy(comp, entries)
}

/// The pre-columnar chunk: one zstd frame over [`codec::put_entries`].
pub fn encode_legacy(
    comp: &mut zstd::bulk::Compressor<'_>,
    entries: &[&LogEntry],
) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    codec::put_entries(&mut buf, entries.iter().copied());
    comp.compress(&buf)
}

fn encode_columnar(
    comp: &mut zstd::bulk::Compressor<'_>,
    entries: &[&LogEntry],
) -> std::io::Result<Option<Vec<u8>>> {
    let mut shapes: Vec<Shape> = Vec::new();
    let mut by_hash: HashMap<u64, usize, FxBuild> = HashMap::default();
    // Per entry: candidate shape index, or usize::MAX for raw.
    let mut line_shape: Vec<usize> = Vec::with_capacity(entries.len());
    let mut vals = Vec::new();
    let mut last: Option<(u64, usize)> = None;
    for e in entries {
        let b = e.line.as_bytes();
        if !split(b, &mut vals) {
            line_shape.push(usize::MAX);
            continue;
        }
        let h = shape_hash(b, &vals);
        let idx = match last {
            Some((lh, i)) if lh == h => Some(i),
            _ => by_hash.get(&h).copied(),
        };
        let idx = match idx {
            Some(i) if same_lits(&shapes[i].lits, b, &vals) => Some(i),
            Some(_) => None, // hash collision: raw
            None if shapes.len() < MAX_CANDIDATE_SHAPES => {
                let mut lits = Vec::with_capacity(vals.len() + 1);
                for_each_gap(b, &vals, |g| {
                    lits.push(g);
                    true
                });
                shapes.push(Shape {
                    lits,
                    cols: vec![Vec::new(); vals.len()],
                });
                by_hash.insert(h, shapes.len() - 1);
                Some(shapes.len() - 1)
            }
            None => None,
        };
        match idx {
            Some(i) => {
                last = Some((h, i));
                for (col, &(s, e)) in shapes[i].cols.iter_mut().zip(&vals) {
                    col.push(&b[s as usize..e as usize]);
                }
                line_shape.push(i);
            }
            None => line_shape.push(usize::MAX),
        }
    }
    // Keep the biggest shapes; the lines of the others go raw.
    let mut order: Vec<usize> = (0..shapes.len())
        .filter(|&i| shapes[i].cols.first().map_or(0, |c| c.len()) >= MIN_SHAPE_LINES)
        .collect();
    order.sort_by_key(|&i| std::cmp::Reverse(shapes[i].cols[0].len()));
    order.truncate(MAX_SHAPES);
    if order.is_empty() {
        return Ok(None);
    }
    let mut remap = vec![SHAPE_RAW; shapes.len()];
    for (k, &i) in order.iter().enumerate() {
        remap[i] = k as u8;
    }

    let mut out = vec![COLUMNAR_V1];
    put_uvarint(&mut out, entries.len() as u64);
    put_uvarint(&mut out, order.len() as u64);
    // Columns holding one value in every line are folded into the literals.
    let mut kept: Vec<Vec<usize>> = Vec::with_capacity(order.len());
    for &i in &order {
        let sh = &shapes[i];
        let mut lits: Vec<Vec<u8>> = Vec::new();
        let mut cur = sh.lits[0].to_vec();
        let mut cols = Vec::new();
        for (j, col) in sh.cols.iter().enumerate() {
            if col.iter().all(|v| eq_short(v, col[0])) {
                cur.extend_from_slice(col[0]);
            } else {
                lits.push(std::mem::take(&mut cur));
                cols.push(j);
            }
            cur.extend_from_slice(sh.lits[j + 1]);
        }
        lits.push(cur);
        put_uvarint(&mut out, lits.len() as u64);
        for l in &lits {
            put_uvarint(&mut out, l.len() as u64);
            out.extend_from_slice(l);
        }
        kept.push(cols);
    }
    let mut sec = Vec::new();
    // Timestamps: zigzag deltas, the same varints as `put_entries`.
    let mut prev = 0i64;
    for e in entries {
        codec::put_varint(&mut sec, e.ts_ns.wrapping_sub(prev));
        prev = e.ts_ns;
    }
    put_section(&mut out, comp, &sec)?;
    // Shape ids.
    sec.clear();
    sec.extend(
        line_shape
            .iter()
            .map(|&s| if s == usize::MAX { SHAPE_RAW } else { remap[s] }),
    );
    put_section(&mut out, comp, &sec)?;
    // Raw lines.
    let mut raw = Vec::new();
    for (e, &s) in entries.iter().zip(&line_shape) {
        if s == usize::MAX || remap[s] == SHAPE_RAW {
            put_str(&mut raw, &e.line);
        }
    }
    put_section(&mut out, comp, &raw)?;
    // Structured metadata, per entry as in `put_entries`.
    sec.clear();
    for e in entries {
        put_uvarint(&mut sec, e.metadata.len() as u64);
        for (k, v) in &e.metadata {
            put_str(&mut sec, k);
            put_str(&mut sec, v);
        }
    }
    put_section(&mut out, comp, &sec)?;
    for (&i, cols) in order.iter().zip(&kept) {
        for &j in cols {
            sec.clear();
            encode_column(&shapes[i].cols[j], &mut sec);
            put_section(&mut out, comp, &sec)?;
        }
    }
    Ok(Some(out))
}

fn put_section(
    out: &mut Vec<u8>,
    comp: &mut zstd::bulk::Compressor<'_>,
    data: &[u8],
) -> std::io::Result<()> {
    if data.len() >= MIN_COMPRESS {
        let z = comp.compress(data)?;
        if z.len() < data.len() {
            out.push(1);
            put_uvarint(out, data.len() as u64);
            put_uvarint(out, z.len() as u64);
            out.extend_from_slice(&z);
            return Ok(());
        }
    }
    out.push(0);
    put_uvarint(out, data.len() as u64);
    out.extend_from_slice(data);
    Ok(())
}

/// Canonical JSON integer text (`0`, `-12`, no leading zeros, at most 18 digits) as an i64,
/// verified by rendering it back and comparing.
fn canonical_int(v: &[u8]) -> Option<i64> {
    let digits = v.strip_prefix(b"-").unwrap_or(v);
    if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if digits[0] == b'0' && (digits.len() > 1 || v.len() > 1) {
        return None;
    }
    let mut n: i64 = 0;
    for &d in digits {
        n = n * 10 + (d - b'0') as i64;
    }
    let n = if v[0] == b'-' { -n } else { n };
    let mut t = [0u8; 24];
    (render_int(n, &mut t) == v).then_some(n)
}

/// Decimal text of `n` in the tail of `buf`.
fn render_int(n: i64, buf: &mut [u8; 24]) -> &[u8] {
    let mut i = buf.len();
    let mut u = n.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (u % 10) as u8;
        u /= 10;
        if u == 0 {
            break;
        }
    }
    if n < 0 {
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

/// Number of decimal digits of `x`.
#[inline]
fn digit_count(x: u64) -> usize {
    let mut n = 1;
    let mut p = 10u64;
    while n < 20 && x >= p {
        n += 1;
        p = p.saturating_mul(10);
    }
    n
}

/// Appends the decimal digits of `x`, zero-padded to `width` digits.
#[inline]
fn render_digits(mut x: u64, width: usize, out: &mut Vec<u8>) {
    const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
        2021222324252627282930313233343536373839404142434445464748495051525354555657585960616263\
        646566676869707172737475767778798081828384858687888990919293949596979899";
    let n = digit_count(x).max(width);
    let at = out.len();
    out.resize(at + n, b'0');
    let mut i = out.len();
    while x >= 100 {
        let d = (x % 100) as usize * 2;
        x /= 100;
        out[i - 2..i].copy_from_slice(&PAIRS[d..d + 2]);
        i -= 2;
    }
    if x >= 10 {
        let d = x as usize * 2;
        out[i - 2..i].copy_from_slice(&PAIRS[d..d + 2]);
    } else {
        out[i - 1] = b'0' + x as u8;
    }
}

/// Writes zigzag varints of `v`, as deltas when that is shorter; first byte 1 for deltas.
fn put_ints(sec: &mut Vec<u8>, v: &[i64]) {
    let len = |x: i64| {
        (64 - ((x << 1) ^ (x >> 63)).leading_zeros())
            .max(1)
            .div_ceil(7)
    };
    let raw: u32 = v.iter().map(|&x| len(x)).sum();
    let mut prev = 0i64;
    let delta: u32 = v
        .iter()
        .map(|&x| {
            let d = len(x.wrapping_sub(prev));
            prev = x;
            d
        })
        .sum();
    let use_delta = delta < raw;
    sec.push(use_delta as u8);
    let mut prev = 0i64;
    for &x in v {
        codec::put_varint(sec, if use_delta { x.wrapping_sub(prev) } else { x });
        prev = x;
    }
}

/// Lowercase hex of even length as bytes (a value that is not is `None`).
fn hex_bytes(v: &[u8], out: &mut Vec<u8>) -> bool {
    if !v.len().is_multiple_of(2) {
        return false;
    }
    let nib = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    for p in v.chunks_exact(2) {
        match (nib(p[0]), nib(p[1])) {
            (Some(h), Some(l)) => out.push(h << 4 | l),
            _ => return false,
        }
    }
    true
}

/// The digit layout of a value: its non-digit text and digit runs (at most [`MAX_RUNS`]).
fn digit_runs<'a>(v: &'a [u8], runs: &mut Vec<&'a [u8]>, text: &mut Vec<&'a [u8]>) -> bool {
    runs.clear();
    text.clear();
    let mut i = 0;
    loop {
        let s = i;
        while i < v.len() && !v[i].is_ascii_digit() {
            i += 1;
        }
        text.push(&v[s..i]);
        if i == v.len() {
            return true;
        }
        let s = i;
        while i < v.len() && v[i].is_ascii_digit() {
            i += 1;
        }
        if runs.len() == MAX_RUNS || i - s > 18 {
            return false;
        }
        runs.push(&v[s..i]);
    }
}

/// Encodes one column (`vals` non-empty) by what its values hold (see the module doc). A typed
/// encoding is decoded again and compared with the values; if any differs, the column is raw.
fn encode_column(vals: &[&[u8]], sec: &mut Vec<u8>) {
    let start = sec.len();
    encode_typed(vals, sec);
    // Integers are taken only when they render back to their text (`canonical_int`), hex
    // only lowercase, dictionaries hold the values themselves: those are checked in debug
    // builds (tests), digit layouts always.
    let check = match sec[start] {
        COL_RAW => false,
        COL_DIGITS => true,
        _ => cfg!(debug_assertions),
    };
    if check && !column_reads_back(&sec[start..], vals) {
        sec.truncate(start);
        put_raw(vals, sec);
    }
}

/// Whether column section `sec` decodes to exactly `vals`.
fn column_reads_back(sec: &[u8], vals: &[&[u8]]) -> bool {
    let Ok(mut col) = Col::open(sec, vals.len()) else {
        return false;
    };
    let mut t = Vec::new();
    let mut nums = Vec::new();
    vals.iter().all(|v| {
        t.clear();
        nums.clear();
        let Ok(tok) = col.next_tok(&mut nums) else {
            return false;
        };
        col.render(&tok, &nums, &mut t);
        // The scan's shortcuts (length and first byte without rendering) agree with the text.
        debug_assert_eq!(col.text_len(&tok, &nums), t.len());
        debug_assert_eq!(col.first_byte(&tok, &nums), t.first().copied());
        eq_short(&t, v)
    })
}

/// Raw column: the byte length of the value lengths, the lengths, the values.
fn put_raw(vals: &[&[u8]], sec: &mut Vec<u8>) {
    sec.push(COL_RAW);
    let mut lens = Vec::with_capacity(vals.len() * 2);
    for v in vals {
        put_uvarint(&mut lens, v.len() as u64);
    }
    put_uvarint(sec, lens.len() as u64);
    sec.extend_from_slice(&lens);
    for v in vals {
        sec.extend_from_slice(v);
    }
}

fn encode_typed(vals: &[&[u8]], sec: &mut Vec<u8>) {
    // Integers.
    let ints: Option<Vec<i64>> = vals.iter().map(|v| canonical_int(v)).collect();
    if let Some(ints) = ints {
        sec.push(COL_INT);
        put_ints(sec, &ints);
        return;
    }
    // Lowercase hex of one even length (ids, hashes).
    let n0 = vals[0].len();
    if n0 >= 2 && vals.iter().all(|v| v.len() == n0) {
        let mut b = Vec::with_capacity(vals.len() * n0 / 2 + 8);
        b.push(COL_HEX);
        put_uvarint(&mut b, n0 as u64);
        if vals.iter().all(|v| hex_bytes(v, &mut b)) {
            sec.extend_from_slice(&b);
            return;
        }
    }
    if encode_digits(vals, sec) {
        return;
    }
    // Dictionary.
    let limit = (vals.len() / 4).clamp(1, 65_535);
    let mut dict: HashMap<&[u8], u32, FxBuild> = HashMap::default();
    let mut fits = true;
    for v in vals {
        let n = dict.len() as u32;
        dict.entry(v).or_insert(n);
        if dict.len() > limit {
            fits = false;
            break;
        }
    }
    if fits {
        let mut words: Vec<(&[u8], u32)> = dict.iter().map(|(k, v)| (*k, *v)).collect();
        words.sort_by_key(|w| w.1);
        sec.push(COL_DICT);
        put_uvarint(sec, words.len() as u64);
        for (w, _) in &words {
            put_uvarint(sec, w.len() as u64);
            sec.extend_from_slice(w);
        }
        for v in vals {
            let i = dict[v];
            if words.len() <= 256 {
                sec.push(i as u8);
            } else {
                sec.extend_from_slice(&(i as u16).to_le_bytes());
            }
        }
        return;
    }
    put_raw(vals, sec);
}

/// Digit-layout column: every value is the same non-digit text around the same number of digit
/// runs, each run either of one fixed width in every value (leading zeros kept) or canonical
/// (no leading zeros). Layout: the texts, then per run its width (0 = canonical), the byte
/// length of its integers and the integers.
fn encode_digits(vals: &[&[u8]], sec: &mut Vec<u8>) -> bool {
    let (mut runs, mut text) = (Vec::new(), Vec::new());
    if !digit_runs(vals[0], &mut runs, &mut text) || runs.is_empty() {
        return false;
    }
    let text0: Vec<&[u8]> = text.clone();
    let runs0: Vec<&[u8]> = runs.clone();
    let nruns = runs.len();
    let mut widths: Vec<usize> = runs.iter().map(|r| r.len()).collect();
    let mut canon = vec![true; nruns];
    let mut cols: Vec<Vec<i64>> = vec![Vec::with_capacity(vals.len()); nruns];
    // Runs seen to vary so far: more than MAX_VARYING_RUNS rejects the layout (below) without
    // reading the rest of the column.
    let mut varied = vec![false; nruns];
    let mut nvaried = 0;
    for v in vals {
        if !digit_runs(v, &mut runs, &mut text)
            || runs.len() != nruns
            || !text.iter().zip(&text0).all(|(a, b)| eq_short(a, b))
        {
            return false;
        }
        for (k, r) in runs.iter().enumerate() {
            if !varied[k] && !eq_short(r, runs0[k]) {
                varied[k] = true;
                nvaried += 1;
                if nvaried > MAX_VARYING_RUNS {
                    return false;
                }
            }
            if r.len() != widths[k] {
                widths[k] = 0;
            }
            if r.len() > 1 && r[0] == b'0' {
                canon[k] = false;
            }
            let mut n = 0i64;
            for &d in r.iter() {
                n = n * 10 + (d - b'0') as i64;
            }
            cols[k].push(n);
        }
    }
    if (0..nruns).any(|k| widths[k] == 0 && !canon[k]) {
        return false;
    }
    // Runs holding one number in every value are folded into the text around them.
    let mut texts: Vec<Vec<u8>> = vec![text0[0].to_vec()];
    let mut keep = Vec::new();
    for (k, col) in cols.iter().enumerate() {
        if col.iter().all(|&x| x == col[0]) {
            let mut t = [0u8; 24];
            let d = render_int(col[0], &mut t);
            if let Some(last) = texts.last_mut() {
                last.resize(last.len() + widths[k].saturating_sub(d.len()), b'0');
                last.extend_from_slice(d);
                last.extend_from_slice(text0[k + 1]);
            }
        } else {
            keep.push(k);
            texts.push(text0[k + 1].to_vec());
        }
    }
    // One value: the dictionary holds it. More than MAX_VARYING_RUNS varying runs (IPs): each
    // costs a render per line when scans decode the chunk, more than the bytes it saves.
    if keep.is_empty() || keep.len() > MAX_VARYING_RUNS {
        return false;
    }
    sec.push(COL_DIGITS);
    put_uvarint(sec, keep.len() as u64);
    for t in &texts {
        put_uvarint(sec, t.len() as u64);
        sec.extend_from_slice(t);
    }
    let mut b = Vec::new();
    for &k in &keep {
        let col = &cols[k];
        put_uvarint(sec, widths[k] as u64);
        b.clear();
        put_ints(&mut b, col);
        put_uvarint(sec, b.len() as u64);
        sec.extend_from_slice(&b);
    }
    true
}

// ---------------------------------------------------------------------------------------------
// Decoding.

/// Decodes a sealed chunk of either format into the byte layout of [`codec::put_entries`].
/// `limit` bounds the decoded size (a corrupt header cannot make it allocate more).
pub fn decode(buf: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
    match buf.first() {
        Some(&COLUMNAR_V1) => {
            let n = Reader::new(&buf[1..]).uvarint()?;
            let mut out = Vec::with_capacity(limit.min(buf.len().saturating_mul(16)));
            put_uvarint(&mut out, n);
            let mut prev = 0i64;
            let mut put = |e: codec::RawEntry<'_>| {
                codec::put_varint(&mut out, e.ts_ns.wrapping_sub(prev));
                prev = e.ts_ns;
                put_uvarint(&mut out, e.line.len() as u64);
                out.extend_from_slice(e.line);
                put_uvarint(&mut out, e.meta_n() as u64);
                out.extend_from_slice(e.meta_bytes());
                if out.len() > limit.saturating_mul(2) {
                    return Err(bad("decoded size"));
                }
                Ok(())
            };
            decode_columnar(&buf[1..], limit, None, &mut put, &mut |_| {})?;
            Ok(out)
        }
        _ => decode_frame(buf, limit),
    }
}

/// Calls `f` with every entry of a sealed chunk of either format, in order, without building
/// the chunk's decoded bytes: a columnar chunk's lines are rebuilt one at a time into one
/// reused buffer (`f` sees each line's exact bytes, as [`decode`] would give them), a legacy
/// chunk's are walked in its decompressed frame. No allocation per line.
pub fn for_each_entry(
    buf: &[u8],
    limit: usize,
    f: &mut dyn FnMut(codec::RawEntry<'_>) -> Result<(), DecodeError>,
) -> Result<(), DecodeError> {
    for_each_entry_where(buf, limit, None, f, &mut |_| {})
}

/// [`for_each_entry`] for the entries `filter` may want: entries outside its time range are
/// skipped; entries in range that cannot contain all its needles (found on a columnar line's
/// literals and values, before the line is rebuilt) are passed to `skipped` as their line's
/// length; `f` gets the rest (which may still lack a needle: the caller's line filter
/// decides).
pub fn for_each_entry_where(
    buf: &[u8],
    limit: usize,
    filter: Option<&RowFilter>,
    f: &mut dyn FnMut(codec::RawEntry<'_>) -> Result<(), DecodeError>,
    skipped: &mut dyn FnMut(usize),
) -> Result<(), DecodeError> {
    let (start, end) = filter.map_or((i64::MIN, i64::MAX), |r| (r.start, r.end));
    match buf.first() {
        Some(&COLUMNAR_V1) => decode_columnar(&buf[1..], limit, filter, f, skipped),
        Some(&ZSTD_MAGIC0) => {
            let mut sc = Scratch::take()?;
            let res = (|| {
                let mut it = codec::RawEntries::new(sc.frame(buf, limit)?)?;
                while let Some(e) = it.next_entry()? {
                    if e.ts_ns >= start && e.ts_ns < end {
                        f(e)?;
                    }
                }
                Ok(())
            })();
            sc.give_back();
            res
        }
        _ => decode_frame(buf, limit).map(|_| ()),
    }
}

/// A legacy chunk (one zstd frame); any other first byte is an error.
fn decode_frame(buf: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
    match buf.first() {
        Some(&ZSTD_MAGIC0) => decode_legacy(buf, limit),
        Some(b) => Err(DecodeError(format!("unknown chunk format byte {b:#04x}"))),
        None => Err(bad("empty")),
    }
}

fn decode_legacy(buf: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
    let z = |e: std::io::Error| DecodeError(e.to_string());
    match zstd::zstd_safe::get_frame_content_size(buf) {
        Ok(Some(n)) if n <= limit as u64 => zstd::bulk::decompress(buf, n as usize).map_err(z),
        _ => zstd::stream::decode_all(buf).map_err(z),
    }
}

/// The next section, decompressed (`Cow::Borrowed` when stored as is).
fn read_section<'a>(
    r: &mut Reader<'a>,
    dec: &mut zstd::bulk::Decompressor<'_>,
    limit: usize,
) -> Result<std::borrow::Cow<'a, [u8]>, DecodeError> {
    let mut out = Vec::new();
    Ok(match read_section_into(r, dec, limit, &mut out)? {
        Some((s, e)) => std::borrow::Cow::Borrowed(&r.buf[s..e]),
        None => std::borrow::Cow::Owned(out),
    })
}

/// Reads the next section: `Some(range of r.buf)` when stored as is, `None` when decompressed
/// into `out` (its allocation reused).
fn read_section_into(
    r: &mut Reader<'_>,
    dec: &mut zstd::bulk::Decompressor<'_>,
    limit: usize,
    out: &mut Vec<u8>,
) -> Result<Option<(usize, usize)>, DecodeError> {
    let tag = *r.buf.get(r.pos).ok_or_else(|| bad("truncated section"))?;
    r.pos += 1;
    let n = r.uvarint()? as usize;
    if n > limit {
        return Err(bad("section larger than the chunk"));
    }
    match tag {
        0 => {
            let end = r.pos.checked_add(n).ok_or_else(|| bad("section length"))?;
            if end > r.buf.len() {
                return Err(bad("truncated section"));
            }
            let s = r.pos;
            r.pos = end;
            Ok(Some((s, end)))
        }
        1 => {
            let z = r.bytes()?;
            out.clear();
            out.reserve(n);
            dec.decompress_to_buffer(z, out)
                .map_err(|e| DecodeError(format!("corrupt columnar chunk: {e}")))?;
            if out.len() != n {
                return Err(bad("section size"));
            }
            Ok(None)
        }
        _ => Err(bad("section tag")),
    }
}

/// Zigzag varints, plain or as deltas (first byte 1), read in order.
struct Ints<'a> {
    r: Reader<'a>,
    delta: bool,
    prev: i64,
}

impl<'a> Ints<'a> {
    fn new(b: &'a [u8]) -> Result<Self, DecodeError> {
        let delta = *b.first().ok_or_else(|| bad("integers"))? == 1;
        Ok(Ints {
            r: Reader { buf: b, pos: 1 },
            delta,
            prev: 0,
        })
    }
    fn next(&mut self) -> Result<i64, DecodeError> {
        let v = self.r.varint()?;
        self.prev = if self.delta {
            self.prev.wrapping_add(v)
        } else {
            v
        };
        Ok(self.prev)
    }
}

/// A column section being read row by row (rows come in order), each value written straight
/// into the output.
enum Col<'a> {
    Raw {
        lens: Reader<'a>,
        data: &'a [u8],
        pos: usize,
    },
    Dict {
        words: Vec<&'a [u8]>,
        idx: &'a [u8],
        wide: bool,
        row: usize,
    },
    Int(Ints<'a>),
    Digits {
        text: Vec<&'a [u8]>,
        runs: Vec<(usize, Ints<'a>)>,
    },
    Hex {
        data: &'a [u8],
        nb: usize,
        row: usize,
    },
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl<'a> Col<'a> {
    fn open(sec: &'a [u8], rows: usize) -> Result<Self, DecodeError> {
        let kind = *sec.first().ok_or_else(|| bad("empty column"))?;
        let mut r = Reader { buf: sec, pos: 1 };
        Ok(match kind {
            COL_RAW => {
                let lens = r.bytes()?;
                Col::Raw {
                    lens: Reader::new(lens),
                    data: &sec[r.pos..],
                    pos: 0,
                }
            }
            COL_DICT => {
                let d = r.uvarint()? as usize;
                if d == 0 || d > 65_536 {
                    return Err(bad("dictionary size"));
                }
                let mut words = Vec::with_capacity(d);
                for _ in 0..d {
                    words.push(r.bytes()?);
                }
                let wide = d > 256;
                let idx = &sec[r.pos..];
                if idx.len() < rows.saturating_mul(if wide { 2 } else { 1 }) {
                    return Err(bad("dictionary indexes"));
                }
                Col::Dict {
                    words,
                    idx,
                    wide,
                    row: 0,
                }
            }
            COL_INT => Col::Int(Ints::new(&sec[r.pos..])?),
            COL_HEX => {
                let w = r.uvarint()? as usize;
                if w == 0 || !w.is_multiple_of(2) {
                    return Err(bad("hex width"));
                }
                Col::Hex {
                    data: &sec[r.pos..],
                    nb: w / 2,
                    row: 0,
                }
            }
            COL_DIGITS => {
                let nruns = r.uvarint()? as usize;
                if nruns == 0 || nruns > MAX_RUNS {
                    return Err(bad("digit runs"));
                }
                let mut text = Vec::with_capacity(nruns + 1);
                for _ in 0..=nruns {
                    text.push(r.bytes()?);
                }
                let mut runs = Vec::with_capacity(nruns);
                for _ in 0..nruns {
                    let w = r.uvarint()? as usize;
                    if w > 18 {
                        return Err(bad("digit width"));
                    }
                    runs.push((w, Ints::new(r.bytes()?)?));
                }
                Col::Digits { text, runs }
            }
            _ => return Err(bad("column kind")),
        })
    }

    /// Appends the next row's value to `out` (`nums`: scratch for a digit layout's runs).
    #[inline]
    fn write_next(&mut self, out: &mut Vec<u8>, nums: &mut Vec<u64>) -> Result<(), DecodeError> {
        nums.clear();
        let t = self.next_tok(nums)?;
        self.render(&t, nums, out);
        Ok(())
    }

    /// Reads the next row's value without rendering it; a digit layout's run numbers are
    /// appended to `nums`.
    #[inline]
    fn next_tok(&mut self, nums: &mut Vec<u64>) -> Result<Tok<'a>, DecodeError> {
        Ok(match self {
            Col::Raw { lens, data, pos } => {
                let n = lens.uvarint()? as usize;
                let v = pos
                    .checked_add(n)
                    .and_then(|e| data.get(*pos..e))
                    .ok_or_else(|| bad("value length"))?;
                *pos += n;
                Tok::Bytes(v)
            }
            Col::Dict {
                words,
                idx,
                wide,
                row,
            } => {
                let i = if *wide {
                    let b = idx.get(*row * 2..*row * 2 + 2).ok_or_else(|| bad("rows"))?;
                    u16::from_le_bytes([b[0], b[1]]) as usize
                } else {
                    *idx.get(*row).ok_or_else(|| bad("rows"))? as usize
                };
                *row += 1;
                Tok::Bytes(words.get(i).ok_or_else(|| bad("dictionary index"))?)
            }
            Col::Int(ints) => Tok::Int(ints.next()?),
            Col::Hex { data, nb, row } => {
                let v = data
                    .get(*row * *nb..(*row + 1) * *nb)
                    .ok_or_else(|| bad("hex values"))?;
                *row += 1;
                Tok::Hex(v)
            }
            Col::Digits { runs, .. } => {
                let at = nums.len();
                for (_, ints) in runs.iter_mut() {
                    let v = ints.next()?;
                    if v < 0 {
                        return Err(bad("digit run"));
                    }
                    nums.push(v as u64);
                }
                Tok::Digits(at)
            }
        })
    }

    /// Appends the text of a value read by [`Col::next_tok`] from this column.
    #[inline]
    fn render(&self, t: &Tok<'_>, nums: &[u64], out: &mut Vec<u8>) {
        match (t, self) {
            (Tok::Bytes(v), _) => out.extend_from_slice(v),
            (Tok::Int(x), _) => {
                if *x < 0 {
                    out.push(b'-');
                }
                render_digits(x.unsigned_abs(), 0, out);
            }
            (Tok::Hex(v), _) => {
                let at = out.len();
                out.resize(at + v.len() * 2, 0);
                for (o, &x) in out[at..].chunks_exact_mut(2).zip(v.iter()) {
                    o[0] = HEX[(x >> 4) as usize];
                    o[1] = HEX[(x & 15) as usize];
                }
            }
            (Tok::Digits(at), Col::Digits { text, runs }) => {
                if !text[0].is_empty() {
                    out.extend_from_slice(text[0]);
                }
                let xs = nums.get(*at..).unwrap_or_default();
                for (k, ((w, _), x)) in runs.iter().zip(xs).enumerate() {
                    render_digits(*x, *w, out);
                    let t = text[k + 1];
                    if !t.is_empty() {
                        out.extend_from_slice(t);
                    }
                }
            }
            // A digits token comes only from a digits column.
            (Tok::Digits(_), _) => {}
        }
    }

    /// The length of [`Col::render`]'s text for `t`, without rendering it.
    #[inline]
    fn text_len(&self, t: &Tok<'_>, nums: &[u64]) -> usize {
        match (t, self) {
            (Tok::Bytes(v), _) => v.len(),
            (Tok::Int(x), _) => digit_count(x.unsigned_abs()) + usize::from(*x < 0),
            (Tok::Hex(v), _) => v.len() * 2,
            (Tok::Digits(at), Col::Digits { text, runs }) => {
                text.iter().map(|t| t.len()).sum::<usize>()
                    + runs
                        .iter()
                        .zip(nums.get(*at..).unwrap_or_default())
                        .map(|((w, _), x)| digit_count(*x).max(*w))
                        .sum::<usize>()
            }
            (Tok::Digits(_), _) => 0,
        }
    }

    /// The first byte of [`Col::render`]'s text for `t` (`None`: empty), without rendering.
    #[inline]
    fn first_byte(&self, t: &Tok<'_>, nums: &[u64]) -> Option<u8> {
        let lead = |mut x: u64| {
            while x >= 10 {
                x /= 10;
            }
            b'0' + x as u8
        };
        match (t, self) {
            (Tok::Bytes(v), _) => v.first().copied(),
            (Tok::Int(x), _) if *x < 0 => Some(b'-'),
            (Tok::Int(x), _) => Some(lead(*x as u64)),
            (Tok::Hex(v), _) => v.first().map(|&b| HEX[(b >> 4) as usize]),
            (Tok::Digits(at), Col::Digits { text, runs }) => match text[0].first() {
                Some(&b) => Some(b),
                None => {
                    let x = *nums.get(*at)?;
                    let w = runs.first()?.0;
                    Some(if digit_count(x) < w { b'0' } else { lead(x) })
                }
            },
            (Tok::Digits(_), _) => None,
        }
    }

    /// Whether byte `b` can occur in this column's values (exact for raw columns and
    /// dictionaries, by alphabet for the typed ones).
    fn may_hold(&self, b: u8) -> bool {
        match self {
            Col::Raw { data, .. } => memchr::memchr(b, data).is_some(),
            Col::Dict { words, .. } => words.iter().any(|w| memchr::memchr(b, w).is_some()),
            Col::Int(_) => b == b'-' || b.is_ascii_digit(),
            Col::Hex { .. } => HEX.contains(&b),
            Col::Digits { text, .. } => {
                b.is_ascii_digit() || text.iter().any(|t| memchr::memchr(b, t).is_some())
            }
        }
    }
}

/// One row's value of a column, read but not rendered.
#[derive(Clone, Copy)]
enum Tok<'a> {
    /// Raw and dictionary values: their bytes.
    Bytes(&'a [u8]),
    Int(i64),
    /// Lowercase hex: the bytes it spells.
    Hex(&'a [u8]),
    /// Where the numbers of a digit layout's runs start in the row's number scratch.
    Digits(usize),
}

/// A byte string a scan requires in every line it wants (a LogQL `|=` literal), compiled to a
/// KMP automaton so it can be tested across a columnar line's literals and values without
/// rebuilding the line.
pub struct Needle {
    bytes: Vec<u8>,
    /// Next state per (state < len, byte); state `len` means found.
    delta: Vec<u16>,
}

/// Longest needle compiled (longer ones are left to the line filter).
const MAX_NEEDLE: usize = 1024;

impl Needle {
    /// `None` for an empty needle or one longer than [`MAX_NEEDLE`] bytes.
    pub fn new(bytes: &[u8]) -> Option<Needle> {
        let m = bytes.len();
        if m == 0 || m > MAX_NEEDLE {
            return None;
        }
        let mut delta = vec![0u16; m * 256];
        delta[bytes[0] as usize] = 1;
        let mut x = 0usize;
        for j in 1..m {
            let (done, rest) = delta.split_at_mut(j * 256);
            rest[..256].copy_from_slice(&done[x * 256..x * 256 + 256]);
            rest[bytes[j] as usize] = (j + 1) as u16;
            x = done[x * 256 + bytes[j] as usize] as usize;
        }
        Some(Needle {
            bytes: bytes.to_vec(),
            delta,
        })
    }

    fn found(&self) -> usize {
        self.bytes.len()
    }

    /// The state after byte `b` from state `q < found()`.
    #[inline]
    fn step(&self, q: usize, b: u8) -> usize {
        self.delta[q * 256 + b as usize] as usize
    }

    /// The state after feeding `b` from state `q` (`found()` stays found).
    #[inline]
    fn run(&self, mut q: usize, b: &[u8]) -> usize {
        let m = self.bytes.len();
        let mut i = 0;
        while i < b.len() {
            if q == m {
                return m;
            }
            if q == 0 {
                // From the start state only the first byte moves: jump to it (SIMD).
                match memchr::memchr(self.bytes[0], &b[i..]) {
                    None => return 0,
                    Some(k) => {
                        i += k + 1;
                        q = 1;
                        continue;
                    }
                }
            }
            q = self.step(q, b[i]);
            i += 1;
        }
        q
    }
}

/// What a scan knows about the lines it wants before they are rebuilt
/// ([`for_each_entry_where`]).
pub struct RowFilter<'a> {
    /// Entries with a timestamp outside `[start, end)` are skipped unseen.
    pub start: i64,
    pub end: i64,
    /// Byte strings every wanted line contains: a columnar line that lacks one is not
    /// rebuilt (found by running the needles over its shape's literals, precomputed once per
    /// chunk, and its values).
    pub needles: &'a [Needle],
}

/// The needle state after a column value from state `q`.
#[inline]
fn run_value(
    nd: &Needle,
    q: usize,
    c: &Col<'_>,
    t: &Tok<'_>,
    nums: &[u64],
    val: &mut Vec<u8>,
) -> usize {
    match t {
        Tok::Bytes(b) => nd.run(q, b),
        t => {
            val.clear();
            c.render(t, nums, val);
            nd.run(q, val)
        }
    }
}

/// Per needle and shape: for each literal `j` of the shape, the state after the literal from
/// each entering state (`(found + 1)` entries per literal).
fn literal_tables(needles: &[Needle], shapes: &[Vec<&[u8]>]) -> Vec<Vec<Vec<u16>>> {
    needles
        .iter()
        .map(|nd| {
            let k = nd.found() + 1;
            shapes
                .iter()
                .map(|lits| {
                    let mut t = Vec::with_capacity(lits.len() * k);
                    for lit in lits {
                        t.extend((0..k).map(|q| nd.run(q, lit) as u16));
                    }
                    t
                })
                .collect()
        })
        .collect()
}

fn decode_columnar(
    buf: &[u8],
    limit: usize,
    filter: Option<&RowFilter>,
    row: &mut dyn FnMut(codec::RawEntry<'_>) -> Result<(), DecodeError>,
    skipped: &mut dyn FnMut(usize),
) -> Result<(), DecodeError> {
    let mut r = Reader::new(buf);
    let n = r.uvarint()? as usize;
    let nshapes = r.uvarint()? as usize;
    if n > limit || nshapes > MAX_SHAPES {
        return Err(bad("header"));
    }
    let mut shapes: Vec<Vec<&[u8]>> = Vec::with_capacity(nshapes);
    for _ in 0..nshapes {
        let k = r.uvarint()? as usize;
        if k == 0 || k > MAX_FIELDS + 1 {
            return Err(bad("shape"));
        }
        let mut lits = Vec::with_capacity(k);
        for _ in 0..k {
            lits.push(r.bytes()?);
        }
        shapes.push(lits);
    }
    let mut sc = Scratch::take()?;
    let res = decode_sections(r, shapes, &mut sc, n, limit, filter, row, skipped);
    sc.give_back();
    res
}

/// What decoding a chunk reuses from one chunk to the next: a zstd context and the buffers
/// sections are decompressed into. Kept in a small process-wide pool rather than per thread,
/// because scans decode on short-lived scoped threads.
struct Scratch {
    dec: zstd::bulk::Decompressor<'static>,
    bufs: Vec<Vec<u8>>,
}

static SCRATCH: parking_lot::Mutex<Vec<Scratch>> = parking_lot::Mutex::new(Vec::new());
/// Scratch sets kept in the pool (a few per scan thread).
const SCRATCH_KEEP: usize = 16;
/// Bytes of buffers a pooled scratch set may keep.
const SCRATCH_BYTES: usize = 16 << 20;

impl Scratch {
    fn take() -> Result<Scratch, DecodeError> {
        if let Some(s) = SCRATCH.lock().pop() {
            return Ok(s);
        }
        Ok(Scratch {
            dec: zstd::bulk::Decompressor::new().map_err(|e| DecodeError(e.to_string()))?,
            bufs: Vec::new(),
        })
    }

    fn give_back(self) {
        let bytes: usize = self.bufs.iter().map(|b| b.capacity()).sum();
        let mut pool = SCRATCH.lock();
        if bytes <= SCRATCH_BYTES && pool.len() < SCRATCH_KEEP {
            pool.push(self);
        }
    }

    /// Decompresses the legacy chunk `buf` (one zstd frame) into buffer 0.
    fn frame(&mut self, buf: &[u8], limit: usize) -> Result<&[u8], DecodeError> {
        if self.bufs.is_empty() {
            self.bufs.push(Vec::new());
        }
        let out = &mut self.bufs[0];
        out.clear();
        match zstd::zstd_safe::get_frame_content_size(buf) {
            Ok(Some(n)) if n <= limit as u64 => {
                out.reserve(n as usize);
                self.dec
                    .decompress_to_buffer(buf, out)
                    .map_err(|e| DecodeError(e.to_string()))?;
            }
            _ => *out = decode_legacy(buf, limit)?,
        }
        Ok(&self.bufs[0])
    }
}

/// Reads a columnar chunk's sections and rebuilds its lines one at a time into one reused
/// buffer, handing each entry to `row` in order.
#[allow(clippy::too_many_arguments)]
fn decode_sections(
    mut r: Reader,
    shapes: Vec<Vec<&[u8]>>,
    sc: &mut Scratch,
    n: usize,
    limit: usize,
    filter: Option<&RowFilter>,
    row: &mut dyn FnMut(codec::RawEntry<'_>) -> Result<(), DecodeError>,
    skipped: &mut dyn FnMut(usize),
) -> Result<(), DecodeError> {
    let nshapes = shapes.len();
    // Every section: a range of `buf` (stored as is) or decompressed into a scratch buffer.
    let total = 4 + shapes.iter().map(|l| l.len() - 1).sum::<usize>();
    if sc.bufs.len() < total {
        sc.bufs.resize_with(total, Vec::new);
    }
    let mut at = Vec::with_capacity(total);
    for b in sc.bufs[..total].iter_mut() {
        at.push(read_section_into(&mut r, &mut sc.dec, limit, b)?);
    }
    if !r.done() {
        return Err(bad("trailing bytes"));
    }
    let all: Vec<&[u8]> = at
        .iter()
        .zip(&sc.bufs)
        .map(|(a, b)| match a {
            Some((s, e)) => &r.buf[*s..*e],
            None => &b[..],
        })
        .collect();
    let (ts, ids, raw, meta) = (all[0], all[1], all[2], all[3]);
    if ids.len() != n {
        return Err(bad("shape ids"));
    }
    let mut rows = vec![0usize; nshapes];
    for &s in ids.iter() {
        if s != SHAPE_RAW {
            *rows.get_mut(s as usize).ok_or_else(|| bad("shape id"))? += 1;
        }
    }
    let secs = &all[4..];
    let mut cols: Vec<Vec<Col>> = Vec::with_capacity(nshapes);
    let mut si = secs.iter();
    for (lits, &rows) in shapes.iter().zip(&rows) {
        let mut c = Vec::with_capacity(lits.len() - 1);
        for _ in 1..lits.len() {
            let sec: &[u8] = si.next().ok_or_else(|| bad("columns"))?;
            c.push(Col::open(sec, rows)?);
        }
        cols.push(c);
    }
    let mut line: Vec<u8> = Vec::with_capacity(4096);
    let mut tr = Reader::new(ts);
    let mut rr = Reader::new(raw);
    let mut mr = Reader::new(meta);
    let mut prev = 0i64;
    let (start, end, needles) = match filter {
        Some(f) => (f.start, f.end, f.needles),
        None => (i64::MIN, i64::MAX, &[][..]),
    };
    // With needles: per shape its literals' total length and state tables, per column
    // whether the needles' first bytes can occur in it; a row's values are read as tokens.
    let tables = literal_tables(needles, &shapes);
    let lit_len: Vec<usize> = shapes
        .iter()
        .map(|l| l.iter().map(|x| x.len()).sum())
        .collect();
    let holds: Vec<Vec<Vec<bool>>> = needles
        .iter()
        .map(|nd| {
            cols.iter()
                .map(|c| c.iter().map(|c| c.may_hold(nd.bytes[0])).collect())
                .collect()
        })
        .collect();
    let mut toks: Vec<Tok> = Vec::new();
    let mut nums: Vec<u64> = Vec::new();
    let mut val: Vec<u8> = Vec::with_capacity(256);
    for &s in ids.iter() {
        prev = prev.wrapping_add(tr.varint()?);
        let in_range = prev >= start && prev < end;
        let l: Option<&[u8]> = if s == SHAPE_RAW {
            let l = rr.bytes()?;
            in_range.then_some(l)
        } else if !in_range || !needles.is_empty() {
            let s = s as usize;
            let lits = &shapes[s];
            toks.clear();
            nums.clear();
            for c in cols[s].iter_mut() {
                toks.push(c.next_tok(&mut nums)?);
            }
            let found = in_range
                && needles.iter().enumerate().all(|(i, nd)| {
                    let tab = &tables[i][s];
                    let k = nd.found() + 1;
                    let mut q = tab[0] as usize;
                    for (j, (c, t)) in cols[s].iter().zip(&toks).enumerate() {
                        if q == nd.found() {
                            break;
                        }
                        let hold = holds[i][s][j];
                        if q != 0 && !hold {
                            // No byte of the value starts the needle again: once the state
                            // falls back to the start it stays there, usually on the first byte.
                            match c.first_byte(t, &nums) {
                                None => {}
                                Some(b) if nd.step(q, b) == 0 => q = 0,
                                Some(_) => q = run_value(nd, q, c, t, &nums, &mut val),
                            }
                        } else if hold {
                            q = run_value(nd, q, c, t, &nums, &mut val);
                        }
                        q = tab[(j + 1) * k + q] as usize;
                    }
                    q == nd.found()
                });
            if found {
                line.clear();
                line.extend_from_slice(lits[0]);
                for ((c, t), lit) in cols[s].iter().zip(&toks).zip(&lits[1..]) {
                    c.render(t, &nums, &mut line);
                    line.extend_from_slice(lit);
                }
                if line.len() > limit {
                    return Err(bad("decoded size"));
                }
                Some(&line)
            } else {
                if in_range {
                    let n = lit_len[s]
                        + cols[s]
                            .iter()
                            .zip(&toks)
                            .map(|(c, t)| c.text_len(t, &nums))
                            .sum::<usize>();
                    skipped(n);
                }
                None
            }
        } else {
            let s = s as usize;
            let lits = &shapes[s];
            line.clear();
            line.extend_from_slice(lits[0]);
            for (c, lit) in cols[s].iter_mut().zip(&lits[1..]) {
                c.write_next(&mut line, &mut nums)?;
                line.extend_from_slice(lit);
            }
            if line.len() > limit {
                return Err(bad("decoded size"));
            }
            Some(&line)
        };
        let m = mr.uvarint()? as usize;
        let p = mr.pos;
        for _ in 0..m.saturating_mul(2) {
            mr.bytes()?;
        }
        if let Some(l) = l {
            row(codec::RawEntry::new(prev, l, &mr.buf[p..mr.pos], m))?;
        }
    }
    Ok(())
}

/// The sections of a columnar chunk as (name, decoded bytes, stored bytes): what each column
/// costs (for the benchmark and for looking into a chunk). Legacy chunks give one section.
pub fn sections(buf: &[u8]) -> Result<Vec<(String, usize, usize)>, DecodeError> {
    if buf.first() != Some(&COLUMNAR_V1) {
        return Ok(vec![("legacy zstd frame".into(), 0, buf.len())]);
    }
    let mut r = Reader::new(&buf[1..]);
    r.uvarint()?;
    let nshapes = r.uvarint()? as usize;
    let mut names = vec![
        "timestamps".to_string(),
        "shape ids".into(),
        "raw lines".into(),
        "metadata".into(),
    ];
    let mut header = 1 + r.pos;
    for k in 0..nshapes.min(MAX_SHAPES) {
        let n = r.uvarint()? as usize;
        let mut prev = String::new();
        for j in 0..n.min(MAX_FIELDS + 1) {
            let l = r.bytes()?;
            if j > 0 {
                names.push(format!("shape {k} {prev}"));
            }
            let t = String::from_utf8_lossy(l);
            prev = t
                .chars()
                .rev()
                .take(18)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
        }
    }
    header = 1 + r.pos - header + 1;
    let mut out = vec![("header (shapes' literals)".to_string(), header, header)];
    let mut dec = zstd::bulk::Decompressor::new().map_err(|e| DecodeError(e.to_string()))?;
    for name in names {
        let p = r.pos;
        let sec = read_section(&mut r, &mut dec, 1 << 30)?;
        let kind = match (name.starts_with("shape"), sec.first()) {
            (true, Some(&COL_RAW)) => " [raw]",
            (true, Some(&COL_DICT)) => " [dict]",
            (true, Some(&COL_INT)) => " [int]",
            (true, Some(&COL_DIGITS)) => " [digits]",
            (true, Some(&COL_HEX)) => " [hex]",
            _ => "",
        };
        out.push((format!("{name}{kind}"), sec.len(), r.pos - p));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry(ts: i64, line: &str) -> LogEntry {
        LogEntry {
            ts_ns: ts,
            line: line.into(),
            metadata: vec![],
        }
    }

    /// Encodes and decodes `entries`; asserts the decoded entries equal them and returns the
    /// chunk's first byte.
    fn roundtrip(entries: &[LogEntry]) -> u8 {
        let refs: Vec<&LogEntry> = entries.iter().collect();
        let mut comp = zstd::bulk::Compressor::new(3).unwrap();
        let c = encode(&mut comp, &refs).unwrap();
        let raw = decode(&c, 1 << 30).unwrap();
        let got = codec::read_entries(&mut Reader::new(&raw)).unwrap();
        assert_eq!(got, entries);
        let mut walk = codec::RawEntries::new(&raw).unwrap();
        let mut k = 0;
        while let Some(e) = walk.next_entry().unwrap() {
            assert_eq!(e.line, entries[k].line.as_bytes());
            k += 1;
        }
        assert_eq!(k, entries.len());
        c[0]
    }

    #[test]
    fn json_lines_go_columnar_and_roundtrip() {
        let mut e = Vec::new();
        for i in 0..200i64 {
            e.push(entry(
                1_700_000_000_000_000_000 + i * 1_000_000,
                &format!(
                    r#"{{"@timestamp":"2023-11-14T22:13:{:02}.{:03}Z","level":"{}","status":{},"duration":{},"ip":"10.0.{}.{}","id":"{:016x}","u":"user-{}","n":{{"a":[1,2,"x\"y"]}},"f":1.50,"z":-0,"b":true}}"#,
                    i % 60,
                    (i * 37) % 1000,
                    ["info", "warn", "error"][i as usize % 3],
                    200 + i % 3,
                    i * 7919 % 3000,
                    i % 256,
                    (i * 13) % 256,
                    (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
                    i * 31 % 10_000,
                ),
            ));
            if i % 17 == 0 {
                e.push(entry(e.last().unwrap().ts_ns, "plain text line"));
            }
            if i % 23 == 0 {
                e.last_mut().unwrap().metadata = vec![("trace_id".into(), format!("t{i}"))];
            }
        }
        // Other spacing, key order and number text: other shapes, exact bytes kept.
        e.push(entry(5, r#"{ "level" : "info", "status" : 007 }"#));
        e.push(entry(6, r#"{"status":200,"level":"info"}"#));
        e.push(entry(7, "{\"a\":\"\\u00e9\\n\",\"b\":1e5}"));
        assert_eq!(roundtrip(&e), COLUMNAR_V1);
    }

    #[test]
    fn typed_columns_keep_exact_text() {
        for (vals, kind) in [
            (vec![&b"007"[..], b"012", b"120", b"999"], COL_DIGITS),
            (vec![&b"v1.2"[..], b"v10.0", b"v0.33", b"v7.1"], COL_DIGITS),
            (vec![&b"-0"[..], b"-1", b"12", b"0012"], COL_RAW),
            (vec![&b"0a"[..], b"ff", b"10", b"0b"], COL_HEX),
            (vec![&b"12"[..], b"-3", b"0", b"4"], COL_INT),
        ] {
            let mut sec = Vec::new();
            encode_column(&vals, &mut sec);
            assert_eq!(sec[0], kind, "{vals:?}");
            assert!(column_reads_back(&sec, &vals));
        }
        assert_eq!(canonical_int(b"-0"), None);
        assert_eq!(canonical_int(b"01"), None);
        assert_eq!(canonical_int(b"-120"), Some(-120));
        assert_eq!(canonical_int(b"0"), Some(0));
    }

    #[test]
    fn plain_text_chunks_keep_the_legacy_format() {
        let e: Vec<LogEntry> = (0..50).map(|i| entry(i, &format!("line {i}"))).collect();
        assert_eq!(roundtrip(&e), ZSTD_MAGIC0);
    }

    #[test]
    fn legacy_chunks_still_read() {
        let e: Vec<LogEntry> = (0..20)
            .map(|i| entry(i, &format!("{{\"a\":{i}}}")))
            .collect();
        let refs: Vec<&LogEntry> = e.iter().collect();
        let mut comp = zstd::bulk::Compressor::new(3).unwrap();
        let c = encode_legacy(&mut comp, &refs).unwrap();
        let raw = decode(&c, 1 << 30).unwrap();
        assert_eq!(codec::read_entries(&mut Reader::new(&raw)).unwrap(), e);
        assert!(decode(&[0x77, 1, 2], 1 << 20).is_err());
    }

    fn json_value() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<i64>().prop_map(|n| n.to_string()),
            "-?0[0-9]{0,3}(\\.[0-9]{1,3})?(e[+-]?[0-9])?",
            "(true|false|null)",
            "\"[a-z0-9 .:/\\-]{0,12}\"",
            "\"(\\\\[\"\\\\nt]|\\\\u00[0-9a-f]{2}|[^\"\\\\]){0,8}\"",
            "\"[0-9a-f]{0,4}\"",
            "\"(10|192)\\.[0-9]{1,3}\\.0{0,2}[0-9]{1,3}\"",
            "\"2023-11-1[0-9]T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?Z\"",
            "\\{\"x\":\\[[0-9],\"[\\]\\}a]\"\\]\\}",
        ]
    }

    fn json_line() -> impl Strategy<Value = String> {
        (
            proptest::collection::vec(("[a-c]{1,2}", json_value()), 1..5),
            "( ?)",
            "( ?)",
        )
            .prop_map(|(kv, sp1, sp2)| {
                let body: Vec<String> = kv
                    .iter()
                    .map(|(k, v)| format!("\"{k}\"{sp1}:{sp2}{v}"))
                    .collect();
                format!("{{{}}}", body.join(&format!(",{sp2}")))
            })
    }

    fn any_line() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => json_line(),
            1 => ".{0,30}",
            1 => "\\{[\"a-c:,0-9 \\}\\{\\[\\]\\\\]{0,20}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn random_lines_roundtrip(
            template in proptest::collection::vec(any_line(), 1..6),
            picks in proptest::collection::vec((0usize..6, json_value(), 0i64..1000), 1..120),
        ) {
            // Lines drawn from a few templates (values swapped) so that shapes repeat.
            let mut e = Vec::new();
            let mut ts = 0i64;
            for (k, v, dt) in picks {
                let t = &template[k % template.len()];
                let line = match t.rfind(':') {
                    Some(p) if t.ends_with('}') && k % 2 == 0 => format!("{}:{v}}}", &t[..p]),
                    _ => t.clone(),
                };
                ts += dt;
                e.push(entry(ts, &line));
            }
            // Repeat so that shapes reach MIN_SHAPE_LINES.
            let n = e.len();
            for i in 0..n * 3 {
                let mut x = e[i % n].clone();
                x.ts_ns += 1000 + i as i64;
                e.push(x);
            }
            roundtrip(&e);
        }

        /// The scan's path (lines rebuilt one at a time by `for_each_entry`, tested with the
        /// compiled prefilter over bytes) keeps exactly the lines the slow path keeps (every
        /// stage's `line_filter_matches` over the original `&str`), for `|=`, `!=`, `|~`, `!~`
        /// with needles cut from the lines themselves (so they span literal/value boundaries),
        /// empty needles, unicode, case-insensitive and literal-prefix regexes.
        #[test]
        fn streamed_filters_keep_what_the_slow_path_keeps(
            template in proptest::collection::vec(any_line(), 1..5),
            picks in proptest::collection::vec((0usize..5, json_value()), 1..40),
            filters in proptest::collection::vec(
                (0u8..6, 0usize..64, 0usize..1000, 0usize..12, "(|é|ü|[aA]|\\\\|\")"),
                1..4,
            ),
            range in (-10i64..3000, 0i64..4000),
        ) {
            let mut e = Vec::new();
            for (i, (k, v)) in picks.iter().enumerate() {
                let t = &template[k % template.len()];
                let line = match t.rfind(':') {
                    Some(p) if t.ends_with('}') && k % 2 == 0 => format!("{}:{v}}}", &t[..p]),
                    _ => t.clone(),
                };
                e.push(entry(i as i64, &line));
            }
            let n = e.len();
            for i in 0..n * 3 {
                let mut x = e[i % n].clone();
                x.ts_ns += 1000 + i as i64;
                e.push(x);
            }
            let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
            let mut stages = Vec::new();
            for (op, li, at, len, extra) in &filters {
                // A piece of one of the lines (on char boundaries), or an extra needle.
                let l = &e[li % e.len()].line;
                let chars: Vec<char> = l.chars().collect();
                let a = at % (chars.len() + 1);
                let b = (a + len).min(chars.len());
                let cut: String = chars[a..b].iter().collect();
                let needle = if len % 5 == 4 { extra.clone() } else { cut };
                stages.push(match op {
                    0 => format!("|= {}", quote(&needle)),
                    1 => format!("!= {}", quote(&needle)),
                    2 => format!("|~ {}", quote(&format!("(?i){}", regex::escape(&needle)))),
                    3 => format!("!~ {}", quote(&regex::escape(&needle))),
                    4 => format!("|~ {}", quote(&format!("{}.*", regex::escape(&needle)))),
                    _ => format!("!= {} or {}", quote(&needle), quote(extra)),
                });
            }
            let q = format!("{{a=\"b\"}} {}", stages.join(" "));
            let sel = match crate::logql::parse(&q) {
                Ok(crate::logql::ast::Expr::Log(sel)) => sel,
                other => panic!("{q}: {other:?}"),
            };
            let pre = crate::logql::pipeline::LinePrefilter::new(&sel.stages).unwrap();
            prop_assert_eq!(pre.len(), sel.stages.len());
            let refs: Vec<&LogEntry> = e.iter().collect();
            let mut comp = zstd::bulk::Compressor::new(3).unwrap();
            for c in [encode(&mut comp, &refs).unwrap(), encode_legacy(&mut comp, &refs).unwrap()] {
                let mut fast = Vec::new();
                for_each_entry(&c, 1 << 30, &mut |x| {
                    if pre.matches(x.line) {
                        fast.push(x.to_entry()?);
                    }
                    Ok(())
                })
                .unwrap();
                let slow: Vec<LogEntry> = e
                    .iter()
                    .filter(|x| {
                        sel.stages.iter().all(|st| match st {
                            crate::logql::ast::Stage::Line(f) => {
                                crate::logql::pipeline::line_filter_matches(f, &x.line)
                            }
                            _ => true,
                        })
                    })
                    .cloned()
                    .collect();
                prop_assert_eq!(&fast, &slow, "{} (format byte {:#x})", q, c[0]);
                // The store's path: a time range and the `|=` needles checked before a line
                // is rebuilt; the lines kept and the lines/bytes counted in range are the same.
                let needles: Vec<Needle> =
                    pre.required().iter().filter_map(|n| Needle::new(n)).collect();
                let (lo, hi) = (range.0, range.0 + range.1);
                let rf = RowFilter { start: lo, end: hi, needles: &needles };
                let (mut fast, mut n, mut bytes) = (Vec::new(), 0usize, 0usize);
                let (mut skipped_n, mut skipped_bytes) = (0usize, 0usize);
                for_each_entry_where(
                    &c,
                    1 << 30,
                    Some(&rf),
                    &mut |x| {
                        n += 1;
                        bytes += x.line.len();
                        if pre.matches(x.line) {
                            fast.push(x.to_entry()?);
                        }
                        Ok(())
                    },
                    &mut |len| {
                        skipped_n += 1;
                        skipped_bytes += len;
                    },
                )
                .unwrap();
                let (n, bytes) = (n + skipped_n, bytes + skipped_bytes);
                let in_range = |x: &&LogEntry| x.ts_ns >= lo && x.ts_ns < hi;
                prop_assert_eq!(n, e.iter().filter(in_range).count());
                prop_assert_eq!(bytes, e.iter().filter(in_range).map(|x| x.line.len()).sum::<usize>());
                let slow: Vec<LogEntry> = slow.iter().filter(in_range).cloned().collect();
                prop_assert_eq!(&fast, &slow, "{} in [{}, {}) (format byte {:#x})", q, lo, hi, c[0]);
            }
        }

        /// The needle automaton fed a haystack in arbitrary pieces (as literals and values
        /// come) finds the needle exactly where memchr's substring search does.
        #[test]
        fn needle_automaton_agrees_with_substring_search(
            hay in "[ab\"x:]{0,40}",
            needle in "[ab\"x:]{1,6}",
            cuts in proptest::collection::vec(0usize..41, 0..6),
        ) {
            let nd = Needle::new(needle.as_bytes()).unwrap();
            let h = hay.as_bytes();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(h.len())).collect();
            cuts.sort_unstable();
            let mut q = 0;
            let mut at = 0;
            for c in cuts.into_iter().chain([h.len()]) {
                q = nd.run(q, &h[at..c]);
                at = c;
            }
            let want = memchr::memmem::find(h, needle.as_bytes()).is_some();
            prop_assert_eq!(q == nd.found(), want);
        }

        #[test]
        fn columns_roundtrip(vals in proptest::collection::vec(json_value(), 1..40)) {
            let vals: Vec<Vec<u8>> = vals.iter().map(|v| v.trim_matches('"').as_bytes().to_vec()).collect();
            let refs: Vec<&[u8]> = vals.iter().map(|v| v.as_slice()).collect();
            let mut sec = Vec::new();
            encode_column(&refs, &mut sec);
            prop_assert!(column_reads_back(&sec, &refs));
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut b = bytes.clone();
            if let Some(x) = b.first_mut() {
                *x = COLUMNAR_V1;
            }
            let _ = decode(&b, 1 << 20);
            let _ = decode(&bytes, 1 << 20);
            let _ = for_each_entry(&b, 1 << 20, &mut |e| e.to_entry().map(|_| ()).map_err(Into::into));
            let _ = for_each_entry(&bytes, 1 << 20, &mut |_| Ok(()));
        }
    }

    /// A data directory written in the legacy chunk format reads after the upgrade, next to
    /// columnar chunks written afterwards.
    #[test]
    fn store_reads_legacy_and_columnar_chunks() {
        use model::{Direction, LabelMatcher, Labels, LogQueryable, LogSink, LogStream, MatchOp};
        let d = tempfile::tempdir().unwrap();
        let opts = |columnar| {
            let mut o = crate::LogStoreOptions {
                background: false,
                fsync: false,
                columnar_chunks: columnar,
                ..Default::default()
            };
            o.limits.reject_old_samples = false;
            o
        };
        let batch = |from: i64| LogStream {
            labels: Labels::from_pairs([("app", "a")]),
            entries: (from..from + 50)
                .map(|i| entry(i, &format!("{{\"i\":{i},\"msg\":\"m{}\"}}", i % 3)))
                .collect(),
        };
        let mut want = Vec::new();
        for (round, columnar) in [(0, false), (1, true)] {
            let s = crate::LogStore::open(d.path(), opts(columnar)).unwrap();
            let b = batch(round * 1000 + 1);
            want.extend(b.entries.iter().map(|e| e.line.clone()));
            s.push("t", vec![b]).unwrap();
            s.flush().unwrap();
        }
        let first_bytes: Vec<u8> = std::fs::read_dir(d.path().join("chunks"))
            .unwrap()
            .filter_map(|e| {
                let p = e.unwrap().path();
                (p.extension()? == "seg").then(|| std::fs::read(p).unwrap()[0])
            })
            .collect();
        assert!(first_bytes.contains(&ZSTD_MAGIC0) && first_bytes.contains(&COLUMNAR_V1));
        let s = crate::LogStore::open(d.path(), opts(true)).unwrap();
        let m = [LabelMatcher::new("app", MatchOp::Equal, "a").unwrap()];
        let mut got = Vec::new();
        s.scan("t", &m, 0, i64::MAX, Direction::Forward, &mut |_, e| {
            got.push(e.line.clone());
            true
        })
        .unwrap();
        assert_eq!(got, want);
    }

    #[test]
    fn corrupt_columnar_chunks_are_errors() {
        let e: Vec<LogEntry> = (0..40)
            .map(|i| entry(i, &format!("{{\"a\":{i},\"b\":\"x{}\"}}", i % 3)))
            .collect();
        let refs: Vec<&LogEntry> = e.iter().collect();
        let mut comp = zstd::bulk::Compressor::new(3).unwrap();
        let c = encode(&mut comp, &refs).unwrap();
        assert_eq!(c[0], COLUMNAR_V1);
        for cut in 1..c.len() {
            assert!(decode(&c[..cut], 1 << 20).is_err());
            assert!(for_each_entry(&c[..cut], 1 << 20, &mut |_| Ok(())).is_err());
        }
        for i in 1..c.len() {
            let mut d = c.clone();
            d[i] ^= 0x55;
            let _ = decode(&d, 1 << 20);
        }
    }
}
