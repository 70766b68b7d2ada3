"""The service floor: what the dashboard and the command line share above the library.

Jobs and their worker processes (``jobs``, ``worker``, ``queue``), and what a long-lived server
process must do to keep Keras' state its own (``keras_state``). Pages and the CLI import from here
and from ``viz``; nothing below imports from here.
"""
