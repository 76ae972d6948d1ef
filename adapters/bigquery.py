"""BigQuery clients that follow ``BIGQUERY_EMULATOR_HOST``.

google-cloud-bigquery honours that variable by itself, but Beam's ``WriteToBigQuery``
builds its own clients and ignores it. Beam accepts one through ``test_client=``, and
that client travels inside the pickled transform, so it must survive pickling: a live
``Client`` holds an HTTP session and credentials, which do not.
"""

from __future__ import annotations

import os

from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

EMULATOR_ENV = "BIGQUERY_EMULATOR_HOST"


class EmulatorClient(bigquery.Client):
    """A ``bigquery.Client`` bound to an emulator endpoint, with no credentials."""

    def __init__(self, project: str, endpoint: str) -> None:
        # The endpoint is explicit, not read from the env var, so an unpickled copy talks
        # to the same server whatever the unpickling process's environment says.
        super().__init__(
            project=project, credentials=AnonymousCredentials(), client_options=ClientOptions(api_endpoint=endpoint)
        )
        self.endpoint = endpoint

    def __reduce__(self):
        # Rebuild from project + endpoint instead of pickling the HTTP session.
        return EmulatorClient, (self.project, self.endpoint)


def emulator_client(project: str) -> EmulatorClient | None:
    """The emulator client if ``BIGQUERY_EMULATOR_HOST`` is set, else None.

    Pass it to ``WriteToBigQuery(test_client=...)``; None there means "use BigQuery".
    """
    endpoint = os.environ.get(EMULATOR_ENV)
    return EmulatorClient(project, endpoint) if endpoint else None


def make_client(project: str) -> bigquery.Client:
    """A client for the emulator when ``BIGQUERY_EMULATOR_HOST`` is set, else for BigQuery."""
    return emulator_client(project) or bigquery.Client(project=project)
