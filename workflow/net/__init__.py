"""Network plumbing shared by every client: one retry policy (retry) and cancellable deadlines
(deadline). Imports nothing of the engine but errors."""
