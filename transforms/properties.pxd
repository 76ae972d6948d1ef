# Cython declarations for properties.py (compiled with it; the .py stays the source).
from transforms.values cimport to_float, to_json_text, to_numeric, to_text

cpdef dict map_properties(dict properties, str category, bint single_product, list warnings, dict row=*)

cdef dict _ITEM_TEMPLATE  # (a C-level dict: copied once per content item)
