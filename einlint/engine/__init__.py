"""The engine: files -> bytes -> text -> candidate statements -> rules -> diagnostics and fixes."""
