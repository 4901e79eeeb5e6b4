//! journalctl's export format → records: `export.parse` and `entries.to_record` fused, for the
//! plain entry (every field `NAME=value`, each name once, valid UTF-8, a `__CURSOR` of the
//! `s=...;i=...` form, a `__REALTIME_TIMESTAMP` of plain digits).

use std::collections::HashMap;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyType};

use crate::pyobj::{new_instance, str_from};

/// Fields the record carries elsewhere, or that only journald needs (`entries._DROP`).
const DROPPED: [&[u8]; 3] = [b"__MONOTONIC_TIMESTAMP", b"__SEQNUM", b"__SEQNUM_ID"];
/// Values longer than this are not looked up among the ones seen (they rarely repeat).
const SHARED_VALUE_BYTES: usize = 64;

struct Plain<'a> {
    cursor: &'a [u8],
    message: &'a [u8],
    realtime: Option<&'a [u8]>,
    unit: &'a [u8],
    boot: &'a [u8],
    fields: Vec<(&'a [u8], &'a [u8])>,
}

/// The entry's fields, or `None` when Python must read it.
fn plain_entry(entry: &[u8]) -> Option<Plain<'_>> {
    std::str::from_utf8(entry).ok()?;
    let mut plain = Plain {
        cursor: b"",
        message: b"",
        realtime: None,
        unit: b"",
        boot: b"",
        fields: Vec::with_capacity(16),
    };
    let (mut cursor, mut message, mut systemd_unit, mut identifier) = (None, None, None, None);
    let mut names: Vec<&[u8]> = Vec::with_capacity(16);
    for line in entry.split(|&b| b == b'\n') {
        let equals = line.iter().position(|&b| b == b'=')?; // none: a length-framed value
        let (name, value) = (&line[..equals], &line[equals + 1..]);
        if names.contains(&name) {
            return None; // a repeated field becomes a list: Python's
        }
        names.push(name);
        match name {
            b"__CURSOR" => cursor = Some(value),
            b"MESSAGE" => message = Some(value),
            b"__REALTIME_TIMESTAMP" => plain.realtime = Some(value),
            _ if DROPPED.contains(&name) => {}
            _ => {
                match name {
                    b"_SYSTEMD_UNIT" => systemd_unit = Some(value),
                    b"SYSLOG_IDENTIFIER" => identifier = Some(value),
                    b"_BOOT_ID" => plain.boot = value,
                    _ => {}
                }
                plain.fields.push((name, value));
            }
        }
    }
    plain.cursor = cursor?;
    plain.message = message.unwrap_or(b"");
    plain.unit = match (systemd_unit, identifier) {
        (Some(unit), _) if !unit.is_empty() => unit,
        (_, Some(name)) if !name.is_empty() => name,
        _ => b"journal",
    };
    Some(plain)
}

/// `cursor_event_id`'s common form: `s=<id>;i=<seqnum>;...` → `<id>:<seqnum>`.
fn event_id(cursor: &[u8]) -> Option<Vec<u8>> {
    let mut head = cursor.splitn(3, |&b| b == b';');
    let first = head.next()?.strip_prefix(b"s=")?;
    let second = head.next()?.strip_prefix(b"i=")?;
    let mut id = Vec::with_capacity(first.len() + second.len() + 1);
    id.extend_from_slice(first);
    id.push(b':');
    id.extend_from_slice(second);
    Some(id)
}

/// `int(realtime) * 1000` for plain digits that fit; `None` leaves the rest to Python.
fn timestamp_ns(realtime: Option<&[u8]>) -> Option<i64> {
    let Some(digits) = realtime else {
        return Some(0);
    };
    if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let micros: i64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    micros.checked_mul(1000)
}

/// Strings made once per call for what repeats: field names, short values, streams.
#[derive(Default)]
struct Shared<'py> {
    strings: HashMap<Vec<u8>, Bound<'py, PyString>>,
}

impl<'py> Shared<'py> {
    fn get(&mut self, py: Python<'py>, utf8: &[u8]) -> PyResult<Bound<'py, PyString>> {
        if let Some(made) = self.strings.get(utf8) {
            return Ok(made.clone());
        }
        let made = str_from(py, utf8)?;
        self.strings.insert(utf8.to_vec(), made.clone());
        Ok(made)
    }
}

/// The records of the plain entries of `data` from `start`, and where they end: at the end of
/// the last complete entry, or at the first entry Python must read (`export.parse_one`).
#[pyfunction]
pub fn journal_records<'py>(
    py: Python<'py>,
    record_type: &Bound<'py, PyType>,
    data: &Bound<'py, PyBytes>,
    start: usize,
    source: &Bound<'py, PyAny>,
) -> PyResult<(Bound<'py, PyList>, usize)> {
    let bytes = data.as_bytes();
    let records = PyList::empty(py);
    let journald_key = pyo3::intern!(py, "journald");
    let cursor_key = pyo3::intern!(py, "journald_cursor");
    let mut shared = Shared::default();
    let mut position = start.min(bytes.len());
    while let Some(length) = find_blank_line(&bytes[position..]) {
        let entry = &bytes[position..position + length];
        let Some(plain) = plain_entry(entry) else {
            break;
        };
        let (Some(id), Some(stamp)) = (event_id(plain.cursor), timestamp_ns(plain.realtime)) else {
            break;
        };
        let fields = PyDict::new(py);
        for (name, value) in &plain.fields {
            let value = if value.len() <= SHARED_VALUE_BYTES {
                shared.get(py, value)?
            } else {
                str_from(py, value)?
            };
            fields.set_item(shared.get(py, name)?, value)?;
        }
        let mut stream = Vec::with_capacity(plain.boot.len() + plain.unit.len() + 1);
        stream.extend_from_slice(plain.boot);
        stream.push(b'/');
        stream.extend_from_slice(plain.unit);
        let outer = PyDict::new(py);
        outer.set_item(journald_key, fields)?;
        outer.set_item(cursor_key, str_from(py, plain.cursor)?)?;
        let record = new_instance(
            py,
            record_type,
            &[
                source.as_ptr(),
                shared.get(py, &stream)?.as_ptr(),
                str_from(py, &id)?.as_ptr(),
                stamp.into_pyobject(py)?.as_ptr(),
                str_from(py, plain.message)?.as_ptr(),
                outer.as_ptr(),
            ],
        )?;
        records.append(record)?;
        position += length + 2;
    }
    Ok((records, position))
}

/// Length of the entry at the start of `data`: up to its blank line ("\n\n").
fn find_blank_line(data: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(found) = data[from..].iter().position(|&b| b == b'\n') {
        let at = from + found;
        if data.get(at + 1) == Some(&b'\n') {
            return Some(at);
        }
        from = at + 1;
    }
    None
}
