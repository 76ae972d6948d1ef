# Declarations for the compiled form of decoder.py (docs/compiled.md).
cpdef decode(bytes data)
