//! logwax's compiled hot path: the two per-line steps a profile showed Python could not make
//! cheap enough, each a drop-in for the Python it stands for.
//!
//! - [`file_records`]: a chunk of a plain-text file cut into records (the files source's cut,
//!   raw parse and record building, fused), for the common chunk only;
//! - [`shape`]: records shaped for Kafka (the record's JSON document, its headers and key);
//! - [`journal::journal_records`]: journalctl's export output read into records.
//!
//! Both answer `None` for what they do not take on (invalid UTF-8, an overlong line, a
//! float, a key of the document in the fields, ...): the Python path then does it, so there is
//! one behaviour, and the Python tests hold the two to the same output byte for byte.

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple, PyType};
use std::fmt::Write;
use std::ptr;

mod journal;
mod json;
mod pyobj;

use json::{iso_timestamp, write_str, write_value};
use pyobj::{bytes_from, new_instance, str_from, utf8_of};

/// Records of the complete lines at the start of `chunk`, the file's bytes from `offset`.
///
/// Mirrors `TailedFile._cut`, `parse_raw` and `build_records` for a file without metadata:
/// a record per line `(source, stream, f"{prefix}{offset}", read_ns, text, {"log": {"file":
/// where, "offset": offset}})`, a line's final CR dropped as `TailedFile._emit` drops it (so a
/// file with CRLF line ends takes this path too). At most `room` lines. Answers `None` (and has
/// read nothing) unless every line it would hand on, and the bytes after the last newline, are
/// plain: valid UTF-8, none longer than `max_line` (its CR counted, as the Python cut counts
/// it).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn file_records<'py>(
    py: Python<'py>,
    record_type: &Bound<'py, PyType>,
    chunk: &Bound<'py, PyBytes>,
    offset: i64,
    room: usize,
    max_line: usize,
    source: &Bound<'py, PyAny>,
    stream: &Bound<'py, PyAny>,
    prefix: &str,
    read_ns: &Bound<'py, PyAny>,
    file: &Bound<'py, PyAny>,
) -> PyResult<Option<(Bound<'py, PyList>, usize)>> {
    let data = chunk.as_bytes();
    let Some(last) = data.iter().rposition(|&b| b == b'\n') else {
        return Ok(None);
    };
    if room == 0 {
        return Ok(None);
    }
    // The lines there is room for, each checked before anything is built.
    let mut ends: Vec<usize> = Vec::with_capacity(room.min(4096));
    let mut start = 0usize;
    for (i, &b) in data[..=last].iter().enumerate() {
        if b == b'\n' {
            if i - start > max_line {
                return Ok(None);
            }
            ends.push(i);
            start = i + 1;
            if ends.len() == room {
                break;
            }
        }
    }
    if ends.len() < room && data.len() - last - 1 > max_line {
        return Ok(None); // an overlong line follows: the general cut skips it
    }
    let consumed = ends.last().map_or(0, |&end| end + 1);
    let taken = &data[..consumed];
    if std::str::from_utf8(taken).is_err() {
        return Ok(None);
    }
    let list = PyList::empty(py);
    let log_key = pyo3::intern!(py, "log");
    let file_key = pyo3::intern!(py, "file");
    let offset_key = pyo3::intern!(py, "offset");
    let mut id = String::with_capacity(prefix.len() + 20);
    let mut begin = 0usize;
    for end in ends {
        let at = offset + begin as i64;
        let text_end = if end > begin && taken[end - 1] == b'\r' {
            end - 1
        } else {
            end
        };
        let text = str_from(py, &taken[begin..text_end])?;
        id.clear();
        id.push_str(prefix);
        let _ = write!(id, "{at}"); // writing to a String cannot fail
        let line_id = str_from(py, id.as_bytes())?;
        let position = at.into_pyobject(py)?;
        let log = pyo3::types::PyDict::new(py);
        log.set_item(file_key, file)?;
        log.set_item(offset_key, position)?;
        let fields = pyo3::types::PyDict::new(py);
        fields.set_item(log_key, log)?;
        let record = new_instance(
            py,
            record_type,
            &[
                source.as_ptr(),
                stream.as_ptr(),
                line_id.as_ptr(),
                read_ns.as_ptr(),
                text.as_ptr(),
                fields.as_ptr(),
            ],
        )?;
        list.append(record)?;
        begin = end + 1;
    }
    Ok(Some((list, consumed)))
}

