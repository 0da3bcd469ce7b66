//! Test support for the fuzz campaign (bench/fuzz.sh): the execution count each property test
//! runs and one mutation routine that turns a valid sample input into a damaged one (bit flips,
//! byte overwrites, insertions, deletions, truncations, duplicated spans). Used only by the
//! crates' `fuzz_tests` modules; nothing in the server calls it.

/// Executions per property test: `FUZZ_EXECS`, else `PROPTEST_CASES`, else `default` (small, so
/// the unit-test stage stays fast). Long mode: `FUZZ_EXECS=10000000 bench/fuzz.sh`.
pub fn cases(default: u32) -> u32 {
    ["FUZZ_EXECS", "PROPTEST_CASES"]
        .iter()
        .find_map(|k| std::env::var(k).ok()?.trim().parse::<u32>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

/// Bytes that often sit on a parser's decision points: delimiters, quotes, escapes, protobuf
/// wire-type and varint edges, UTF-8 lead bytes.
const INTERESTING: &[u8] = b"\0\x01\x7f\x80\xff\xc3\xe2\n\r\t \"'\\{}[]()<>=!~:,;|#.-+0_eE";

/// Applies `edits` (each `(position, value, kind)`, as drawn by
/// `proptest::collection::vec(any::<(usize, u8, u8)>(), 1..8)`) to a copy of `seed`.
/// Positions wrap around the current length, so every edit lands somewhere.
pub fn mutate(seed: &[u8], edits: &[(usize, u8, u8)]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for &(pos, val, kind) in edits {
        let n = b.len();
        let at = if n == 0 { 0 } else { pos % n };
        match kind % 7 {
            0 if n > 0 => b[at] ^= 1 << (val % 8),
            1 if n > 0 => b[at] = val,
            2 => b.insert(at, val),
            3 if n > 0 => {
                b.remove(at);
            }
            4 => b.truncate(at),
            5 if n > 0 => {
                let end = (at + 1 + usize::from(val % 32)).min(n);
                let span = b[at..end].to_vec();
                let to = pos.wrapping_mul(31) % (n + 1);
                b.splice(to..to, span);
            }
            _ => b.insert(at, INTERESTING[usize::from(val) % INTERESTING.len()]),
        }
    }
    b
}

/// [`mutate`] for text parsers: the damaged bytes read back as UTF-8 (invalid sequences
/// replaced), since those parsers take `&str`.
pub fn mutate_str(seed: &str, edits: &[(usize, u8, u8)]) -> String {
    String::from_utf8_lossy(&mutate(seed.as_bytes(), edits)).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_land_and_never_panic() {
        assert_eq!(mutate(b"", &[]), b"");
        assert_eq!(mutate(b"abc", &[(1, 0, 4)]), b"a");
        assert_eq!(mutate(b"abc", &[(4, b'x', 1)]), b"axc");
        for kind in 0..=255u8 {
            for pos in [0, 1, 7, usize::MAX] {
                let _ = mutate(b"", &[(pos, kind, kind)]);
                let _ = mutate(b"{\"a\":1}", &[(pos, kind.wrapping_mul(7), kind)]);
            }
        }
        assert_eq!(mutate_str("ab", &[(0, 0xff, 1)]), "\u{fffd}b");
    }
}
