"""Where built models go: the OpenMetadata server (metadata_rest) or a JSON Lines file (file), both
answering the `Sink` protocol of base; the runner picks one from the workflow's `sink.type`."""
