"""The terminal face of the workflow engine: a Textual wizard to author, check, write and run a workflow.

Everything that decides something lives in `workflow/` (and, for the form itself, in `tui.draft` and the
field table, mapping and `${VAR}` helpers it builds on: `tui.fields`, `tui.mapping`, `tui.references`, none
of which import Textual); the screens here only show state and forward what the user does.
"""
