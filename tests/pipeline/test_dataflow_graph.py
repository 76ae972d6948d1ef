"""The jobs' graphs build and serialize for DataflowRunner, without credentials or a network.

``--dry_run=True`` (Beam's TestOptions) only skips the GCS soft-delete probe that option
validation makes for ``--temp_location``; without it the probe retries credentials for
minutes. Nothing here runs a job.

The top-level transform names are the ones dataflow/README.md tells operators never to
rename: Dataflow matches transforms by name on ``--update``, so a rename silently drops
state (the dedup step) or fails the update. Renaming one fails this test first.
"""

from __future__ import annotations

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.portability.api import beam_runner_api_pb2

from adapters.bigquery import EMULATOR_ENV, EmulatorClient
from beam_jobs import backfill, daily_export, segment_import
from beam_jobs.options import WRITE_METHODS
from tests.support import REPO

README = REPO / "dataflow" / "README.md"

DATAFLOW_FLAGS = [
    "--dry_run=True",
    "--runner=DataflowRunner",
    "--project=my-proj",
    "--region=us-central1",
    "--temp_location=gs://bucket/tmp",
    # Explicit, as on Dataflow: without emulators the jobs refuse to fall back to the bundled one.
    f"--app_config={REPO / 'domain' / 'default_app_config.yaml'}",
]

IMPORT_STEPS = [
    "RouteSegmentMessages",
    "WriteEvents",
    "FlattenDeadLetters",
    "WriteRejectedEvents",
    "WriteTouches",
    "FlattenImportStats",
    "WriteImportStats",
]
STREAMING_STEPS = ["ReadSegmentMessages", *IMPORT_STEPS]
BACKFILL_STEPS = ["ReadArchive0", "FlattenArchives", *IMPORT_STEPS]
# The steps with state: their full names must survive an update or their state is lost.
STATE_STEPS = {
    "RouteSegmentMessages/DeduplicateEvents/FirstCopyPerKey/KeepFirstCopy",
    "RouteSegmentMessages/AttributeEvents/DirectTouches",
    "RouteSegmentMessages/AttributeEvents/FirstHop",
    "RouteSegmentMessages/AttributeEvents/LinkedTouches",
    "RouteSegmentMessages/AttributeEvents/Decide",
    "RouteSegmentMessages/AttributeEvents/TailTouchesTable/EveryInterval",
}
# The sinks' batches (GroupIntoBatches before each streaming insert): Beam's step names.
SINK_BATCH_STEPS = {
    f"{sink}/Insert/BatchPerDestination/GroupIntoBatches/ParDo(_GroupIntoBatchesDoFn)"
    for sink in ("WriteEvents", "WriteRejectedEvents", "WriteTouches", "WriteImportStats")
}


@pytest.fixture(autouse=True)
def _no_emulator_no_credentials(monkeypatch):
    monkeypatch.delenv(EMULATOR_ENV, raising=False)
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)


@pytest.fixture
def archive(tmp_path) -> str:
    # A local file: ReadFromText matches its pattern while the graph is built.
    path = tmp_path / "segment.jsonl"
    path.write_text("{}\n")
    return str(path)


def _streaming(*extra: str) -> beam.Pipeline:
    options = PipelineOptions(
        [*DATAFLOW_FLAGS, "--streaming", "--subscription=projects/my-proj/subscriptions/segment", *extra]
    )
    pipeline = beam.Pipeline(options=options)
    segment_import.build_pipeline(pipeline, options)
    return pipeline


def _backfill(archive: str, *extra: str) -> beam.Pipeline:
    options = PipelineOptions([*DATAFLOW_FLAGS, f"--input={archive}", *extra])
    pipeline = beam.Pipeline(options=options)
    backfill.build_pipeline(pipeline, options)
    return pipeline


def _top_level_names(proto: beam_runner_api_pb2.Pipeline) -> list[str]:
    (root,) = proto.root_transform_ids
    return [proto.components.transforms[t].unique_name for t in proto.components.transforms[root].subtransforms]


def _stateful_steps(proto: beam_runner_api_pb2.Pipeline) -> set[str]:
    steps = set()
    for transform in proto.components.transforms.values():
        if transform.spec.urn == "beam:transform:pardo:v1":
            payload = beam_runner_api_pb2.ParDoPayload.FromString(transform.spec.payload)
            if payload.state_specs or payload.timer_family_specs:
                steps.add(transform.unique_name)
    return steps


def _key_coders_of_stateful_steps(pipeline: beam.Pipeline) -> dict[str, object]:
    """Each stateful step's key coder, from the key type its input declares (what Beam checks
    when it builds the step; Dataflow addresses a key's state by the key's encoded bytes)."""
    from apache_beam import coders
    from apache_beam.transforms import userstate

    found = {}

    class Visitor(beam.pipeline.PipelineVisitor):
        def visit_transform(self, node):
            transform = node.transform
            if isinstance(transform, beam.ParDo) and userstate.is_stateful_dofn(transform.dofn):
                element_type = node.main_inputs["None"].element_type
                coder = coders.registry.get_coder(element_type)
                found[node.full_label] = coder.key_coder() if coder.is_kv_coder() else None

    pipeline.visit(Visitor())
    return found


