//! JSON as orjson writes it, for the values records carry; anything else is left to orjson.

use pyo3::ffi;
use std::fmt::Write;

use crate::pyobj::utf8_of;

const HEX: &[u8; 16] = b"0123456789abcdef";
/// The bytes a JSON string cannot hold as they are: control characters, `"` and `\`.
const ESCAPED: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = true;
        byte += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};
/// orjson stops at 255 levels; past this the Python path decides.
const MAX_DEPTH: usize = 128;

/// A JSON string: `"` and `\` escaped, control characters as orjson writes them (the short
/// forms for \b \t \n \f \r, `\u00xx` for the rest), everything else as UTF-8.
pub fn write_str(buf: &mut Vec<u8>, text: &[u8]) {
    buf.push(b'"');
    let mut start = 0;
    for (index, &byte) in text.iter().enumerate() {
        if !ESCAPED[byte as usize] {
            continue;
        }
        let short: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x09 => b"\\t",
            0x0a => b"\\n",
            0x0c => b"\\f",
            0x0d => b"\\r",
            0x00..=0x1f => b"",
            _ => continue,
        };
        buf.extend_from_slice(&text[start..index]);
        if short.is_empty() {
            buf.extend_from_slice(b"\\u00");
            buf.push(HEX[(byte >> 4) as usize]);
            buf.push(HEX[(byte & 0xf) as usize]);
        } else {
            buf.extend_from_slice(short);
        }
        start = index + 1;
    }
    buf.extend_from_slice(&text[start..]);
    buf.push(b'"');
}

/// Writes `value` and answers true, or answers false for a value orjson might write otherwise
/// (floats, integers past 64 bits, subclasses, non-str keys, lone surrogates, deep nesting).
///
/// # Safety
/// `value` must be a live object; dicts and lists are not changed while this runs (it holds
/// the interpreter lock and calls nothing that runs Python code).
pub unsafe fn write_value(buf: &mut Vec<u8>, value: *mut ffi::PyObject, depth: usize) -> bool {
    if depth > MAX_DEPTH {
        return false;
    }
    if value == ffi::Py_None() {
        buf.extend_from_slice(b"null");
        return true;
    }
    if value == ffi::Py_True() {
        buf.extend_from_slice(b"true");
        return true;
    }
    if value == ffi::Py_False() {
        buf.extend_from_slice(b"false");
        return true;
    }
    if ffi::PyUnicode_CheckExact(value) != 0 {
        let Some(text) = utf8_of(value) else {
            return false;
        };
        write_str(buf, text);
        return true;
    }
    if ffi::PyLong_CheckExact(value) != 0 {
        let mut overflow: std::os::raw::c_int = 0;
        let small = ffi::PyLong_AsLongLongAndOverflow(value, &mut overflow);
        if overflow == 0 {
            let mut text = String::new();
            let _ = write!(text, "{small}");
            buf.extend_from_slice(text.as_bytes());
            return true;
        }
        if overflow > 0 {
            let big = ffi::PyLong_AsUnsignedLongLong(value);
            if big == u64::MAX && !ffi::PyErr_Occurred().is_null() {
                ffi::PyErr_Clear();
                return false;
            }
            let mut text = String::new();
            let _ = write!(text, "{big}");
            buf.extend_from_slice(text.as_bytes());
            return true;
        }
        return false;
    }
    if ffi::PyDict_CheckExact(value) != 0 {
        buf.push(b'{');
        let mut position: ffi::Py_ssize_t = 0;
        let mut key: *mut ffi::PyObject = std::ptr::null_mut();
        let mut item: *mut ffi::PyObject = std::ptr::null_mut();
        let mut first = true;
        while ffi::PyDict_Next(value, &mut position, &mut key, &mut item) != 0 {
            let Some(name) = utf8_of(key) else {
                return false;
            };
            if !first {
                buf.push(b',');
            }
            first = false;
            write_str(buf, name);
            buf.push(b':');
            if !write_value(buf, item, depth + 1) {
                return false;
            }
        }
        buf.push(b'}');
        return true;
    }
    let is_list = ffi::PyList_CheckExact(value) != 0;
    if is_list || ffi::PyTuple_CheckExact(value) != 0 {
        buf.push(b'[');
        let size = if is_list {
            ffi::PyList_GET_SIZE(value)
        } else {
            ffi::PyTuple_GET_SIZE(value)
        };
        for index in 0..size {
            if index > 0 {
                buf.push(b',');
            }
            let item = if is_list {
                ffi::PyList_GET_ITEM(value, index)
            } else {
                ffi::PyTuple_GET_ITEM(value, index)
            };
            if !write_value(buf, item, depth + 1) {
                return false;
            }
        }
        buf.push(b']');
        return true;
    }
    false
}

/// `iso_timestamp` of logwax.core.record: RFC 3339 UTC with microseconds, the time clamped to
/// years 1 to 9999 (what Python's datetime represents).
pub fn iso_timestamp(ns: i64, out: &mut String) {
    const MIN_SECOND: i64 = -62_135_596_800; // 0001-01-01T00:00:00
    const MAX_SECOND: i64 = 253_402_300_799; // 9999-12-31T23:59:59
    let (mut second, mut nanos) = (ns.div_euclid(1_000_000_000), ns.rem_euclid(1_000_000_000));
    if second < MIN_SECOND {
        (second, nanos) = (MIN_SECOND, 0);
    } else if second > MAX_SECOND || (second == MAX_SECOND && nanos > 0) {
        (second, nanos) = (MAX_SECOND, 0);
    }
    let (days, of_day) = (second.div_euclid(86_400), second.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    let micros = nanos / 1000;
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{micros:06}+00:00",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    );
}

/// Howard Hinnant's days-to-civil: the proleptic Gregorian date of a day since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}
