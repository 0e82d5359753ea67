"""The workflow document: its pydantic models (config), reading YAML with positions and $VAR
expansion (loader), writing it back (writer), finding and masking its secrets (redact), and the
model-name filters. Imports nothing of the engine but errors."""