def _bigquery_test_clients(pipeline: beam.Pipeline) -> list[object]:
    """The ``test_client`` of every BigQuery sink in the graph (ours, Beam's, and their DoFns)."""
    clients = []

    class Visitor(beam.pipeline.PipelineVisitor):
        def visit_transform(self, node):
            self.enter_composite_transform(node)

        def enter_composite_transform(self, node):
            transform = node.transform
            for owner in (transform, getattr(transform, "fn", None)):
                for attr in ("_test_client", "test_client"):
                    if hasattr(owner, attr):
                        clients.append(getattr(owner, attr))

    pipeline.visit(Visitor())
    return clients


def test_streaming_graph_serializes_for_dataflow_with_the_stable_step_names():
    proto = _streaming().to_runner_api()
    assert _top_level_names(proto) == STREAMING_STEPS
    assert _stateful_steps(proto) == STATE_STEPS | SINK_BATCH_STEPS


@pytest.mark.parametrize("read_touches", ["true", "false"])
def test_every_stateful_step_has_a_deterministic_key_coder(read_touches, archive):
    """A key coder that is not deterministic (Beam's fallback for untyped keys) may encode one key
    two ways, and so split its state in two on Dataflow: every step feeding a stateful step
    declares its key type."""
    from apache_beam.coders.coders import FastPrimitivesCoder

    for pipeline in (
        _streaming(f"--read_touches_table={read_touches}"),
        _backfill(archive, f"--read_touches_table={read_touches}"),
    ):
        coders = _key_coders_of_stateful_steps(pipeline)
        assert set(coders) == _stateful_steps(pipeline.to_runner_api())
        untyped = {
            name: coder
            for name, coder in coders.items()
            if coder is None or isinstance(coder, FastPrimitivesCoder) or not coder.is_deterministic()
        }
        assert untyped == {}
    assert set(_key_coders_of_stateful_steps(_streaming())) == STATE_STEPS | SINK_BATCH_STEPS


def test_backfill_graph_serializes_for_dataflow_with_the_stable_step_names(archive):
    proto = _backfill(archive).to_runner_api()
    assert _top_level_names(proto) == BACKFILL_STEPS
    assert _stateful_steps(proto) == set()  # batch dedup groups, and batch sinks batch per bundle


def test_daily_export_graph_serializes_for_dataflow():
    options = PipelineOptions(
        [
            *DATAFLOW_FLAGS,
            "--all_apps",
            "--export_date=auto",
            "--output=gs://bucket/exports",
        ]
    )
    pipeline = beam.Pipeline(options=options)
    daily_export.build_pipeline(pipeline, options)
    names = _top_level_names(pipeline.to_runner_api())
    assert names == ["Run", "PlanDays", "ExportDays"]


def test_the_dataflow_readme_lists_every_stable_step_name():
    text = README.read_text()
    for name in {*STREAMING_STEPS, *BACKFILL_STEPS, *STATE_STEPS, *SINK_BATCH_STEPS}:
        assert f"`{name}`" in text, name


def test_no_emulator_client_reaches_the_sinks_without_bigquery_emulator_host(archive):
    for pipeline in (_streaming(), _backfill(archive)):
        clients = _bigquery_test_clients(pipeline)
        assert len(clients) >= 3  # events, rejected_events, import_stats
        assert clients == [None] * len(clients)


def test_the_emulator_client_is_injected_when_bigquery_emulator_host_is_set(monkeypatch):
    # The control for the test above: the check does see an injected client.
    monkeypatch.setenv(EMULATOR_ENV, "http://localhost:9050")
    clients = _bigquery_test_clients(_streaming())
    assert clients and all(isinstance(c, EmulatorClient) for c in clients)


@pytest.mark.parametrize(
    "job,method",
    [
        ("segment_import", "STREAMING_INSERTS"),
        ("backfill", "STREAMING_INSERTS"),
        ("backfill", "FILE_LOADS"),
    ],
)
def test_each_documented_write_method_builds_for_dataflow(job, method, archive):
    pipeline = _streaming if job == "segment_import" else (lambda *extra: _backfill(archive, *extra))
    names = _top_level_names(pipeline(f"--bq_write_method={method}").to_runner_api())
    assert "WriteEvents" in names


def test_write_method_choices_are_the_ones_this_test_covers():
    assert set(WRITE_METHODS) == {"STREAMING_INSERTS", "FILE_LOADS"}


def test_streaming_graph_with_feeds_adds_only_new_stable_steps(tmp_path):
    """Turning on webhooks and the feed adds steps (an --update may add steps) and keeps every
    existing name and stateful step as it was."""
    import yaml

    config = yaml.safe_load((REPO / "domain" / "default_app_config.yaml").read_text())
    config["apps"][0]["webhooks"] = [{"id": "partner", "url": "https://partner.example/hook"}]
    path = tmp_path / "apps.yaml"
    path.write_text(yaml.safe_dump(config))
    proto = _streaming(f"--app_config={path}", "--feed_topic=projects/my-proj/topics/feed").to_runner_api()
    names = _top_level_names(proto)
    assert [n for n in names if n in STREAMING_STEPS] == STREAMING_STEPS
    assert [n for n in names if n not in STREAMING_STEPS] == [
        "DeliverWebhooks",
        "WriteWebhookFailures",
        "WriteWebhookStats",
        "PublishFeed",
    ]
    assert _stateful_steps(proto) >= STATE_STEPS
