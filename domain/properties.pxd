# Cython declarations for properties.py (compiled with it; the .py stays the source): its
# functions are C functions too, called directly from here and from the modules that
# cimport them (mapping).
from domain.values cimport to_float, to_json_text, to_numeric, to_text

cdef dict _ITEM_TEMPLATE  # (a C-level dict: copied once per content item)

cpdef str _string_map(dict values, str path, list warnings, frozenset leave_out=*)
cpdef dict content_item(dict product, str path, list warnings)
cpdef dict map_properties(dict properties, str category, bint single_product, list warnings, dict row=*)
cpdef list _map_event_data(dict mapped, str category, bint single_product, list warnings, dict row, list items)

# Module tables read per message, as C-level objects (their lookups are direct).
cdef dict _EVENT_DATA
cdef frozenset PRODUCT_KEYS, _MAPPED_KEYS, _MAPPED_KEYS_SINGLE_PRODUCT
