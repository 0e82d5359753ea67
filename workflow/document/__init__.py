"""The workflow document: its pydantic models, one module per block (rules shared by the blocks,
source, sink, security_config and server_config for OpenMetadata, workflow_file for the whole file),
reading YAML with positions and $VAR expansion (loader, variables), writing it back (writer), finding
and masking its secrets (redact), and the model-name filters. Imports nothing of the engine but errors."""
