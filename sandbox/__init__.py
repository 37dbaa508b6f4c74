"""A stand-alone, strict HTTP simulator of the booking platforms (see docs/platforms.md).

It imports nothing from the project: it is the "real world" our adapters talk to.
"""
