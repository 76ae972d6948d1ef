# Declarations for the compiled form of identifiers.py (docs/compiled.md).
cpdef _identifier(value)
cpdef detect_platform(dict context, dict properties)
cpdef bint is_zeroed(str advertising_id)
cpdef tuple _locale(value)
cpdef _screen_dpi(density)
cpdef dict user_data(dict doc, dict context, dict properties, str platform, list warnings, dict row=*, placeholders=*)
cpdef bint is_identifiable(dict user)

from domain.values cimport to_bool, to_int, to_text

# Module tables read per message.
cdef dict _DEVICE_TYPES, _OS_NAMES, _APP_PLATFORM, _LOCALES