/// Kafka's shape of each record: the drop-in for `Shaper.shape_many`'s common case.
///
/// `items[i]` is `outgoing_type(record, topic, value, key, [("event_id", ..), ("source", ..)],
/// None)`, or `None` where the Python shaper must decide: fields holding one of the document's
/// own keys, a value orjson would not write as it is (a float, an integer past 64 bits, a
/// subclass, a lone surrogate), or a record over `limit` with `framing` bytes of overhead.
/// `key_mode`: 0 no key, 1 the stream, 2 the event id.
#[pyfunction]
fn shape<'py>(
    py: Python<'py>,
    records: &Bound<'py, PyList>,
    topic: &Bound<'py, PyAny>,
    limit: usize,
    framing: usize,
    key_mode: u8,
    outgoing_type: &Bound<'py, PyType>,
) -> PyResult<(Bound<'py, PyList>, Vec<usize>)> {
    let own_keys = [
        pyo3::intern!(py, "@timestamp"),
        pyo3::intern!(py, "message"),
        pyo3::intern!(py, "event"),
        pyo3::intern!(py, "logwax"),
        pyo3::intern!(py, "@metadata"),
    ];
    let event_id_name = pyo3::intern!(py, "event_id");
    let source_name = pyo3::intern!(py, "source");
    let out = PyList::empty(py);
    let mut misses = Vec::new();
    let mut scratch = Scratch {
        buf: Vec::with_capacity(512),
        stamp: Stamp::default(),
        source: (ptr::null_mut(), None),
        stream: (ptr::null_mut(), None),
    };
    let mut source_header: Option<(*mut ffi::PyObject, Bound<'py, PyTuple>)> = None;
    for (index, record) in records.iter().enumerate() {
        let shaped = shape_one(py, &record, &own_keys, &mut scratch, key_mode)?;
        let Some((value, event_id, source, key)) = shaped else {
            misses.push(index);
            out.append(py.None())?;
            continue;
        };
        let key_len = key.as_ref().map_or(0, |k| k.as_bytes().len());
        let size = framing
            + value.as_bytes().len()
            + event_id.as_bytes().len()
            + source.as_bytes().len()
            + key_len;
        if size > limit {
            misses.push(index);
            out.append(py.None())?;
            continue;
        }
        // The source's header is one tuple for all its records: the producer only reads it.
        let source_pair = match &source_header {
            Some((made_for, pair)) if *made_for == source.as_ptr() => pair.clone(),
            _ => {
                let pair = PyTuple::new(py, [source_name.as_any(), source.as_any()])?;
                source_header = Some((source.as_ptr(), pair.clone()));
                pair
            }
        };
        let headers = PyList::new(
            py,
            [
                PyTuple::new(py, [event_id_name.as_any(), event_id.as_any()])?,
                source_pair,
            ],
        )?;
        let key_obj = match &key {
            Some(k) => k.as_any().clone(),
            None => py.None().into_bound(py),
        };
        let item = new_instance(
            py,
            outgoing_type,
            &[
                record.as_ptr(),
                topic.as_ptr(),
                value.as_ptr(),
                key_obj.as_ptr(),
                headers.as_ptr(),
                py.None().as_ptr(),
            ],
        )?;
        out.append(item)?;
    }
    Ok((out, misses))
}

/// A string object last seen and its bytes: the records of a batch share their source and,
/// mostly, their stream.
type Last<'py> = (*mut ffi::PyObject, Option<Bound<'py, PyBytes>>);

/// The bytes of `text` (whose UTF-8 is `utf8`), made once while the same object repeats.
fn cached_bytes<'py>(
    py: Python<'py>,
    last: &mut Last<'py>,
    text: *mut ffi::PyObject,
    utf8: &[u8],
) -> Bound<'py, PyBytes> {
    if let (true, Some(made)) = (last.0 == text, &last.1) {
        return made.clone();
    }
    let made = bytes_from(py, utf8);
    *last = (text, Some(made.clone()));
    made
}

type Shaped<'py> = (
    Bound<'py, PyBytes>,
    Bound<'py, PyBytes>,
    Bound<'py, PyBytes>,
    Option<Bound<'py, PyBytes>>,
);

/// What one `shape` call reuses from record to record.
struct Scratch<'py> {
    buf: Vec<u8>,
    stamp: Stamp,
    source: Last<'py>,
    stream: Last<'py>,
}

