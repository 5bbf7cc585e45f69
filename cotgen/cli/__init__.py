"""The command-line interface: thin commands that parse options and call library functions."""
