"""The embedded authorization server. Imports core and web."""
