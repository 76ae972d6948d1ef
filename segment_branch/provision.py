"""Create the importer's BigQuery dataset, tables and views, and (locally) Pub/Sub resources.

Idempotent: existing resources are left as they are. Tables come from ``schemas/``;
views from ``schemas/sql/*.sql`` (``{dataset}`` is replaced by the dataset's full name).

    python -m segment_branch.provision --project P --dataset segment_branch \
        [--partition-expiration-days 400] [--topic T --subscription S]
"""
from __future__ import annotations

import argparse
import graphlib
from pathlib import Path
from typing import Sequence

from google.api_core import exceptions
from google.cloud import bigquery

from schemas.tables import TABLES
from transforms.bq_client import make_client

SQL_DIR = Path(__file__).resolve().parent.parent / "schemas" / "sql"
PUBSUB_ACK_DEADLINE_SECONDS = 60


def _schema(fields: list[dict]) -> list[bigquery.SchemaField]:
    return [bigquery.SchemaField.from_api_repr(field) for field in fields]


def provision_tables(client: bigquery.Client, dataset: str, *, partition_expiration_days: int | None = None,
                     location: str | None = None) -> list[str]:
    """Create the dataset, tables and views that do not exist yet; return what was created."""
    created = []
    dataset_ref = bigquery.Dataset(f"{client.project}.{dataset}")
    if location:
        dataset_ref.location = location
    try:
        client.get_dataset(dataset_ref)
    except exceptions.NotFound:
        client.create_dataset(dataset_ref)
        created.append(dataset)
    for spec in TABLES.values():
        table = bigquery.Table(f"{client.project}.{dataset}.{spec.name}", schema=_schema(spec.fields))
        table.description = spec.description
        table.time_partitioning = bigquery.TimePartitioning(
            type_=bigquery.TimePartitioningType.DAY,
            field=spec.partition_field,
            expiration_ms=partition_expiration_days * 86_400_000 if partition_expiration_days else None,
        )
        table.require_partition_filter = spec.require_partition_filter
        table.clustering_fields = list(spec.clustering)
        try:
            client.get_table(table.reference)
        except exceptions.NotFound:
            client.create_table(table)
            created.append(spec.name)
    for path in _views_in_dependency_order():
        view = bigquery.Table(f"{client.project}.{dataset}.{path.stem}")
        view.view_query = path.read_text().replace("{dataset}", f"`{client.project}.{dataset}`")
        try:
            client.get_table(view.reference)
        except exceptions.NotFound:
            client.create_table(view)
            created.append(path.stem)
    return created


def _views_in_dependency_order() -> list[Path]:
    """View files, each after the views it reads (BigQuery refuses a view of a missing table)."""
    paths = {path.stem: path for path in sorted(SQL_DIR.glob("*.sql"))}
    texts = {name: path.read_text() for name, path in paths.items()}
    graph = {name: {other for other in paths if other != name and f"{{dataset}}.{other}" in text}
             for name, text in texts.items()}
    return [paths[name] for name in graphlib.TopologicalSorter(graph).static_order()]


def provision_pubsub(project: str, topic: str, subscription: str) -> None:
    """Create a topic and a pull subscription if missing (used against the local emulator)."""
    from google.cloud import pubsub_v1

    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    topic_path = publisher.topic_path(project, topic)
    subscription_path = subscriber.subscription_path(project, subscription)
    try:
        publisher.create_topic(name=topic_path)
    except exceptions.AlreadyExists:
        pass
    try:
        subscriber.create_subscription(
            name=subscription_path, topic=topic_path, ack_deadline_seconds=PUBSUB_ACK_DEADLINE_SECONDS)
    except exceptions.AlreadyExists:
        pass
    finally:
        subscriber.close()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project", required=True)
    parser.add_argument("--dataset", default="segment_branch")
    parser.add_argument("--location", default=None)
    parser.add_argument("--partition-expiration-days", type=int, default=None)
    parser.add_argument("--topic")
    parser.add_argument("--subscription")
    args = parser.parse_args(argv)
    created = provision_tables(make_client(args.project), args.dataset, location=args.location,
                               partition_expiration_days=args.partition_expiration_days)
    print(f"created: {', '.join(created) or 'nothing (all present)'}")
    if args.topic and args.subscription:
        provision_pubsub(args.project, args.topic, args.subscription)
        print(f"pubsub: topic {args.topic}, subscription {args.subscription}")


if __name__ == "__main__":
    main()
