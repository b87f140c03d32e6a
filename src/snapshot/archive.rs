//! The snapshot archive of `kip snapshot export|import`: what it holds and
//! how it is read and written, apart from the engine (which only a helper
//! container reaches).
//!
//! DESIGN
//! - gzip (flate2, pure Rust: already in Cargo.lock through the test
//!   stack's emulator) of one tar stream: first the entry
//!   `kip-snapshot.json` ([`Header`]: the format and the snapshot's
//!   metadata), so an import refuses a foreign archive, a taken name or an
//!   image this engine lacks before anything is made; then the helper's tar
//!   of the snapshot volume (`data/`, and `layers/` when the snapshot
//!   mounts a seed: the seed's layers are put in, so the archive restores on
//!   an engine that has no such seed) as GNU tar wrote it, with overlay2's
//!   xattrs. kip writes its entry and copies the helper's bytes after it:
//!   one tar, no second parse of the data.
//! - Level 1 (`Compression::fast`): a snapshot is mostly compressed image
//!   layers, on which higher levels gain little and cost minutes.
//! - Integrity: gzip's CRC-32 and length of the whole tar, checked when the
//!   reader reaches the end, plus nothing allowed after the gzip member. A
//!   truncated or corrupted archive fails there at the latest; an import
//!   then removes the volume it was filling (its metadata, written last,
//!   was never written).

use super::Metadata;
use serde::{Deserialize, Serialize};
use std::io::{self, BufRead, Read, Write};

/// The archive's first entry.
pub const HEADER_ENTRY: &str = "kip-snapshot.json";
/// What that entry says the archive is.
pub const FORMAT: &str = "kip-snapshot-archive/1";
/// A header larger than this is not kip's.
const HEADER_LIMIT: u64 = 1 << 20;

/// The archive's first entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Header {
    pub format: String,
    pub metadata: Metadata,
    /// The seed's layers carried under `layers/` (their IDs): an import
    /// puts each at `data/overlay2/ID/diff`, and the imported snapshot
    /// mounts no seed.
    pub seed_layers: bool,
}

/// Why an archive is refused (exit 3 with the archive's name).
#[derive(Debug)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// The tar entry (header block, JSON, padding) that opens an archive.
pub fn header_entry(header: &Header) -> io::Result<Vec<u8>> {
    let json = serde_json::to_vec(header)?;
    let mut block = tar::Header::new_gnu();
    block.set_path(HEADER_ENTRY)?;
    block.set_size(json.len() as u64);
    block.set_mode(0o644);
    block.set_entry_type(tar::EntryType::Regular);
    block.set_cksum();
    let mut entry = block.as_bytes().to_vec();
    entry.extend_from_slice(&json);
    entry.resize(entry.len().div_ceil(512) * 512, 0);
    Ok(entry)
}

/// Reads the opening entry from the decompressed tar: the header, or why
/// this is not a kip snapshot archive.
pub fn read_header(tar: &mut impl Read) -> Result<Header, Refused> {
    let mut block = [0u8; 512];
    let mut filled = 0;
    while filled < block.len() {
        match tar.read(&mut block[filled..]) {
            // A whole gzip stream (its checksum right) shorter than a tar
            // header: not kip's. A cut one fails in the read instead.
            Ok(0) => return Err(Refused("it holds too little to be kip's".into())),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(refused_read(&e)),
        }
    }
    let entry = tar::Header::from_byte_slice(&block);
    let path = entry.path_bytes();
    let size = entry.entry_size().unwrap_or(u64::MAX);
    if entry.cksum().is_err() || path.as_ref() != HEADER_ENTRY.as_bytes() || size > HEADER_LIMIT {
        return Err(Refused(format!(
            "it does not begin with {HEADER_ENTRY} (not made by `kip snapshot export`)"
        )));
    }
    let mut json = vec![0; size as usize];
    tar.read_exact(&mut json).map_err(|e| refused_read(&e))?;
    let padding = (512 - size % 512) % 512;
    io::copy(&mut tar.take(padding), &mut io::sink()).map_err(|e| refused_read(&e))?;
    let header: Header = serde_json::from_slice(&json)
        .map_err(|e| Refused(format!("its {HEADER_ENTRY} is not kip's ({e})")))?;
    if header.format != FORMAT {
        return Err(Refused(format!(
            "it is a {:?} archive; this kip reads {FORMAT:?}",
            header.format
        )));
    }
    Ok(header)
}

/// A read error in words: a cut archive, bad gzip, a failed read.
pub fn refused_read(e: &io::Error) -> Refused {
    Refused(match e.kind() {
        io::ErrorKind::UnexpectedEof => "it ends early (truncated)".to_string(),
        io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData => {
            format!("it is corrupted or not gzip ({e})")
        }
        _ => format!("it cannot be read ({e})"),
    })
}

