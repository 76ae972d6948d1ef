# Declarations for the compiled form of values.py (docs/compiled.md).
cpdef to_json_text(value)
cpdef to_text(value)
cpdef to_numeric(value, bint allow_negative=*)
cpdef to_float(value, bint allow_negative=*)
cpdef to_int(value)
cpdef to_bool(value)
