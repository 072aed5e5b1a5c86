"""The installer's Textual TUI: a page per question, validated inline by the InstallConfig model."""
