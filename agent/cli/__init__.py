"""The `footfall-agent` command line: `main` dispatches to one module per subcommand."""
