"""The Textual TUI. Only the CLI imports it; the core never does."""
