# Cython declarations for identifiers.py (compiled with it; the .py stays the source): its
# functions are C functions too, which this module and those that cimport them (mapping)
# call directly instead of through Python.
cpdef _identifier(value)
cpdef detect_platform(dict context, dict properties)
cpdef bint is_zeroed(str advertising_id)
cpdef tuple _locale(value)
cpdef _screen_dpi(density)
cpdef dict user_data(dict doc, dict context, dict properties, str platform, list warnings, dict row=*)
cpdef bint is_identifiable(dict user)

from domain.values cimport to_int, to_text

# Module dicts read per message, as C-level dicts (their lookups are direct).
cdef dict _DEVICE_TYPES, _OS_NAMES, _APP_PLATFORM, _LOCALES
