//! Thin, checked wrappers over the CPython calls the hot path makes once per line.

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString, PyType};

/// The UTF-8 of an exact `str`, borrowed from the object (CPython caches it there), or `None`
/// for anything else, and for a str with lone surrogates (orjson refuses those too).
///
/// # Safety
/// `obj` must be a live object, borrowed for as long as the slice is used.
pub unsafe fn utf8_of<'a>(obj: *mut ffi::PyObject) -> Option<&'a [u8]> {
    if ffi::PyUnicode_CheckExact(obj) == 0 {
        return None;
    }
    let mut size: ffi::Py_ssize_t = 0;
    let data = ffi::PyUnicode_AsUTF8AndSize(obj, &mut size);
    if data.is_null() {
        ffi::PyErr_Clear();
        return None;
    }
    Some(std::slice::from_raw_parts(data.cast::<u8>(), size as usize))
}

/// An exact `int` that fits in 64 signed bits.
///
/// # Safety
/// `obj` must be a live object.
pub unsafe fn exact_i64(obj: *mut ffi::PyObject) -> Option<i64> {
    if ffi::PyLong_CheckExact(obj) == 0 {
        return None;
    }
    let mut overflow: std::os::raw::c_int = 0;
    let value = ffi::PyLong_AsLongLongAndOverflow(obj, &mut overflow);
    if overflow != 0 {
        return None;
    }
    Some(value)
}

/// A `str` from bytes already checked to be UTF-8.
pub fn str_from<'py>(py: Python<'py>, utf8: &[u8]) -> PyResult<Bound<'py, PyString>> {
    // SAFETY: the caller checked the bytes are UTF-8; a failure is an error set by CPython.
    unsafe {
        let made = ffi::PyUnicode_DecodeUTF8(
            utf8.as_ptr().cast(),
            utf8.len() as ffi::Py_ssize_t,
            std::ptr::null(),
        );
        Bound::from_owned_ptr_or_err(py, made).map(|any| any.downcast_into_unchecked())
    }
}

pub fn bytes_from<'py>(py: Python<'py>, data: &[u8]) -> Bound<'py, PyBytes> {
    PyBytes::new(py, data)
}

/// An instance of a tuple subclass (a NamedTuple) holding `items`, as `tuple.__new__(cls,
/// items)` makes it, without a call into Python.
pub fn new_instance<'py>(
    py: Python<'py>,
    cls: &Bound<'py, PyType>,
    items: &[*mut ffi::PyObject],
) -> PyResult<Bound<'py, PyAny>> {
    // SAFETY: `cls` is checked to be a subtype of tuple; tp_alloc of a tuple subtype makes room
    // for `len` items (what CPython's tuple_subtype_new does), each set once to a new reference.
    unsafe {
        let tp = cls.as_ptr().cast::<ffi::PyTypeObject>();
        if ffi::PyType_IsSubtype(tp, std::ptr::addr_of_mut!(ffi::PyTuple_Type)) == 0 {
            return Err(pyo3::exceptions::PyTypeError::new_err("not a tuple type"));
        }
        let alloc = (*tp).tp_alloc.unwrap_or(ffi::PyType_GenericAlloc);
        let made = alloc(tp, items.len() as ffi::Py_ssize_t);
        if made.is_null() {
            return Err(PyErr::fetch(py));
        }
        for (index, &item) in items.iter().enumerate() {
            ffi::Py_INCREF(item);
            ffi::PyTuple_SET_ITEM(made, index as ffi::Py_ssize_t, item);
        }
        Ok(Bound::from_owned_ptr(py, made))
    }
}