/// The gzip reader of an archive (over a buffered reader, which keeps
/// what follows the gzip member for [`nothing_after`]).
pub fn decoder<R: BufRead>(archive: R) -> flate2::bufread::GzDecoder<R> {
    flate2::bufread::GzDecoder::new(archive)
}

/// After the decoder's end (its checksum checked): nothing may follow.
pub fn nothing_after<R: BufRead>(decoder: flate2::bufread::GzDecoder<R>) -> Result<(), Refused> {
    let mut rest = decoder.into_inner();
    let mut byte = [0u8; 1];
    match rest.read(&mut byte) {
        Ok(0) => Ok(()),
        Ok(_) => Err(Refused(
            "data follows its end (two archives joined, or not kip's)".into(),
        )),
        Err(e) => Err(refused_read(&e)),
    }
}

/// The gzip writer of an archive.
pub fn encoder<W: Write>(out: W) -> flate2::write::GzEncoder<W> {
    flate2::write::GzEncoder::new(out, flate2::Compression::fast())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            format: FORMAT.into(),
            metadata: crate::snapshot::sample_metadata(),
            seed_layers: false,
        }
    }

    /// An archive as export writes it: the header, then `body` (a tar).
    fn archive(body: &[u8]) -> Vec<u8> {
        let mut gz = encoder(Vec::new());
        gz.write_all(&header_entry(&header()).unwrap()).unwrap();
        gz.write_all(body).unwrap();
        gz.finish().unwrap()
    }

    fn body() -> Vec<u8> {
        let mut tar = tar::Builder::new(Vec::new());
        let data = vec![7u8; 100_000];
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_cksum();
        tar.append_data(&mut h, "data/file", data.as_slice())
            .unwrap();
        tar.into_inner().unwrap()
    }

    /// Reads it as import does: the header, the rest, the end.
    fn read_all(bytes: &[u8]) -> Result<(Header, Vec<u8>), Refused> {
        let mut gz = decoder(bytes);
        let header = read_header(&mut gz)?;
        let mut rest = Vec::new();
        gz.read_to_end(&mut rest).map_err(|e| refused_read(&e))?;
        nothing_after(gz)?;
        Ok((header, rest))
    }

    #[test]
    fn an_archive_reads_back_as_its_header_then_one_tar_of_both() {
        let bytes = archive(&body());
        let (read, rest) = read_all(&bytes).unwrap_or_else(|r| panic!("{}", r.0));
        assert_eq!(read, header());
        assert_eq!(rest, body());
        // One tar: a tar reader sees kip's entry, then the body's.
        let mut gz = decoder(bytes.as_slice());
        let mut all = Vec::new();
        gz.read_to_end(&mut all).unwrap();
        let names: Vec<String> = tar::Archive::new(all.as_slice())
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(names, [HEADER_ENTRY, "data/file"]);
    }

    #[test]
    fn a_truncated_archive_is_refused_wherever_it_is_cut() {
        let bytes = archive(&body());
        for cut in [5, 40, bytes.len() / 2, bytes.len() - 4, bytes.len() - 1] {
            let refused = read_all(&bytes[..cut]).err();
            let why = refused
                .unwrap_or_else(|| panic!("cut at {cut} read whole"))
                .0;
            assert!(
                why.contains("truncated") || why.contains("corrupted"),
                "cut at {cut}: {why}"
            );
        }
    }

    #[test]
    fn a_corrupted_byte_is_refused() {
        let mut bytes = archive(&body());
        let at = bytes.len() - 6; // in the CRC-32
        bytes[at] ^= 0xff;
        assert!(read_all(&bytes).unwrap_err().0.contains("corrupted"));
    }

    #[test]
    fn a_foreign_archive_is_refused_by_its_first_entry() {
        let not_gzip = read_all(b"hello, this is text").unwrap_err().0;
        assert!(not_gzip.contains("not gzip"), "{not_gzip}");
        let mut gz = encoder(Vec::new());
        gz.write_all(b"hello\n").unwrap();
        let short = read_all(&gz.finish().unwrap()).unwrap_err().0;
        assert!(short.contains("too little"), "{short}");
        let mut gz = encoder(Vec::new());
        gz.write_all(&body()).unwrap();
        let other_tar = read_all(&gz.finish().unwrap()).unwrap_err().0;
        assert!(other_tar.contains("does not begin with"), "{other_tar}");
        let mut later = header();
        later.format = "kip-snapshot-archive/9".into();
        let mut gz = encoder(Vec::new());
        gz.write_all(&header_entry(&later).unwrap()).unwrap();
        let newer = read_all(&gz.finish().unwrap()).unwrap_err().0;
        assert!(newer.contains("this kip reads"), "{newer}");
        let mut joined = archive(&body());
        joined.extend(archive(&body()));
        assert!(read_all(&joined).unwrap_err().0.contains("follows its end"));
    }
}
