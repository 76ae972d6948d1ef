# cython: language_level=3, boundscheck=False, wraparound=False
"""The long-number search of ``mapping.decode`` as a C loop (compiled with the mapping modules).

``mapping.decode`` sends a document to the exact decoder when its bytes hold a run that may
be a number orjson would round: 20 characters of ``[0-9.]`` in a row, or ``-`` and 19. The
pure form (``mapping._has_long_number``) maps the bytes through a table and searches the
copy (~1.5 us per 1 KB document); this one reads the bytes in place and, as string searches
do, skips: it looks at the last byte of each 19-byte window and walks back only over run
characters, so a byte outside any run moves the window on by up to 19 (~0.5 us).
``tests/test_mapping_fast_paths.py`` holds the two to the same answers.
"""

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
