//! Reading an external CSV file (plain or gzip) into replay rows, with the
//! line number and reason of every row that cannot be used.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use vigil_core::replay::{ColumnMapping, MappingError, ReplayRow, parse_row};

/// Why a file cannot be replayed at all.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot open {path}: {source}")]
    Open {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot read the header of {path}: {source}")]
    Header { path: String, source: csv::Error },
    #[error("{path}: {source}")]
    Mapping { path: String, source: MappingError },
    #[error("{path}: reading stopped at line {line}: {source}")]
    Read {
        path: String,
        line: u64,
        source: csv::Error,
    },
}

/// A skipped row.
#[derive(Debug, Clone, PartialEq)]
pub struct BadRow {
    /// 1-based line in the (decompressed) file; the header is line 1.
    pub line: u64,
    pub reason: String,
}

/// The usable rows of a file, in file order, and the skipped ones.
#[derive(Debug, Default)]
pub struct Parsed {
    pub rows: Vec<ReplayRow>,
    pub bad: Vec<BadRow>,
}

/// Gzip streams start with these two bytes.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Opens `path`, decompressing it when it is gzip (by content, not name).
fn open(path: &Path) -> Result<Box<dyn Read>, ReadError> {
    let open_error = |source| ReadError::Open {
        path: path.display().to_string(),
        source,
    };
    let mut file = BufReader::with_capacity(1 << 20, File::open(path).map_err(open_error)?);
    let gzip = file
        .fill_buf()
        .map_err(open_error)?
        .starts_with(&GZIP_MAGIC);
    Ok(if gzip {
        Box::new(BufReader::with_capacity(
            1 << 20,
            flate2::bufread::MultiGzDecoder::new(file),
        ))
    } else {
        Box::new(file)
    })
}

/// Reads and parses every row of `path` with `mapping`; `on_row` is told
/// the number of rows read so far now and then (for a progress display).
pub fn read_rows(
    path: &Path,
    mapping: &ColumnMapping,
    mut on_row: impl FnMut(u64),
) -> Result<Parsed, ReadError> {
    let name = || path.display().to_string();
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(open(path)?);
    let header = reader.headers().map_err(|source| ReadError::Header {
        path: name(),
        source,
    })?;
    let columns = mapping
        .resolve(header.iter())
        .map_err(|source| ReadError::Mapping {
            path: name(),
            source,
        })?;
    let mut parsed = Parsed::default();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(0, |p| p.line());
                match parse_row(&record, &columns) {
                    Ok(row) => parsed.rows.push(row),
                    Err(e) => parsed.bad.push(BadRow {
                        line,
                        reason: e.to_string(),
                    }),
                }
            }
            // A row that is not UTF-8 is one bad row; the reader goes on
            // with the next record.
            Err(e) if matches!(e.kind(), csv::ErrorKind::Utf8 { .. }) => {
                let line = e.position().map_or(0, |p| p.line());
                parsed.bad.push(BadRow {
                    line,
                    reason: "not valid UTF-8".into(),
                });
            }
            Err(source) => {
                let line = source.position().map_or(0, |p| p.line());
                return Err(ReadError::Read {
                    path: name(),
                    line,
                    source,
                });
            }
        }
        let read = (parsed.rows.len() + parsed.bad.len()) as u64;
        if read % 65_536 == 0 {
            on_row(read);
        }
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    const FILE: &str = "TX_ID,TX_DATETIME,CUSTOMER_ID,TERMINAL_ID,TX_AMOUNT,TX_FRAUD\n\
                        0,2018-04-01 00:00:31,596,3156,57.16,0\n\
                        1,2018-04-01 00:02:10,4961,3412,81.51,1\n\
                        2,not a time,2,1365,146.00,0\n\
                        3,2018-04-01 00:09:29,4128\n\
                        4,1522541400,927,9906,51.48,0\n";

    fn mapping() -> ColumnMapping {
        ColumnMapping::parse(
            "transaction_id=TX_ID,user_id=CUSTOMER_ID,merchant_id=TERMINAL_ID,\
             amount=TX_AMOUNT,timestamp=TX_DATETIME,label=TX_FRAUD",
        )
        .unwrap()
    }

    fn check(parsed: &Parsed) {
        let ids: Vec<&str> = parsed.rows.iter().map(|r| r.original_id.as_str()).collect();
        assert_eq!(ids, ["0", "1", "4"]);
        let lines: Vec<u64> = parsed.bad.iter().map(|b| b.line).collect();
        assert_eq!(lines, [4, 5]);
        assert!(
            parsed.bad[0].reason.contains("timestamp"),
            "{:?}",
            parsed.bad
        );
        assert!(parsed.bad[1].reason.contains("missing `amount`"));
    }

    #[test]
    fn plain_and_gzip_files_read_alike_with_bad_lines_numbered() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("tx.csv");
        std::fs::write(&plain, FILE).unwrap();
        check(&read_rows(&plain, &mapping(), |_| {}).unwrap());

        let gz = dir.path().join("tx.data");
        let mut encoder =
            flate2::write::GzEncoder::new(File::create(&gz).unwrap(), flate2::Compression::fast());
        encoder.write_all(FILE.as_bytes()).unwrap();
        encoder.finish().unwrap();
        check(&read_rows(&gz, &mapping(), |_| {}).unwrap());
    }

    #[test]
    fn a_missing_column_or_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tx.csv");
        std::fs::write(&path, FILE).unwrap();
        let err = read_rows(&path, &ColumnMapping::default(), |_| {}).unwrap_err();
        assert!(
            err.to_string()
                .contains("required field `transaction_id` has no column `transaction_id`"),
            "{err}"
        );
        let err = read_rows(&dir.path().join("none.csv"), &mapping(), |_| {}).unwrap_err();
        assert!(err.to_string().starts_with("cannot open"), "{err}");
    }
}
