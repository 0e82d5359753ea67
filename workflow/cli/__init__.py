"""The command line, `metadata` and its subcommands: argument parsing, printing progress and
reports, signals and exit codes. A face over the engine, like tui/."""
