"""What every fake API of the sandbox shares: the ``Env`` a provider is built with, key and
plan gates, rate windows, error bodies, body limits, the endpoint wrapper and small helpers.

A provider package imports from here and from ``..services``; nothing here imports a provider
(import-linter checks it), so a correction made here reaches every API at once.
"""
