"""The `sink:` block: where the run's entities go, OpenMetadata's REST API (`metadata-rest`) or a JSON Lines
file (`file`), told apart by `type`."""
from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, field_validator

from .rules import Strict


class MetadataRestSinkConfig(Strict):
    """The official sink's options; accepted so its configs load, the engine picks its own batching."""

    api_endpoint: str | None = None
    bulk_sink_batch_size: int | None = Field(default=None, ge=1, le=1000)
    enable_async_pipeline: bool | None = None
    async_pipeline_workers: int | None = None
    override_metadata: bool | None = None


class MetadataRestSink(Strict):
    type: Literal["metadata-rest"]
    config: MetadataRestSinkConfig = Field(default_factory=MetadataRestSinkConfig)


class FileSinkConfig(Strict):
    filename: str

    @field_validator("filename")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty (for example ./mlmodels.jsonl)")
        return value


class FileSink(Strict):
    """Offline sink: the create requests as JSON Lines, for users without a server."""

    type: Literal["file"]
    config: FileSinkConfig


Sink = Annotated[Union[MetadataRestSink, FileSink], Field(discriminator="type")]
