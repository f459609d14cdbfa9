"""The command line's subcommands: ``sigreg check`` and ``sigreg test PATH``."""
