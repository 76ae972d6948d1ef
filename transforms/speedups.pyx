# cython: language_level=3, boundscheck=False, wraparound=False
"""C forms of two hot helpers of the mapping, built with the compiled modules (setup.py).

Each module that uses one keeps its pure Python form and takes this one only when it is
built (a pure install has none); tests/test_mapping_fast_paths.py holds each pair to the
same answers.

- :func:`has_long_number`, for ``mapping.decode``: whether a document may hold a number
  orjson would round, i.e. a run of 20 characters of ``[0-9.]``, or ``-`` and 19. The pure
  form maps the bytes through a table and searches the copy (~1.5 us per 1 KB document);
  this one reads the bytes in place and, as string searches do, skips: it looks at the last
  byte of each 19-byte window and walks back only over run characters, so a byte outside
  any run moves the window on by up to 19 (~0.5 us).
- :func:`to_bq_timestamp`, for ``timestamps``: BigQuery's timestamp text of a datetime. The
  pure form builds it from seven attribute reads and an f-string (~0.4 us); this one reads
  the fields of a UTC datetime in C and formats them into a buffer.
"""
from cpython.datetime cimport (
    datetime, datetime_day, datetime_hour, datetime_microsecond, datetime_minute, datetime_month,
    datetime_second, datetime_tzinfo, datetime_year, import_datetime,
)
from cpython.unicode cimport PyUnicode_DecodeASCII
from libc.stdio cimport snprintf

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
    cdef const unsigned char[:] view
    if type(data) is bytes:
        return _search(<const unsigned char*><bytes>data, len(<bytes>data))
    view = data
    if view.shape[0] == 0:
        return False
    return _search(&view[0], view.shape[0])


def to_bq_timestamp(value) -> str:
    """``2026-11-28T12:00:00.123456Z``: BigQuery's JSON timestamp text, always UTC."""
    cdef char text[32]
    cdef int length
    if type(value) is datetime and datetime_tzinfo(value) is UTC and datetime_year(value) >= 1000:
        length = snprintf(text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
                          datetime_year(value), datetime_month(value), datetime_day(value),
                          datetime_hour(value), datetime_minute(value), datetime_second(value),
                          datetime_microsecond(value))
        return PyUnicode_DecodeASCII(text, length, NULL)
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
