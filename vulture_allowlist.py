"""Names vulture reports as unused that stay, each with why (``make lint`` runs
``vulture src/causalcam tests benchmarks vulture_allowlist.py``).

Vulture sees no call of a function registered by a decorator (a typer command, a FastAPI
route), of a protocol method's parameters, or of an attribute a library reads.
"""

# ruff: noqa
# type: ignore

from causalcam.app import browser, server
from causalcam.cli import _app, explain, pipeline, training
from causalcam.explain import compat, engine, methods
from causalcam.training import recipes

# typer registers these by decorator: the commands and the app callback with its option
_app._main
_.show_version
explain.demo
pipeline.localise
pipeline.data_import
pipeline.data_fetch
pipeline.data_verify
pipeline.data_pack
training.train_command
training.train_all_command

# FastAPI registers these by decorator: error handlers and routes of the page's JSON API
server.user_error
server.internal_error
server.one_slice

# selenium reads it: the Chromium binary the driver starts
_.binary_location

# the context-manager protocol: __exit__(exc_type, exc, tb)
_.exc_type
_.exc
_.tb

# progressive resizing (recipe early_size, early_share): the side of an epoch's crops, which
# the training loop is to read
recipes.Recipe.crop_size

# deprecated, and removed with the engine's next change (src/causalcam/explain/)
methods.CausalOptions.all_variants