/// The last timestamp formatted: the lines of one file read share it.
#[derive(Default)]
struct Stamp {
    ns: Option<i64>,
    text: String,
}

fn shape_one<'py>(
    py: Python<'py>,
    record: &Bound<'py, PyAny>,
    own_keys: &[&Bound<'py, pyo3::types::PyString>; 5],
    scratch: &mut Scratch<'py>,
    key_mode: u8,
) -> PyResult<Option<Shaped<'py>>> {
    let Scratch {
        buf,
        stamp,
        source: last_source,
        stream: last_stream,
    } = scratch;
    let Ok(items) = record.downcast::<PyTuple>() else {
        return Ok(None);
    };
    if items.len() != 6 {
        return Ok(None);
    }
    // SAFETY: a tuple of six: the indices are in range and the items borrowed from it.
    let (source, stream, event_id, timestamp, message, fields) = unsafe {
        let raw = items.as_ptr();
        (
            ffi::PyTuple_GET_ITEM(raw, 0),
            ffi::PyTuple_GET_ITEM(raw, 1),
            ffi::PyTuple_GET_ITEM(raw, 2),
            ffi::PyTuple_GET_ITEM(raw, 3),
            ffi::PyTuple_GET_ITEM(raw, 4),
            ffi::PyTuple_GET_ITEM(raw, 5),
        )
    };
    // SAFETY: the pointers are items of a live tuple; the checks are on their exact types.
    unsafe {
        if ffi::PyDict_CheckExact(fields) == 0 {
            return Ok(None);
        }
        for key in own_keys {
            match ffi::PyDict_Contains(fields, key.as_ptr()) {
                0 => {}
                1 => return Ok(None),
                _ => return Err(PyErr::fetch(py)),
            }
        }
        let Some(ns) = pyobj::exact_i64(timestamp) else {
            return Ok(None);
        };
        if stamp.ns != Some(ns) {
            stamp.text.clear();
            iso_timestamp(ns, &mut stamp.text);
            stamp.ns = Some(ns);
        }
        let (Some(message_utf8), Some(id_utf8), Some(source_utf8), Some(stream_utf8)) = (
            utf8_of(message),
            utf8_of(event_id),
            utf8_of(source),
            utf8_of(stream),
        ) else {
            return Ok(None);
        };
        buf.clear();
        buf.extend_from_slice(b"{\"@timestamp\":\"");
        buf.extend_from_slice(stamp.text.as_bytes());
        buf.extend_from_slice(b"\",\"message\":");
        write_str(buf, message_utf8);
        buf.extend_from_slice(b",\"event\":{\"id\":");
        write_str(buf, id_utf8);
        buf.extend_from_slice(b"}");
        if ffi::PyDict_Size(fields) > 0 {
            let mut position: ffi::Py_ssize_t = 0;
            let mut key: *mut ffi::PyObject = ptr::null_mut();
            let mut value: *mut ffi::PyObject = ptr::null_mut();
            while ffi::PyDict_Next(fields, &mut position, &mut key, &mut value) != 0 {
                let Some(name) = utf8_of(key) else {
                    return Ok(None);
                };
                buf.push(b',');
                write_str(buf, name);
                buf.push(b':');
                if !write_value(buf, value, 1) {
                    return Ok(None);
                }
            }
        }
        buf.extend_from_slice(b",\"logwax\":{\"source\":");
        write_str(buf, source_utf8);
        buf.extend_from_slice(b",\"stream\":");
        write_str(buf, stream_utf8);
        buf.extend_from_slice(b"}}");
        let value = bytes_from(py, buf);
        let event_id_bytes = bytes_from(py, id_utf8);
        let source_bytes = cached_bytes(py, last_source, source, source_utf8);
        let key = match key_mode {
            1 => Some(cached_bytes(py, last_stream, stream, stream_utf8)),
            2 => Some(event_id_bytes.clone()),
            _ => None,
        };
        Ok(Some((value, event_id_bytes, source_bytes, key)))
    }
}

#[pymodule]
fn logwax_native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_function(wrap_pyfunction!(file_records, module)?)?;
    module.add_function(wrap_pyfunction!(shape, module)?)?;
    module.add_function(wrap_pyfunction!(journal::journal_records, module)?)?;
    Ok(())
}
