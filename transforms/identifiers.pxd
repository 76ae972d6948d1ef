# Cython declarations for identifiers.py (compiled with it; the .py stays the source): the
# helpers the hot path calls are C functions, called directly instead of through Python.
cpdef _identifier(value)
cpdef detect_platform(dict context, dict properties)
cpdef bint is_zeroed(str advertising_id)
cpdef tuple _locale(value)
cpdef _screen_dpi(density)
