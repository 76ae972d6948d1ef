# Declarations for the compiled form of properties.py (docs/compiled.md).
from domain.values cimport to_float, to_json_text, to_numeric, to_text

cdef dict _ITEM_TEMPLATE

cpdef str _string_map(dict values, str path, list warnings, frozenset leave_out=*)
cpdef dict content_item(dict product, str path, list warnings)
cpdef dict map_properties(dict properties, str category, bint single_product, list warnings, dict row=*)
cpdef list _map_event_data(dict mapped, str category, bint single_product, list warnings, dict row, list items)

# Module tables read per message.
cdef dict _EVENT_DATA
cdef frozenset PRODUCT_KEYS, _MAPPED_KEYS, _MAPPED_KEYS_SINGLE_PRODUCT
