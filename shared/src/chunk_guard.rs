//! A check of untrusted automerge bytes before automerge itself parses them.
//!
//! automerge 0.12 trusts sizes written inside its binary format in two places, so a few
//! hundred hostile bytes can make it allocate gigabytes (found by fuzzing, see
//! `fuzz/regressions/`), which no `catch_unwind` can contain: the allocator aborts the
//! process. The two places are the *bundle* chunk (type 3), whose parser expands delta
//! encoded columns to a declared length, and deflate: a compressed change chunk, or a
//! compressed column of a document chunk, is inflated without a limit (a 1 MiB frame can
//! inflate to about a gigabyte).
//!
//! Sync peers never need bundles (automerge sends changes, compressed changes or a whole
//! document), so this module walks the chunks of a byte string, refuses bundles and unknown
//! chunk types, and inflates every compressed part into a bounded sink to check that it
//! stays under a limit. It does not otherwise validate: automerge does that afterwards.

use std::io::Read;

/// The four bytes every automerge chunk starts with.
const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];

/// Why bytes were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// Not a sequence of well-formed chunk headers.
    #[error("malformed automerge data: {0}")]
    Malformed(&'static str),
    /// A chunk type peers may not send.
    #[error("automerge chunk type {0} is not accepted")]
    ChunkType(u8),
    /// Compressed data that inflates beyond the limit.
    #[error("compressed automerge data inflates beyond {limit} bytes")]
    TooLarge {
        /// The limit, bytes.
        limit: usize,
    },
}

