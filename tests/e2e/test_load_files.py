"""The backfill's FILE_LOADS path keeps JSON columns JSON (a load job once wrote them as strings).

Beam's FILE_LOADS writes rows with ``JsonRowWriter`` (``json.dumps`` per row) into
newline-delimited JSON files and loads them with load jobs. The emulator runs real load jobs
(``load_table_from_file``), so this test loads exactly what that writer writes and reads the
JSON columns back: without ``LoadFileRows`` a JSON column would hold an escaped string.
"""

from __future__ import annotations

import io
import uuid

import orjson
from apache_beam.io.gcp.bigquery_tools import JsonRowWriter
from google.cloud import bigquery

from adapters.provision import provision_tables
from domain.dead_letters import strip_raw
from domain.load_files import LoadFileRows
from schemas.tables import EVENTS
from tests.support.mapping import mapping_imported_row, mapping_track_event
from tests.support.stack import STACK_PROJECT


def load_file(rows: list[dict]) -> bytes:
    """The bytes Beam's FILE_LOADS writes for these rows (its JsonRowWriter)."""

    class Kept(io.BytesIO):
        def close(self) -> None:  # JsonRowWriter closes its handle; keep the bytes readable
            self.seek(0)

    handle = Kept()
    writer = JsonRowWriter(handle)
    for row in rows:
        writer.write(row)
    writer.close()
    return handle.read()


def loaded(bq_client, dataset: str, data: bytes) -> dict[str, dict]:
    table = f"{STACK_PROJECT}.{dataset}.{EVENTS}"
    config = bigquery.LoadJobConfig(source_format="NEWLINE_DELIMITED_JSON", write_disposition="WRITE_APPEND")
    bq_client.load_table_from_file(io.BytesIO(data), table, job_config=config).result()
    sql = f"""SELECT segment_message_id, JSON_TYPE(custom_data) AS kind, TO_JSON_STRING(custom_data) AS data,
                     (SELECT JSON_TYPE(i.custom_fields) FROM UNNEST(content_items) AS i LIMIT 1) AS item_kind
              FROM `{table}` WHERE `timestamp` > '2000-01-01'"""
    return {row["segment_message_id"]: dict(row) for row in bq_client.query(sql).result()}


def test_json_columns_load_as_json_values(local_stack, bq_client):
    dataset = f"load_files_{uuid.uuid4().hex[:8]}"
    provision_tables(bq_client, dataset)
    event = mapping_track_event(
        messageId="json-object",
        properties={"order_id": "o-1", "gift_wrap": True, "products": [{"sku": "s-1", "colour": "red"}]},
    )
    row = strip_raw(mapping_imported_row(event))
    assert isinstance(row["custom_data"], str)  # the pipeline carries JSON text
    as_text = {**row, "segment_message_id": "json-text", "id": "json-text"}

    rows = loaded(bq_client, dataset, load_file([LoadFileRows(EVENTS)(row), as_text]))

    fixed = rows["json-object"]
    assert (fixed["kind"], fixed["item_kind"]) == ("object", "object")
    assert orjson.loads(fixed["data"]) == orjson.loads(row["custom_data"])
    # What FILE_LOADS did before: the text lands as one JSON string, not an object.
    assert rows["json-text"]["kind"] not in ("object", "OBJECT")
