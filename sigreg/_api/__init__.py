"""The bodies of the public functions: check the arguments, resolve ``xp``, call below."""
