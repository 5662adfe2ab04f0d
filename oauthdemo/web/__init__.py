"""The HTTP toolkit and safe HTML. Imports only core."""
