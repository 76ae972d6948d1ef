# Cython declarations for values.py (compiled with it; the .py stays the source): C entry
# points, so that the compiled modules that cimport them call them directly.
cpdef to_json_text(value)
cpdef to_text(value)
cpdef to_numeric(value, bint allow_negative=*)
cpdef to_float(value, bint allow_negative=*)
cpdef to_int(value)