/// A cursor over the bytes, with the reads the chunk format needs.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: u64) -> Result<&'a [u8], Refused> {
        let n = usize::try_from(n).map_err(|_| Refused::Malformed("length out of range"))?;
        if n > self.bytes.len() {
            return Err(Refused::Malformed("a length runs past the end"));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    /// An unsigned LEB128 number of at most 64 bits.
    fn uleb(&mut self) -> Result<u64, Refused> {
        let mut value: u64 = 0;
        for shift in (0..64).step_by(7) {
            let [byte, rest @ ..] = self.bytes else {
                return Err(Refused::Malformed("a number runs past the end"));
            };
            self.bytes = rest;
            let low = u64::from(byte & 0x7f);
            if shift == 63 && low > 1 {
                return Err(Refused::Malformed("a number overflows 64 bits"));
            }
            value |= low << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(Refused::Malformed("a number overflows 64 bits"))
    }

    /// A count of items at least `item_size` bytes each, so a count cannot claim more
    /// items than the bytes left could hold.
    fn count(&mut self, item_size: u64) -> Result<u64, Refused> {
        let n = self.uleb()?;
        if n.saturating_mul(item_size.max(1)) > self.bytes.len() as u64 {
            return Err(Refused::Malformed("a count exceeds the data"));
        }
        Ok(n)
    }
}

/// Inflates `data` into a sink that stops at `budget` bytes; returns the inflated size.
fn inflated_size(data: &[u8], budget: usize) -> Result<usize, Refused> {
    let mut decoder = flate2::bufread::DeflateDecoder::new(data).take(budget as u64 + 1);
    let size = std::io::copy(&mut decoder, &mut std::io::sink())
        .map_err(|_| Refused::Malformed("invalid deflate data"))?;
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    if size > budget {
        return Err(Refused::TooLarge { limit: budget });
    }
    Ok(size)
}

/// Checks the compressed columns of a document chunk's body against `budget`; returns
/// the bytes they inflate to.
fn document_columns(body: &[u8], budget: usize) -> Result<usize, Refused> {
    let mut r = Reader { bytes: body };
    // Actors (length-prefixed byte strings), then heads (32-byte hashes).
    for _ in 0..r.count(1)? {
        let len = r.uleb()?;
        r.take(len)?;
    }
    let heads = r.count(32)?;
    r.take(heads * 32)?;
    // The change columns' and the op columns' (spec, length) lists, then their data in
    // that order.
    let mut columns = Vec::new();
    for _ in 0..2 {
        for _ in 0..r.count(2)? {
            let spec = r.uleb()?;
            let len = r.uleb()?;
            columns.push((spec & 0b1000 != 0, len));
        }
    }
    let mut used = 0usize;
    for (deflated, len) in columns {
        let data = r.take(len)?;
        if deflated {
            used += inflated_size(data, budget - used)?;
        }
    }
    Ok(used)
}

/// Checks a byte string of concatenated automerge chunks (what a sync message carries per
/// change, or what `load_incremental` reads): only documents, changes and compressed
/// changes, and all compressed parts together inflating to at most `max_inflated` bytes.
/// Returns how many bytes the compressed parts inflate to.
pub fn check(bytes: &[u8], max_inflated: usize) -> Result<usize, Refused> {
    let mut r = Reader { bytes };
    let mut used = 0usize;
    if bytes.is_empty() {
        return Err(Refused::Malformed("no data"));
    }
    while !r.bytes.is_empty() {
        if r.take(4)? != MAGIC {
            return Err(Refused::Malformed("not an automerge chunk"));
        }
        r.take(4)?; // The checksum, which automerge verifies.
        let kind = r.take(1)?[0];
        let len = r.uleb()?;
        let body = r.take(len)?;
        match kind {
            // A change: automerge's parser is incremental over these bytes.
            1 => {}
            0 => used += document_columns(body, max_inflated - used)?,
            2 => used += inflated_size(body, max_inflated - used)?,
            other => return Err(Refused::ChunkType(other)),
        }
    }
    Ok(used)
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, ROOT};

    use super::*;

    const LIMIT: usize = 1 << 20;

    fn doc_with_text(n: usize) -> AutoCommit {
        let mut doc = AutoCommit::new();
        for i in 0..n {
            doc.put(ROOT, format!("k{i}"), "x".repeat(64))
                .expect("puts");
        }
        doc
    }

    #[test]
    fn what_automerge_writes_passes() {
        let mut doc = doc_with_text(300);
        // A whole document (with compressed columns at this size), and each change.
        let saved = doc.save();
        let inflated = check(&saved, LIMIT).expect("passes");
        assert!(inflated > 0, "the document has compressed columns");
        for change in doc.get_changes(&[]) {
            assert_eq!(check(change.raw_bytes(), LIMIT), Ok(0));
        }
        // A compressed change, as automerge stores large ones.
        let mut big = doc_with_text(0);
        big.put(ROOT, "big", "y".repeat(10_000)).expect("puts");
        let mut change = big.get_changes(&[])[0].clone();
        let compressed = change.bytes().into_owned();
        assert_eq!(compressed[8], 2, "a compressed change chunk");
        assert!(check(&compressed, LIMIT).expect("passes") > 10_000);
        // Several chunks in one byte string, as `save_after` writes them.
        let mut both = saved.clone();
        both.extend_from_slice(&compressed);
        assert!(check(&both, LIMIT).expect("passes") > inflated);
    }

    #[test]
    fn the_fuzzers_out_of_memory_inputs_are_refused() {
        for input in [
            &include_bytes!("../../fuzz/regressions/automerge-change-oom.bin")[..],
            &include_bytes!("../../fuzz/regressions/automerge-load-oom.bin")[..],
        ] {
            assert_eq!(check(input, LIMIT), Err(Refused::ChunkType(3)));
        }
    }

    #[test]
    fn a_deflate_bomb_is_refused() {
        // 16 MiB of zeros deflate to about 16 KiB.
        let mut encoder =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut encoder, &vec![0u8; 16 << 20]).expect("compresses");
        let body = encoder.finish().expect("compresses");
        let mut chunk = MAGIC.to_vec();
        chunk.extend_from_slice(&[0, 0, 0, 0, 2]);
        let mut len = body.len();
        loop {
            let byte = (len & 0x7f) as u8;
            len >>= 7;
            if len == 0 {
                chunk.push(byte);
                break;
            }
            chunk.push(byte | 0x80);
        }
        chunk.extend_from_slice(&body);
        assert_eq!(
            check(&chunk, LIMIT),
            Err(Refused::TooLarge { limit: LIMIT })
        );
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        assert!(matches!(check(b"", LIMIT), Err(Refused::Malformed(_))));
        assert!(matches!(check(b"hello", LIMIT), Err(Refused::Malformed(_))));
        let mut truncated = doc_with_text(3).save();
        truncated.truncate(truncated.len() - 1);
        assert!(matches!(
            check(&truncated, LIMIT),
            Err(Refused::Malformed(_))
        ));
        let mut huge_len = MAGIC.to_vec();
        huge_len.extend_from_slice(&[0, 0, 0, 0, 1]);
        huge_len.extend_from_slice(&[0xff; 10]);
        assert!(matches!(
            check(&huge_len, LIMIT),
            Err(Refused::Malformed(_))
        ));
    }
}
