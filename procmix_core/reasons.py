"""Quarantine reasons: machine-readable, one per way an input record can be unusable.

The reader (``procmix_core.readers``) gives them, ``prepare`` stores them in
the ledger and quarantine files, ``procmix tag`` in its quarantine file.
"""

MALFORMED_JSON = "malformed_json"
NOT_AN_OBJECT = "not_an_object"
INVALID_UTF8 = "invalid_utf8"
MISSING_TEXT = "missing_text"
NULL_TEXT = "null_text"
NON_STRING_TEXT = "non_string_text"
EMPTY_TEXT = "empty_text"
WHITESPACE_TEXT = "whitespace_text"
TOO_LARGE = "too_large"
CORRUPT_COMPRESSED_STREAM = "corrupt_compressed_stream"
CORRUPT_PARQUET = "corrupt_parquet"
MISSING_TEXT_COLUMN = "missing_text_column"
UNREADABLE_FILE = "unreadable_file"
