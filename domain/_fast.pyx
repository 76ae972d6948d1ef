# cython: language_level=3, boundscheck=False, wraparound=False
"""The hot helpers of the mapping in C: the twin of ``_slow.py`` (same API, same answers).

``domain.speedups`` picks this module when it is built (setup.py compiles it with the
domain modules, all or none); tests/unit/test_speedups.py holds both forms to each helper's
definition. What each saves: docs/compiled.md.

- :func:`has_long_number`: a skip search over the bytes in place for a run that may be a
  number orjson would round.
- :func:`to_bq_timestamp`: BigQuery's timestamp text, the digits written into a buffer.
- :func:`segment_timestamp`, :func:`segment_text`, :func:`bq_timestamp_of`: Segment's own
  form, ``2026-11-28T12:00:00.123Z``, read and rewritten in C.
- :class:`RowPredicate`: whether a row fits its table, in one pass over the row.
- :func:`without_nulls`: a row without its null columns, in one pass over the row.
"""
from cpython.datetime cimport (
    datetime, datetime_day, datetime_hour, datetime_microsecond, datetime_minute, datetime_month,
    datetime_new, datetime_second, datetime_tzinfo, datetime_year, import_datetime,
)
from cpython.unicode cimport PyUnicode_DecodeASCII
from libc.string cimport memcpy


cdef extern from "Python.h":
    bint PyUnicode_IS_ASCII(object text)
    Py_ssize_t PyUnicode_GET_LENGTH(object text)
    const unsigned char* PyUnicode_1BYTE_DATA(object text)

import datetime as _datetime

import_datetime()
cdef object UTC = _datetime.timezone.utc


cdef inline bint _in_run(unsigned char c) noexcept nogil:
    return (48 <= c <= 57) or c == 46  # 0-9 or "."


