"""The bottom layer: errors, JOSE, tables, paths, text, events, steps. Imports nothing of ours."""