cdef bint _search(const unsigned char* p, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t end = 18, j, start, stop  # end: the last byte of a 19-byte window
    while end < n:
        j = end
        while j > end - 19 and _in_run(p[j]):
            j -= 1
        if j > end - 19:  # p[j] is no run character: the next window starts after it
            end = j + 19
            continue
        # 19 run characters end at `end`: the whole run decides (20 or more, or "-" and 19).
        start = end - 18
        while start > 0 and _in_run(p[start - 1]):
            start -= 1
        stop = end + 1
        while stop < n and _in_run(p[stop]):
            stop += 1
        if stop - start >= 20 or (start > 0 and p[start - 1] == 45):  # 45: "-"
            return True
        end = stop + 19
    return False


def has_long_number(data) -> bool:
    """True if ``data`` (bytes-like) holds 20 of ``[0-9.]`` in a row, or ``-`` and 19."""
    if type(data) is not bytes:  # (another buffer, a copy: messages arrive as bytes)
        data = bytes(data)
    return _search(<const unsigned char*><bytes>data, len(<bytes>data))


cdef inline void _digits(char* out, int value, int width) noexcept nogil:
    """``value`` as ``width`` decimal digits, zero-padded, written backwards into ``out``."""
    cdef int i
    for i in range(width - 1, -1, -1):
        out[i] = c'0' + value % 10
        value //= 10


def to_bq_timestamp(value) -> str:
    """``2026-11-28T12:00:00.123456Z``: BigQuery's JSON timestamp text, always UTC."""
    cdef char text[27]
    if type(value) is datetime and datetime_tzinfo(value) is UTC and datetime_year(value) >= 1000:
        _digits(text, datetime_year(value), 4)  # 1000-9999: datetime's own range ends at 9999
        text[4] = c'-'
        _digits(text + 5, datetime_month(value), 2)
        text[7] = c'-'
        _digits(text + 8, datetime_day(value), 2)
        text[10] = c'T'
        _digits(text + 11, datetime_hour(value), 2)
        text[13] = c':'
        _digits(text + 14, datetime_minute(value), 2)
        text[16] = c':'
        _digits(text + 17, datetime_second(value), 2)
        text[19] = c'.'
        _digits(text + 20, datetime_microsecond(value), 6)
        text[26] = c'Z'
        return PyUnicode_DecodeASCII(text, 27, NULL)
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


# Segment's form, position by position: "D" an ASCII digit, else that character.
cdef const char* _SEGMENT_FORM = b"DDDD-DD-DDTDD:DD:DD.DDDZ"


cdef inline bint _is_segment_form(text) noexcept:
    """An ASCII str of Segment's form (every digit an ASCII digit, every separator in place)."""
    cdef const unsigned char* p
    cdef Py_ssize_t i
    if type(text) is not str or not PyUnicode_IS_ASCII(text) or PyUnicode_GET_LENGTH(text) != 24:
        return False
    p = PyUnicode_1BYTE_DATA(text)
    for i in range(24):
        if _SEGMENT_FORM[i] == c'D':
            if not (c'0' <= p[i] <= c'9'):
                return False
        elif p[i] != _SEGMENT_FORM[i]:
            return False
    return True


cdef inline int _number(const unsigned char* p, int width) noexcept nogil:
    cdef int value = 0, i
    for i in range(width):
        value = value * 10 + (p[i] - c'0')
    return value


cdef inline bint _valid_segment_fields(const unsigned char* p) noexcept nogil:
    """Whether the fields of a Segment-form text make a datetime (what datetime_new checks)."""
    cdef int year = _number(p, 4), month = _number(p + 5, 2), day = _number(p + 8, 2), days
    if year < 1 or not 1 <= month <= 12 or _number(p + 11, 2) > 23 or _number(p + 14, 2) > 59 \
            or _number(p + 17, 2) > 59:
        return False
    if month == 2:
        days = 29 if (year % 4 == 0 and year % 100 != 0) or year % 400 == 0 else 28
    else:
        days = 30 if month in (4, 6, 9, 11) else 31
    return 1 <= day <= days


cdef inline bint _is_valid_segment_form(text) noexcept:
    return _is_segment_form(text) and _valid_segment_fields(PyUnicode_1BYTE_DATA(text))


cdef inline str _bq_text_of_segment_form(text):
    """BigQuery's text of a Segment-form text: the same but for the microseconds' padding."""
    cdef char out[27]
    memcpy(out, PyUnicode_1BYTE_DATA(text), 23)
    memcpy(out + 23, b"000Z", 4)
    return PyUnicode_DecodeASCII(out, 27, NULL)


def segment_timestamp(text):
    """The UTC datetime ``datetime.fromisoformat`` gives for a text of Segment's form, or None
    (another form, or a date or time out of range: for fromisoformat to refuse, and say why)."""
    cdef const unsigned char* p
    if not _is_valid_segment_form(text):
        return None
    p = PyUnicode_1BYTE_DATA(text)
    return datetime_new(_number(p, 4), _number(p + 5, 2), _number(p + 8, 2), _number(p + 11, 2),
                        _number(p + 14, 2), _number(p + 17, 2), _number(p + 20, 3) * 1000, UTC)


def segment_text(text):
    """``bq_timestamp_of(text, parse_timestamp(text, ...))`` for a valid text of Segment's form,
    without making the datetime (a time only carried, not compared); None for any other."""
    return _bq_text_of_segment_form(text) if _is_valid_segment_form(text) else None


def bq_timestamp_of(text, parsed) -> str:
    """``to_bq_timestamp(parsed)``, where ``parsed`` is the time ``text`` gave: Segment's form
    is that text but for the microseconds' padding (see ``_slow.bq_timestamp_of``)."""
    if _is_segment_form(text):
        return _bq_text_of_segment_form(text)
    if type(text) is str and len(text) == 24 and text[23] == "Z" and text[4:20:3] == "--T::.":
        return text[:23] + "000Z"  # (non-ASCII digits, should fromisoformat ever take them)
    return to_bq_timestamp(parsed)


# ---------------------------------------------------------------------------- row predicate

from cpython.object cimport PyObject


cdef extern from "Python.h":
    bint PyDict_Next(object d, Py_ssize_t* pos, PyObject** key, PyObject** value)
    long long PyLong_AsLongLongAndOverflow(object value, int* overflow) except? -1

from libc.math cimport isfinite

cdef enum Kind:
    K_STRING, K_INT64, K_FLOAT64, K_BOOL, K_NUMERIC, K_RECORD

cdef dict _KINDS = {
    "STRING": K_STRING, "JSON": K_STRING, "BYTES": K_STRING, "TIMESTAMP": K_STRING, "DATE": K_STRING,
    "INT64": K_INT64, "INTEGER": K_INT64, "FLOAT64": K_FLOAT64, "FLOAT": K_FLOAT64, "BOOL": K_BOOL,
    "BOOLEAN": K_BOOL, "NUMERIC": K_NUMERIC, "RECORD": K_RECORD, "STRUCT": K_RECORD,
}
cdef enum Mode:
    M_NULLABLE, M_REQUIRED, M_REPEATED


cdef inline bint _is_int64(object value) except -1:
    cdef int overflow = 0
    if type(value) is not int:
        return False
    PyLong_AsLongLongAndOverflow(value, &overflow)
    return overflow == 0


cdef int _ascii_numeric(object value) noexcept:
    """``column_types.is_numeric`` of an ASCII str (1 or 0); -1 for any other str (for the
    Python test: ``str.isdigit`` takes more digits than ASCII's)."""
    cdef const unsigned char* p
    cdef Py_ssize_t n, i = 0, whole_start, whole, fraction
    if not PyUnicode_IS_ASCII(value):
        return -1
    p = PyUnicode_1BYTE_DATA(value)
    n = PyUnicode_GET_LENGTH(value)
    while i < n and p[i] == c'-':  # value.lstrip("-")
        i += 1
    whole_start = i
    while i < n and c'0' <= p[i] <= c'9':
        i += 1
    whole = i - whole_start
    if whole == 0 or whole > 29:
        return 0
    if i == n:
        return 1
    if p[i] != c'.':
        return 0
    i += 1
    fraction = n - i
    if fraction > 9:
        return 0
    while i < n:
        if not (c'0' <= p[i] <= c'9'):
            return 0
        i += 1
    return 1


cdef class RowPredicate:
    """Whether a row fits a schema, in one ``PyDict_Next`` pass over the row.

    True only if the row has exactly the schema's columns in the schema's order (the order
    of the mapping's row and content item templates) and every value fits its column, by
    the tests of ``column_types``. Any other row gives False, and ``RowValidator``'s walk
    then decides.
    """

    cdef tuple _names
    cdef int[:] _kinds_view
    cdef int[:] _modes_view
    cdef object _kinds_buffer, _modes_buffer
    cdef tuple _nested
    cdef object _is_numeric
    cdef Py_ssize_t _count

    def __init__(self, columns, is_numeric):
        """``columns``: (name, BigQuery type, mode, nested columns or None) per column, in
        order; ``is_numeric``: the NUMERIC text test."""
        import array

        self._names = tuple(column[0] for column in columns)
        self._kinds_buffer = array.array("i", [_KINDS[column[1]] for column in columns])
        self._modes_buffer = array.array("i", [
            M_REQUIRED if column[2] == "REQUIRED" else M_REPEATED if column[2] == "REPEATED" else M_NULLABLE
            for column in columns])
        self._kinds_view = self._kinds_buffer
        self._modes_view = self._modes_buffer
        self._nested = tuple(None if column[3] is None else RowPredicate(column[3], is_numeric)
                             for column in columns)
        self._is_numeric = is_numeric
        self._count = len(columns)

    def __call__(self, row) -> bool:
        return self.fits(row)

    cdef bint _element_fits(self, Py_ssize_t index, object value) except -1:
        cdef int kind = self._kinds_view[index]
        if kind == K_STRING:
            return type(value) is str
        if kind == K_INT64:
            return _is_int64(value)
        if kind == K_FLOAT64:
            return (type(value) is float and isfinite(<double>value)) or _is_int64(value)
        if kind == K_BOOL:
            return type(value) is bool
        if kind == K_NUMERIC:
            if type(value) is not str:
                return False
            numeric = _ascii_numeric(value)
            return numeric == 1 if numeric >= 0 else bool(self._is_numeric(value))
        return type(value) is dict and (<RowPredicate>self._nested[index]).fits(value)

    cdef bint fits(self, object row) except -1:
        cdef Py_ssize_t position = 0, index = 0
        cdef PyObject* key
        cdef PyObject* value
        cdef int mode
        if type(row) is not dict or len(<dict>row) != self._count:
            return False
        while PyDict_Next(row, &position, &key, &value):
            if index >= self._count:  # (the row grew meanwhile: the indexes below stay in bounds)
                return False
            name = self._names[index]
            if <object>key is not name and not (<object>key == name):
                return False
            mode = self._modes_view[index]
            if <object>value is None:
                if mode == M_REQUIRED:
                    return False
            elif mode == M_REPEATED:
                if type(<object>value) is not list:
                    return False
                for element in <list><object>value:
                    if element is None or not self._element_fits(index, element):
                        return False
            elif not self._element_fits(index, <object>value):
                return False
            index += 1
        return True


# ---------------------------------------------------------------------------- without_nulls


def without_nulls(dict row) -> dict:
    cdef dict out = {}
    cdef Py_ssize_t pos = 0
    cdef PyObject* key
    cdef PyObject* value
    while PyDict_Next(row, &pos, &key, &value):
        if value != <PyObject*>None:
            out[<object>key] = <object>value
    return out
